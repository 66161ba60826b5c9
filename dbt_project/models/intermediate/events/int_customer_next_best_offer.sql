{#- Next-best offer per known customer as of D (SPEC 4.11): among the rules of category_affinity whose
    antecedent the customer bought in the window, the consequent with the highest lift that the customer
    did not buy in the window. Ties: higher confidence, then consequent and antecedent by name, so every
    engine picks the same offer. No offer: no_offer_reason says why. -#}
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

candidates as (

    select
        bought.customer_id,
        rules.antecedent_category,
        rules.consequent_category,
        rules.lift,
        rules.confidence

    from baskets as bought
    inner join {{ ref('category_affinity') }} as rules on rules.antecedent_category = bought.category
    left join baskets as already
        on already.customer_id = bought.customer_id
        and already.category = rules.consequent_category
    where already.customer_id is null

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_id
            order by lift desc, confidence desc, consequent_category, antecedent_category
        ) as offer_rank

    from candidates

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
