{%- set value_window_days = var('value_window_days') -%}
{%- set rfm_window_days = var('rfm_window_days') -%}

with

purchase_days as (

    select * from {{ ref('int_customer_purchase_days') }}

),

segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

{# BTYD activity summary (SPEC 4.1): the purchase day is the unit, the first purchase day is not a repeat #}
customer_days as (

    select
        customer_id,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        sum(orders) as orders_lifetime,
        sum(revenue) as revenue_lifetime,
        sum(case when purchase_day_index > 1 then revenue else 0 end) as repeat_revenue,
        sum(case when {{ in_window('purchase_date', value_window_days) }} then orders else 0 end) as orders_365d,
        sum(case when {{ in_window('purchase_date', value_window_days) }} then revenue else 0 end) as revenue_365d,
        sum(case when {{ in_window('purchase_date', rfm_window_days) }} then 1 else 0 end) as purchase_days_window,
        sum(case when {{ in_window('purchase_date', rfm_window_days) }} then revenue else 0 end) as revenue_window

    from purchase_days
    group by customer_id

),

activity as (

    select
        customer_days.*,
        purchase_days - 1 as frequency,
        {{ dbt.datediff('first_purchase_date', 'last_purchase_date', 'day') }}
            as recency_days,
        {{ dbt.datediff('first_purchase_date', as_of_date(), 'day') }}
            as tenure_days,
        {{ dbt.datediff('last_purchase_date', as_of_date(), 'day') }}
            as days_since_last_purchase

    from customer_days

),

{# ties share the lowest rank (rank(), not row_number()); R ranks by days descending so the most recent
   customers get the highest rank and score 5 (SPEC 4.2) #}
ranked as (

    select
        activity.*,
        rank() over (order by days_since_last_purchase desc) as r_rank,
        rank() over (order by purchase_days_window) as f_rank,
        rank() over (order by revenue_window) as m_rank,
        count(*) over () as n_customers

    from activity

),

{# score = least(5, 1 + floor(5 * (rank - 1) / (n - 1))), 5 when n = 1. Integer floor division written as
   (a - mod(a, b)) / b, which is an exact integer on every engine (PostgreSQL divides integers, DuckDB and
   Spark give the same whole number as a double), so no float ever decides a score boundary. #}
{%- set n_minus_1 = 'nullif(n_customers - 1, 0)' %}
scored as (

    select
        {%- for s in ['r', 'f', 'm'] %}
        {%- set a = '5 * (' ~ s ~ '_rank - 1)' %}
        case
            when n_customers = 1 then 5
            else least(5, 1 + cast(({{ a }} - mod({{ a }}, {{ n_minus_1 }})) / {{ n_minus_1 }} as integer))
        end as {{ s }}_score,
        {%- endfor %}
        ranked.*

    from ranked

),

{# fm_score = round((f + m) / 2) with halves up = floor((f + m + 1) / 2) #}
fm_scored as (

    select
        scored.*,
        cast((f_score + m_score + 1 - mod(f_score + m_score + 1, 2)) / 2 as integer) as fm_score

    from scored

),

final as (

    select
        cast(fm_scored.customer_id as {{ type_text() }}) as customer_id,
        cast(fm_scored.first_purchase_date as date) as first_purchase_date,
        cast(fm_scored.last_purchase_date as date) as last_purchase_date,
        cast(fm_scored.frequency as integer) as frequency,
        cast(fm_scored.recency_days as integer) as recency_days,
        cast(fm_scored.tenure_days as integer) as tenure_days,
        cast(
            coalesce(
                cast(fm_scored.repeat_revenue as {{ type_double() }}) / nullif(fm_scored.frequency, 0), 0
            ) as {{ type_double() }}
        ) as avg_repeat_value,
        cast(fm_scored.days_since_last_purchase as integer) as days_since_last_purchase,
        cast(fm_scored.orders_lifetime as integer) as orders_lifetime,
        cast(fm_scored.revenue_lifetime as decimal(18, 2)) as revenue_lifetime,
        cast(fm_scored.orders_365d as integer) as orders_365d,
        cast(fm_scored.revenue_365d as decimal(18, 2)) as revenue_365d,
        cast(fm_scored.purchase_days_window as integer) as purchase_days_window,
        cast(fm_scored.revenue_window as decimal(18, 2)) as revenue_window,
        cast(fm_scored.r_score as integer) as r_score,
        cast(fm_scored.f_score as integer) as f_score,
        cast(fm_scored.m_score as integer) as m_score,
        cast(fm_scored.fm_score as integer) as fm_score,
        cast(segment_map.rfm_segment as {{ type_text() }}) as rfm_segment,
        {{ as_of_date() }} as as_of_date

    from fm_scored
    left join segment_map
        on fm_scored.r_score = segment_map.r_score
        and fm_scored.fm_score = segment_map.fm_score

)

select * from final
