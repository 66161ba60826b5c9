{#- Gate: no customer over a contact cap once past contacts (all channels) and today's eligible rows are
    combined; recomputed from fct_marketing_contacts. Also: no phone contact for an unprofitable customer. -#}
with past as (

    select
        customer_id,
        sum(case when {{ in_window('contact_date', 7) }} then 1 else 0 end) as past_7d,
        sum(case when {{ in_window('contact_date', 30) }} then 1 else 0 end) as past_30d
    from {{ ref('fct_marketing_contacts') }}
    group by customer_id

),

planned as (

    select customer_id, count(*) as planned
    from {{ ref('campaign_audience') }}
    where is_eligible
    group by customer_id

),

phone as (

    select audience.customer_id
    from {{ ref('campaign_audience') }} as audience
    inner join {{ ref('customer_profitability') }} as profitability
        on profitability.customer_id = audience.customer_id
    where audience.is_eligible and audience.channel = 'phone'
        and not coalesce(profitability.profit_contribution_365d > 0, false)

)

select planned.customer_id, 'over a contact cap' as problem
from planned
left join past on past.customer_id = planned.customer_id
where coalesce(past.past_7d, 0) + planned.planned > {{ var('contact_cap_7d', 1) }}
    or coalesce(past.past_30d, 0) + planned.planned > {{ var('contact_cap_30d', 4) }}

union all

select customer_id, 'phone contact for an unprofitable customer' as problem
from phone
