{#- Gate: no eligible row without a current opt-in. Recomputed from the consent records themselves (latest
    updated_at on or before D per customer x channel), not from the audience's own columns. -#}
with latest as (

    select
        customer_id,
        channel,
        status,
        row_number() over (partition by customer_id, channel order by updated_at desc) as recency_rank
    from {{ ref('int_crm__consents_validated') }}
    where rejection_reason is null and {{ on_or_before_as_of('updated_at') }}

)

select audience.customer_id, audience.event_type, audience.channel, latest.status
from {{ ref('campaign_audience') }} as audience
left join latest
    on latest.customer_id = audience.customer_id
    and latest.channel = audience.channel
    and latest.recency_rank = 1
where audience.is_eligible
    and (latest.status is null or latest.status != 'opt_in')
