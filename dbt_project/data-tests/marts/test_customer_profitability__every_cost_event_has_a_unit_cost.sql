{# Every service interaction, marketing contact and return finds a row in the seed cost_parameters (exact or `*`),
   so no event is silently free. #}
with

events as (

    select distinct 'service_interaction' as cost_kind, interaction_type, coalesce(channel, '*') as channel
    from {{ ref('fct_service_interactions') }}

    union all

    select distinct 'marketing_contact' as cost_kind, '*' as interaction_type, coalesce(channel, '*') as channel
    from {{ ref('fct_marketing_contacts') }}

    union all

    select distinct 'return' as cost_kind, '*' as interaction_type, '*' as channel
    from {{ ref('fct_returns') }}

),

matched as (

    select
        events.cost_kind,
        events.interaction_type,
        events.channel,
        count(cost_parameters.unit_cost) as candidates

    from events
    left join {{ ref('cost_parameters') }} as cost_parameters
        on cost_parameters.cost_kind = events.cost_kind
        and (cost_parameters.interaction_type = events.interaction_type or cost_parameters.interaction_type = '*')
        and (cost_parameters.channel = events.channel or cost_parameters.channel = '*')
    group by 1, 2, 3

)

select * from matched
where candidates = 0
