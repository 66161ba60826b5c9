{#- Customer events as of D (SPEC 4.11): one row per customer x event_type that fires on D, with the facts that
    fired it and the customer's next-best offer. Events that compare with the past (stage_change,
    wallet_opportunity, churn_risk) read the published history of the latest published as-of date before D
    only, so a backfill of D sees the stages of its own past, and a date built but never published (a failed
    gate) is never the one compared with. Windows and thresholds: the event_* and churn_risk_p_alive vars. -#}
with

segments as (

    select
        customer_id, customer_type, rfm_segment, lifecycle_stage, value_tier, rad_strategy, p_alive,
        first_purchase_date
    from {{ ref('customer_segments') }}

),

customers as (

    select customer_id, customer_type, birth_date from {{ ref('int_customers_as_of') }}

),

history as (

    select customer_id, lifecycle_stage, rad_strategy, p_alive, as_of_date
    from {{ source('published', 'customer_segments_history') }}
    where as_of_date < {{ as_of_date() }}

),

previous_date as (

    select max(as_of_date) as previous_as_of_date from history

),

previous as (

    select history.*
    from history
    inner join previous_date on history.as_of_date = previous_date.previous_as_of_date

),

{# --- date-driven events: birthdays (B2C) and first-purchase anniversaries ------------------------------ #}
{# A birthday is an event for a whole calendar week (Monday-Sunday): every day of the week that lies
   var('event_birthday_weeks_ahead') weeks before the birthday's week, published with that week (event_week),
   never with the day. With the published birth year, the day (days_until, or the first day the event fires)
   would give the exact birth date away (SPEC §9). #}
{%- set birthday_week = week_start_after_as_of(var('event_birthday_weeks_ahead', 1)) %}
birthdays as (

    select
        customer_id,
        {{ next_yearly_date('birth_date', birthday_week) }} as birthday
    from customers
    where customer_type = 'B2C' and birth_date is not null

),

birthday_events as (

    select
        customer_id,
        'birthday_upcoming' as event_type,
        cast(null as {{ type_text() }}) as previous_value,
        cast(null as {{ type_text() }}) as current_value,
        cast(null as {{ type_double() }}) as previous_number,
        cast(null as {{ type_double() }}) as current_number,
        cast(null as {{ type_text() }}) as reference_id,
        cast(null as date) as reference_date,
        cast(null as integer) as days_until,
        {{ birthday_week }} as event_week
    from birthdays
    where birthday < {{ dbt.dateadd('day', 7, birthday_week) }}

),

anniversaries as (

    select
        customer_id,
        first_purchase_date,
        {{ next_yearly_date('first_purchase_date') }} as anniversary_date
    from segments
    where first_purchase_date is not null

),

anniversary_events as (

    select
        customer_id,
        'first_purchase_anniversary' as event_type,
        cast(null as {{ type_text() }}) as previous_value,
        cast(null as {{ type_text() }}) as current_value,
        cast(null as {{ type_double() }}) as previous_number,
        -- the anniversary's number: 1 = one year since the first purchase
        cast(extract(year from anniversary_date) - extract(year from first_purchase_date) as {{ type_double() }})
            as current_number,
        cast(null as {{ type_text() }}) as reference_id,
        first_purchase_date as reference_date,
        {{ dbt.datediff(as_of_date(), 'anniversary_date', 'day') }}
            as days_until,
        cast(null as date) as event_week
    from anniversaries
    where
        {{ dbt.datediff(as_of_date(), 'anniversary_date', 'day') }}
        <= {{ var('event_anniversary_days', 7) }}
        and extract(year from anniversary_date) > extract(year from first_purchase_date)

),

{# --- changes since the previous as-of date --------------------------------------------------------------- #}
{# every customer on D beside their row of the previous date (none: 'unknown'), when there is a previous date #}
changes as (

    select
        segments.customer_id,
        segments.lifecycle_stage,
        segments.rad_strategy,
        coalesce(previous.lifecycle_stage, 'unknown') as previous_lifecycle_stage,
        coalesce(previous.rad_strategy, 'unknown') as previous_rad_strategy
    from segments
    cross join previous_date
    left join previous on previous.customer_id = segments.customer_id
    where previous_date.previous_as_of_date is not null

),

{% set moves = [
    ('stage_change', 'lifecycle_stage', var('event_stage_change_into', ['decline', 'churned', 'new', 'win_back'])),
    ('wallet_opportunity', 'rad_strategy', ['develop']),
] -%}
{% for event_type, column, into in moves %}
{{ event_type }}_events as (

    select
        customer_id,
        '{{ event_type }}' as event_type,
        cast(previous_{{ column }} as {{ type_text() }}) as previous_value,
        cast({{ column }} as {{ type_text() }}) as current_value,
        cast(null as {{ type_double() }}) as previous_number,
        cast(null as {{ type_double() }}) as current_number,
        cast(null as {{ type_text() }}) as reference_id,
        cast(null as date) as reference_date,
        cast(null as integer) as days_until,
        cast(null as date) as event_week
    from changes
    where
        {{ column }} in (
            {%- for s in into %}
            '{{ s }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
        and previous_{{ column }} != {{ column }}

),

{% endfor %}
churn_events as (

    select
        segments.customer_id,
        'churn_risk' as event_type,
        cast(null as {{ type_text() }}) as previous_value,
        cast(null as {{ type_text() }}) as current_value,
        cast(previous.p_alive as {{ type_double() }}) as previous_number,
        cast(segments.p_alive as {{ type_double() }}) as current_number,
        cast(null as {{ type_text() }}) as reference_id,
        cast(null as date) as reference_date,
        cast(null as integer) as days_until,
        cast(null as date) as event_week
    from segments
    inner join previous on previous.customer_id = segments.customer_id
    where segments.p_alive < {{ var('churn_risk_p_alive', 0.3) }}
        and previous.p_alive >= {{ var('churn_risk_p_alive', 0.3) }}

),

{# --- service: a high-value customer complained or was unhappy in the last N days -------------------------- #}
bad_experiences as (

    select
        interactions.customer_id,
        interactions.interaction_id,
        interactions.interaction_date,
        interactions.interaction_type,
        interactions.satisfaction_score,
        row_number() over (
            partition by interactions.customer_id
            order by interactions.interaction_ts desc, interactions.interaction_id desc
        ) as recency_rank
    from {{ ref('fct_service_interactions') }} as interactions
    where
        {{ in_window('interactions.interaction_date', var('event_complaint_days', 7)) }}
        and (
            interactions.interaction_type = 'complaint'
            or interactions.satisfaction_score <= {{ var('event_complaint_max_satisfaction', 2) }}
        )

),

complaint_events as (

    select
        segments.customer_id,
        'high_value_complaint' as event_type,
        cast(null as {{ type_text() }}) as previous_value,
        cast(bad.interaction_type as {{ type_text() }}) as current_value,
        cast(null as {{ type_double() }}) as previous_number,
        cast(bad.satisfaction_score as {{ type_double() }}) as current_number,
        cast(bad.interaction_id as {{ type_text() }}) as reference_id,
        bad.interaction_date as reference_date,
        cast(null as integer) as days_until,
        cast(null as date) as event_week
    from segments
    inner join bad_experiences as bad on bad.customer_id = segments.customer_id and bad.recency_rank = 1
    where segments.value_tier in ('A+', 'A')

),

events as (

    select * from birthday_events
    union all
    select * from anniversary_events
    union all
    select * from stage_change_events
    union all
    select * from wallet_opportunity_events
    union all
    select * from churn_events
    union all
    select * from complaint_events

),

final as (

    select
        cast(events.customer_id as {{ type_text() }}) as customer_id,
        cast(events.event_type as {{ type_text() }}) as event_type,
        cast(case
            when events.event_type != 'stage_change' then event_types.purpose
            when events.current_value = 'new' then 'onboarding'
            when events.current_value = 'churned' then 'win_back'
            when events.current_value = 'win_back' then 'welcome_back'
            else 'retention'
        end as {{ type_text() }}) as purpose,
        cast(events.previous_value as {{ type_text() }}) as previous_value,
        cast(events.current_value as {{ type_text() }}) as current_value,
        cast(events.previous_number as {{ type_double() }}) as previous_number,
        cast(events.current_number as {{ type_double() }}) as current_number,
        cast(events.reference_id as {{ type_text() }}) as reference_id,
        cast(events.reference_date as date) as reference_date,
        cast(events.days_until as integer) as days_until,
        cast(events.event_week as date) as event_week,
        cast(case
            when events.event_type in ('stage_change', 'wallet_opportunity', 'churn_risk')
                then previous_date.previous_as_of_date
        end as date) as previous_as_of_date,
        cast(segments.customer_type as {{ type_text() }}) as customer_type,
        cast(segments.rfm_segment as {{ type_text() }}) as rfm_segment,
        cast(segments.lifecycle_stage as {{ type_text() }}) as lifecycle_stage,
        cast(segments.value_tier as {{ type_text() }}) as value_tier,
        cast(offers.offer_category as {{ type_text() }}) as offer_category,
        cast(offers.offer_because_of_category as {{ type_text() }}) as offer_because_of_category,
        cast(offers.offer_lift as {{ type_double() }}) as offer_lift,
        cast(offers.no_offer_reason as {{ type_text() }}) as no_offer_reason,
        {{ as_of_date() }} as as_of_date

    from events
    inner join segments on segments.customer_id = events.customer_id
    inner join {{ ref('event_types') }} as event_types on event_types.event_type = events.event_type
    left join {{ ref('int_customer_next_best_offer') }} as offers on offers.customer_id = events.customer_id
    cross join previous_date

)

select * from final
