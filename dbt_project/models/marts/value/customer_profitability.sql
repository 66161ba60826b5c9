{# Profitability and cost to serve per customer (SPEC 4.3), purchase decile and value class (SPEC 4.4).
   Two horizons: the var('value_window_days') days ending on D (`_365d`) and everything on or before D
   (`_lifetime`; the facts are already cut at D). Each fact falls in the window by its own date: order lines
   by order_date, returns by return_date (a return late in the window reverses a sale from before it),
   service interactions by interaction_date, marketing contacts by contact_date. #}

with

customers as (

    select customer_id from {{ ref('dim_customers') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    where is_completed

),

returns as (

    select * from {{ ref('fct_returns') }}

),

service_interactions as (

    select * from {{ ref('fct_service_interactions') }}

),

marketing_contacts as (

    select * from {{ ref('fct_marketing_contacts') }}

),

cost_parameters as (

    select * from {{ ref('cost_parameters') }}

),

{# Only completed orders count; line_margin = quantity x (unit_price - unit_cost) - discount_amount. #}
sales as (

    select
        customer_id,
        sum(case when {{ in_window('order_date', var('value_window_days')) }} then line_revenue else 0 end)
            as revenue_365d,
        sum(case when {{ in_window('order_date', var('value_window_days')) }} then line_margin else 0 end)
            as line_margin_365d,
        sum(line_revenue) as revenue_lifetime,
        sum(line_margin) as line_margin_lifetime

    from order_lines
    group by 1

),

{# Every accepted return counts: the refund leaves, the goods (at unit cost) come back. #}
returns_by_customer as (

    select
        customer_id,
        sum(case when {{ in_window('return_date', var('value_window_days')) }} then refund_amount else 0 end)
            as refund_365d,
        sum(case when {{ in_window('return_date', var('value_window_days')) }} then returned_cost else 0 end)
            as returned_cost_365d,
        sum(refund_amount) as refund_lifetime,
        sum(returned_cost) as returned_cost_lifetime

    from returns
    group by 1

),

{# Cost events counted per customer and cost key. A missing channel is looked up as `*`. #}
cost_events as (

    select
        customer_id,
        'service_interaction' as cost_kind,
        interaction_type,
        coalesce(channel, '*') as channel,
        sum(case when {{ in_window('interaction_date', var('value_window_days')) }} then 1 else 0 end)
            as events_365d,
        count(*) as events_lifetime

    from service_interactions
    group by 1, 2, 3, 4

    union all

    select
        customer_id,
        'marketing_contact' as cost_kind,
        '*' as interaction_type,
        coalesce(channel, '*') as channel,
        sum(case when {{ in_window('contact_date', var('value_window_days')) }} then 1 else 0 end)
            as events_365d,
        count(*) as events_lifetime

    from marketing_contacts
    group by 1, 2, 3, 4

    union all

    select
        customer_id,
        'return' as cost_kind,
        '*' as interaction_type,
        '*' as channel,
        sum(case when {{ in_window('return_date', var('value_window_days')) }} then 1 else 0 end)
            as events_365d,
        count(*) as events_lifetime

    from returns
    group by 1, 2, 3, 4

),

{# The few distinct cost keys, each matched to its most specific seed row: `*` matches anything, an exact
   interaction_type beats `*`, then an exact channel beats `*`. Resolved on the distinct keys (a handful of
   rows), so the join back to the events is a plain equi-join. #}
cost_keys as (

    select distinct cost_kind, interaction_type, channel
    from cost_events

),

cost_candidates as (

    select
        cost_keys.cost_kind,
        cost_keys.interaction_type,
        cost_keys.channel,
        cost_parameters.unit_cost,
        row_number() over (
            partition by cost_keys.cost_kind, cost_keys.interaction_type, cost_keys.channel
            order by
                case when cost_parameters.interaction_type = '*' then 1 else 0 end,
                case when cost_parameters.channel = '*' then 1 else 0 end
        ) as match_rank

    from cost_keys
    left join cost_parameters
        on cost_parameters.cost_kind = cost_keys.cost_kind
        and (
            cost_parameters.interaction_type = cost_keys.interaction_type
            or cost_parameters.interaction_type = '*'
        )
        and (cost_parameters.channel = cost_keys.channel or cost_parameters.channel = '*')

),

unit_costs as (

    select cost_kind, interaction_type, channel, unit_cost
    from cost_candidates
    where match_rank = 1

),

{# An event without a unit cost makes the customer's cost null (never a silent zero): the not_null constraints
   then fail the build, the singular test names the cost key. #}
costs_by_customer as (

    select
        {%- for kind, col in [('service_interaction', 'service_cost'), ('return', 'return_cost'),
                             ('marketing_contact', 'marketing_cost')] %}
        {%- for horizon in ['365d', 'lifetime'] %}
        case
            when sum(
                    case when cost_events.cost_kind = '{{ kind }}' and unit_costs.unit_cost is null then 1 else 0 end
                ) > 0
                then null
            else sum(
                    case
                        when cost_events.cost_kind = '{{ kind }}'
                            then cost_events.events_{{ horizon }} * unit_costs.unit_cost
                        else 0
                    end
                )
        end as {{ col }}_{{ horizon }},
        {%- endfor %}
        {%- endfor %}
        cost_events.customer_id

    from cost_events
    inner join unit_costs
        on cost_events.cost_kind = unit_costs.cost_kind
        and cost_events.interaction_type = unit_costs.interaction_type
        and cost_events.channel = unit_costs.channel
    group by cost_events.customer_id

),

profit as (

    {# a customer without cost events costs 0; one with an unpriced event keeps the null #}
    select
        {%- for horizon in ['365d', 'lifetime'] %}
        coalesce(sales.revenue_{{ horizon }}, 0) as revenue_{{ horizon }},
        coalesce(sales.line_margin_{{ horizon }}, 0)
        - coalesce(returns_by_customer.refund_{{ horizon }}, 0)
        + coalesce(returns_by_customer.returned_cost_{{ horizon }}, 0) as gross_margin_{{ horizon }},
        {%- for cost in ['service_cost', 'return_cost', 'marketing_cost'] %}
        case
            when costs_by_customer.customer_id is null then 0
            else costs_by_customer.{{ cost }}_{{ horizon }}
        end as {{ cost }}_{{ horizon }},
        {%- endfor %}
        {%- endfor %}
        customers.customer_id

    from customers
    left join sales on customers.customer_id = sales.customer_id
    left join returns_by_customer on customers.customer_id = returns_by_customer.customer_id
    left join costs_by_customer on customers.customer_id = costs_by_customer.customer_id

),

contribution as (

    select
        {%- for horizon in ['365d', 'lifetime'] %}
        service_cost_{{ horizon }} + return_cost_{{ horizon }} + marketing_cost_{{ horizon }}
            as cost_to_serve_{{ horizon }},
        gross_margin_{{ horizon }}
        - (service_cost_{{ horizon }} + return_cost_{{ horizon }} + marketing_cost_{{ horizon }})
            as profit_contribution_{{ horizon }},
        {%- endfor %}
        profit.*

    from profit

),

{# SPEC 4.4: deciles among customers with revenue in the window, decile 1 the most profitable; ties by
   customer_id, so ntile's split (the first n mod 10 deciles get one customer more) is the same everywhere. #}
deciles as (

    select
        customer_id,
        ntile(10) over (order by profit_contribution_365d desc, customer_id) as purchase_decile

    from contribution
    where revenue_365d > 0

),

classified as (

    select
        contribution.*,
        deciles.purchase_decile,
        case
            when deciles.purchase_decile is null then null
            when deciles.purchase_decile <= {{ var('top_deciles') }} and contribution.profit_contribution_365d > 0
                then 1
            when contribution.profit_contribution_365d <= 0 then 3
            else 2
        end as value_class

    from contribution
    left join deciles on contribution.customer_id = deciles.customer_id

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        {%- for horizon in ['365d', 'lifetime'] %}
        {%- for col in ['revenue', 'gross_margin', 'service_cost', 'return_cost', 'marketing_cost',
                       'cost_to_serve', 'profit_contribution'] %}
        cast({{ col }}_{{ horizon }} as decimal(18, 2)) as {{ col }}_{{ horizon }},
        {%- endfor %}
        {%- endfor %}
        cast(
            case
                when revenue_lifetime > 0
                    then cast(gross_margin_lifetime as {{ type_double() }})
                        / cast(revenue_lifetime as {{ type_double() }})
            end
            as {{ type_double() }}
        ) as gross_margin_rate,
        cast(profit_contribution_365d <= 0 as boolean) as is_unprofitable,
        cast(purchase_decile as integer) as purchase_decile,
        cast(value_class as integer) as value_class,
        {{ as_of_date() }} as as_of_date

    from classified

)

select * from final
