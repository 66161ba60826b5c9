{#- One wide row per customer known on D: every segment, strategy, stage and tier, with the inputs and the
    thresholds that decided each, so an account manager can see why (SPEC 4.7-4.9). -#}
with

customers as (

    select customer_id, customer_type from {{ ref('dim_customers') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

profitability as (

    select * from {{ ref('customer_profitability') }}

),

wallet as (

    select * from {{ ref('int_customer_wallet_rollup') }}

),

clv as (

    select customer_id, p_alive, clv_12m from {{ ref('customer_clv') }}

),

{# spend in the last half window (180 days ending on D) and the half window before it, and whether a
   purchase in the recent window came after a long gap (win-back) #}
recent_spend as (

    select
        customer_id,
        sum(case when {{ in_window('purchase_date', var('lifecycle_half_window_days')) }} then revenue else 0 end)
            as spend_recent,
        sum(
            case
                when
                    {{ in_window('purchase_date', 2 * var('lifecycle_half_window_days')) }}
                    and not {{ in_window('purchase_date', var('lifecycle_half_window_days')) }}
                    then revenue
                else 0
            end
        ) as spend_prior,
        max(
            case
                when
                    {{ in_window('purchase_date', var('lifecycle_recent_days')) }}
                    and {{ dbt.datediff('previous_purchase_date', 'purchase_date', 'day') }}
                    > {{ var('lifecycle_winback_gap_days') }}
                    then 1
                else 0
            end
        ) as returned_after_gap

    from (
        select
            customer_id,
            purchase_date,
            revenue,
            lag(purchase_date) over (partition by customer_id order by purchase_date) as previous_purchase_date
        from {{ ref('int_customer_purchase_days') }}
    ) as days
    group by customer_id

),

{# thresholds of the RAD rules: medians over active customers (revenue in the value window) #}
active as (

    select
        wallet.wallet_headroom,
        wallet.wallet_total
    from profitability
    inner join wallet on profitability.customer_id = wallet.customer_id
    where profitability.revenue_365d > 0

),

thresholds as (

    select
        {{ median_of('active', 'wallet_headroom') }} as median_headroom_active,
        {{ median_of('active', 'wallet_total') }} as median_wallet_active

),

{# value tiers: position by clv_12m among customers with a purchase (ties by customer_id) #}
clv_ranked as (

    select
        clv.customer_id,
        cast(row_number() over (order by clv.clv_12m desc, clv.customer_id) as {{ type_double() }}) / count(*) over ()
            as clv_rank_share
    from clv

),

joined as (

    select
        customers.customer_id,
        customers.customer_type,
        rfm.customer_id is not null as has_purchase,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.fm_score,
        rfm.rfm_segment,
        rfm.first_purchase_date,
        rfm.last_purchase_date,
        rfm.days_since_last_purchase,
        case
            when rfm.frequency > 0 then cast(rfm.recency_days as {{ type_double() }}) / rfm.frequency
        end as mean_gap_days,
        profitability.revenue_365d,
        profitability.profit_contribution_365d,
        profitability.purchase_decile,
        profitability.value_class,
        wallet.wallet_total,
        wallet.share_of_wallet,
        wallet.wallet_headroom,
        wallet.has_known_wallet,
        thresholds.median_headroom_active,
        thresholds.median_wallet_active,
        coalesce(recent_spend.spend_recent, 0) as spend_recent,
        coalesce(recent_spend.spend_prior, 0) as spend_prior,
        coalesce(recent_spend.returned_after_gap, 0) = 1 as returned_after_gap,
        clv.p_alive,
        clv.clv_12m,
        clv_ranked.clv_rank_share

    from customers
    cross join thresholds
    left join rfm on customers.customer_id = rfm.customer_id
    left join profitability on customers.customer_id = profitability.customer_id
    left join wallet on customers.customer_id = wallet.customer_id
    left join recent_spend on customers.customer_id = recent_spend.customer_id
    left join clv on customers.customer_id = clv.customer_id
    left join clv_ranked on customers.customer_id = clv_ranked.customer_id

),

classified as (

    select
        joined.*,

        {# SPEC 4.7: first rule that applies; rad_reason is derived from it in `explained` #}
        case
            when value_class = 3 then 'reduce_cost'
            when value_class = 1 and share_of_wallet >= {{ var('rad_retain_min_share_of_wallet') }} then 'retain'
            when value_class in (1, 2) and share_of_wallet < {{ var('rad_retain_min_share_of_wallet') }}
                and wallet_headroom >= median_headroom_active then 'develop'
            when coalesce(revenue_365d, 0) <= 0 and has_known_wallet
                and wallet_total >= median_wallet_active then 'acquire'
            else 'maintain'
        end as rad_strategy,

        {# SPEC 4.8: first rule that applies, one code per rule (decline has three); the stage and the reason
           are derived from it in `explained` #}
        case
            when not has_purchase then 'prospect'
            when days_since_last_purchase > {{ var('lifecycle_churn_days') }} then 'churned'
            when returned_after_gap then 'win_back'
            when {{ in_window('first_purchase_date', var('lifecycle_recent_days')) }} then 'new'
            when spend_recent <= {{ var('lifecycle_decline_ratio') }} * spend_prior then 'decline_spend'
            when days_since_last_purchase > {{ var('lifecycle_decline_gap_multiple') }} * mean_gap_days
                then 'decline_gap'
            when p_alive < {{ var('lifecycle_decline_p_alive') }} then 'decline_p_alive'
            when spend_recent >= {{ var('lifecycle_growth_ratio') }} * spend_prior then 'growth'
            else 'mature'
        end as lifecycle_rule,

        {# SPEC 4.9 #}
        case
            when clv_12m is null or clv_12m <= 0 then 'D'
            when clv_rank_share <= {{ var('tier_a_plus_share') }} then 'A+'
            when clv_rank_share <= {{ var('tier_a_share') }} then 'A'
            when clv_rank_share <= {{ var('tier_b_share') }} then 'B'
            else 'C'
        end as value_tier

    from joined

),

explained as (

    select
        classified.*,
        {#- two reasons are string literals longer than the line limit: splitting them would change the text #}
        case rad_strategy
            when 'reduce_cost' then 'value_class = 3 (unprofitable in the value window)'
            when 'retain' then 'value_class = 1 and share_of_wallet >= rad_retain_min_share_of_wallet'
            when 'develop' then 'value_class in (1, 2), share_of_wallet < rad_retain_min_share_of_wallet and wallet_headroom >= median_headroom_active'  -- noqa: LT05
            when 'acquire' then 'no revenue in the value window and a known (survey or installed-base) wallet >= median_wallet_active'  -- noqa: LT05
            else 'no other rule applies'
        end as rad_reason,
        case when lifecycle_rule like 'decline%' then 'decline' else lifecycle_rule end as lifecycle_stage,
        case lifecycle_rule
            when 'prospect' then 'no purchase on or before as_of_date'
            when 'churned' then 'days_since_last_purchase > lifecycle_churn_days'
            when 'win_back' then 'purchase in the last lifecycle_recent_days after a gap > lifecycle_winback_gap_days'
            when 'new' then 'first purchase in the last lifecycle_recent_days'
            when 'decline_spend' then 'spend_recent <= lifecycle_decline_ratio x spend_prior'
            when 'decline_gap' then 'days_since_last_purchase > lifecycle_decline_gap_multiple x mean_gap_days'
            when 'decline_p_alive' then 'p_alive < lifecycle_decline_p_alive'
            when 'growth' then 'spend_recent >= lifecycle_growth_ratio x spend_prior'
            else 'no other rule applies'
        end as lifecycle_reason

    from classified

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(customer_type as {{ type_text() }}) as customer_type,
        cast(rfm_segment as {{ type_text() }}) as rfm_segment,
        cast(r_score as integer) as r_score,
        cast(f_score as integer) as f_score,
        cast(m_score as integer) as m_score,
        cast(fm_score as integer) as fm_score,
        cast(value_class as integer) as value_class,
        cast(purchase_decile as integer) as purchase_decile,
        cast(revenue_365d as decimal(18, 2)) as revenue_365d,
        cast(profit_contribution_365d as decimal(18, 2)) as profit_contribution_365d,
        cast(wallet_total as decimal(18, 2)) as wallet_total,
        cast(share_of_wallet as {{ type_double() }}) as share_of_wallet,
        cast(wallet_headroom as decimal(18, 2)) as wallet_headroom,
        cast(has_known_wallet as boolean) as has_known_wallet,
        cast(median_headroom_active as decimal(18, 3)) as median_headroom_active,
        cast(median_wallet_active as decimal(18, 3)) as median_wallet_active,
        cast(rad_strategy as {{ type_text() }}) as rad_strategy,
        cast(rad_reason as {{ type_text() }}) as rad_reason,
        cast(first_purchase_date as date) as first_purchase_date,
        cast(last_purchase_date as date) as last_purchase_date,
        cast(days_since_last_purchase as integer) as days_since_last_purchase,
        cast(mean_gap_days as {{ type_double() }}) as mean_gap_days,
        cast(spend_recent as decimal(18, 2)) as spend_last_half_window,
        cast(spend_prior as decimal(18, 2)) as spend_prior_half_window,
        cast(lifecycle_stage as {{ type_text() }}) as lifecycle_stage,
        cast(lifecycle_reason as {{ type_text() }}) as lifecycle_reason,
        cast(p_alive as {{ type_double() }}) as p_alive,
        cast(clv_12m as {{ type_double() }}) as clv_12m,
        cast(clv_rank_share as {{ type_double() }}) as clv_rank_share,
        cast(value_tier as {{ type_text() }}) as value_tier,
        {{ as_of_date() }} as as_of_date

    from explained

)

select * from final
