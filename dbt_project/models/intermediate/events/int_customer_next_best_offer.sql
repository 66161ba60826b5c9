{#- Next-best offer per known customer as of D (SPEC 4.11): among the rules of category_affinity whose
    antecedent the customer bought in the window, the consequent with the highest lift that the customer
    did not buy in the window (macros/events.sql: ranked_offers). No offer: no_offer_reason says why. -#}
with

customers as (

    select customer_id from {{ ref('dim_customers') }}

),

baskets as (

    {{ customer_baskets() }}

),

buyers as (

    select distinct customer_id from baskets

),

ranked as (

    {{ ranked_offers('baskets') }}

),

final as (

    select
        cast(customers.customer_id as {{ type_text() }}) as customer_id,
        cast(ranked.consequent_category as {{ type_text() }}) as offer_category,
        cast(ranked.antecedent_category as {{ type_text() }}) as offer_because_of_category,
        cast(ranked.lift as {{ type_double() }}) as offer_lift,
        cast(ranked.confidence as {{ type_double() }}) as offer_confidence,
        cast(case
            when ranked.customer_id is not null then null
            when buyers.customer_id is null then 'no_purchase_in_window'
            else 'no_rule_to_an_unbought_category'
        end as {{ type_text() }}) as no_offer_reason,
        {{ as_of_date() }} as as_of_date

    from customers
    left join ranked on ranked.customer_id = customers.customer_id and ranked.offer_rank = 1
    left join buyers on buyers.customer_id = customers.customer_id

)

select * from final
