{# Every cost kind has a catch-all row (interaction_type `*`, channel `*`) and no unit cost is negative. #}
with

kinds as (

    select 'service_interaction' as cost_kind
    union all
    select 'marketing_contact' as cost_kind
    union all
    select 'return' as cost_kind

),

fallbacks as (

    select cost_kind from {{ ref('cost_parameters') }}
    where interaction_type = '*' and channel = '*'

)

select kinds.cost_kind, 'no catch-all row' as problem
from kinds
left join fallbacks on kinds.cost_kind = fallbacks.cost_kind
where fallbacks.cost_kind is null

union all

select cost_kind, 'negative unit_cost' as problem
from {{ ref('cost_parameters') }}
where unit_cost < 0
