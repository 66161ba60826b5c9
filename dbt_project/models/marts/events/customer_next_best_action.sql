{#- The inbound next-best action (SPEC 4.11, seed 003): for every known customer as of D, what the person who
    answers the customer's own call or message should do, why, and the scores behind it.
    1. service_recovery: the customer has a high_value_complaint event on D (value tier A+/A, a complaint or a
       poor satisfaction score in the last var('event_complaint_days') days). Fix that first: no sales offer.
    2. offer: the next-best offer of the association rules, ranked as for the campaign audience
       (macros/events.sql: ranked_offers), but never in a category the customer complained about in the last
       var('inbound_complaint_days') days: a product of it returned for a complaint reason
       (var('inbound_complaint_return_reasons'); service interactions carry no category).
    3. no_offer: no rule leads to an allowed category; action_reason says which case.
    No outbound consent is needed: the customer started the contact. expected_response_rate takes the learned
    outbound rate r of the customer's type for a wallet_opportunity on its best channel and multiplies its odds
    by m = var('inbound_response_multiplier') (seed 003: about ten times likelier): m r / (1 + (m - 1) r), which
    is about m r for a small r and stays below 1 (a plain m r would be 1 for every r >= 1/m);
    expected_value = max(clv_12m, 0), as in the campaign audience; priority = rate x value. -#}
with

segments as (

    select * from {{ ref('customer_segments') }}

),

baskets as (

    {{ customer_baskets() }}

),

buyers as (

    select distinct customer_id from baskets

),

complained as (

    select distinct
        returns.customer_id,
        products.category
    from {{ ref('fct_returns') }} as returns
    inner join {{ ref('int_crm__products_validated') }} as products
        on products.product_id = returns.product_id and products.rejection_reason is null
    where
        {{ in_window('returns.return_date', var('inbound_complaint_days')) }}
        and returns.reason in (
            {%- for r in var('inbound_complaint_return_reasons') %}
            '{{ r }}'{{ "," if not loop.last }}
            {%- endfor %}
        )

),

complaint_counts as (

    select customer_id, count(*) as complained_categories
    from complained
    group by customer_id

),

ranked as (

    {{ ranked_offers('baskets', 'complained') }}

),

any_candidate as (

    {#- the offers there would be without the complaint rule: tells "only complained categories" apart #}
    select distinct customer_id from ({{ ranked_offers('baskets') }}) as unrestricted

),

recovery as (

    select
        customer_id,
        max(reference_id) as complaint_reference_id,
        max(reference_date) as complaint_date
    from {{ ref('customer_events') }}
    where event_type = 'high_value_complaint'
    group by customer_id

),

rates as (

    select
        customer_type,
        max(response_rate) as outbound_rate
    from {{ ref('int_campaign_response_rates') }}
    where event_type = 'wallet_opportunity'
    group by customer_type

),

actions as (

    select
        segments.*,
        ranked.consequent_category,
        ranked.antecedent_category,
        ranked.lift,
        ranked.confidence,
        recovery.complaint_reference_id,
        recovery.complaint_date,
        coalesce(complaint_counts.complained_categories, 0) as complained_categories,
        case
            when recovery.customer_id is not null then 'service_recovery'
            when ranked.customer_id is not null then 'offer'
            else 'no_offer'
        end as action,
        case
            when recovery.customer_id is not null then 'high_value_complaint'
            when ranked.customer_id is not null then 'affinity_rule'
            when any_candidate.customer_id is not null then 'only_complained_categories'
            when buyers.customer_id is null then 'no_purchase_in_window'
            else 'no_rule_to_an_unbought_category'
        end as action_reason,
        coalesce(rates.outbound_rate, {{ var('response_default_rate', 0.05) }}) as outbound_rate

    from segments
    left join ranked on ranked.customer_id = segments.customer_id and ranked.offer_rank = 1
    left join any_candidate on any_candidate.customer_id = segments.customer_id
    left join buyers on buyers.customer_id = segments.customer_id
    left join recovery on recovery.customer_id = segments.customer_id
    left join complaint_counts on complaint_counts.customer_id = segments.customer_id
    left join rates on rates.customer_type = segments.customer_type

),

rated as (

    select
        actions.*,
        {{ var('inbound_response_multiplier') }} * outbound_rate
        / (1 + ({{ var('inbound_response_multiplier') }} - 1) * outbound_rate) as inbound_rate
    from actions

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(customer_type as {{ type_text() }}) as customer_type,
        cast(action as {{ type_text() }}) as action,
        cast(action_reason as {{ type_text() }}) as action_reason,
        cast(case when action = 'offer' then consequent_category end as {{ type_text() }}) as offer_category,
        cast(case when action = 'offer' then antecedent_category end as {{ type_text() }})
            as offer_because_of_category,
        cast(case when action = 'offer' then lift end as {{ type_double() }}) as offer_lift,
        cast(case when action = 'offer' then confidence end as {{ type_double() }}) as offer_confidence,
        cast(complained_categories as integer) as complained_categories_30d,
        cast(complaint_reference_id as {{ type_text() }}) as complaint_reference_id,
        cast(complaint_date as date) as complaint_date,
        cast(inbound_rate as {{ type_double() }}) as expected_response_rate,
        cast(case when clv_12m > 0 then clv_12m else 0 end as {{ type_double() }}) as expected_value,
        cast(inbound_rate * case when clv_12m > 0 then clv_12m else 0 end as {{ type_double() }}) as priority,
        cast(rfm_segment as {{ type_text() }}) as rfm_segment,
        cast(value_tier as {{ type_text() }}) as value_tier,
        cast(lifecycle_stage as {{ type_text() }}) as lifecycle_stage,
        cast(rad_strategy as {{ type_text() }}) as rad_strategy,
        cast(clv_12m as {{ type_double() }}) as clv_12m,
        cast(p_alive as {{ type_double() }}) as p_alive,
        cast(share_of_wallet as {{ type_double() }}) as share_of_wallet,
        {{ as_of_date() }} as as_of_date

    from rated

)

select * from final
