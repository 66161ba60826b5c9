{# SPEC 4.5: exactly one row (an aggregate without group by), also when no customer has revenue in the
   window. Among customers with revenue_365d > 0:
   - top_customers = ceil(var('pareto_top_share') x customers); the var renders as a decimal literal, so the
     product is exact (0.2 x 15 = 3, not 3.0000000000000004).
   - top_profit_share: profit of the top_customers ranked by profit_contribution_365d desc, customer_id.
   - top_revenue_share: revenue of the top_customers ranked by revenue_365d desc, customer_id (the revenue
     concentration in its own right, not the revenue of the most profitable customers).
   - gini_profit with x = profit_contribution_365d ascending, i = 1..n:
     G = 2 sum(i x_(i)) / (n sum(x)) - (n + 1) / n = sum((2i - n - 1) x_(i)) / (n sum(x)).
     The second form is summed exactly in decimal and divided once, so every engine gets the same double.
     Ties do not matter (swapping equal values leaves the sum unchanged). #}

with

customer_profitability as (

    select * from {{ ref('customer_profitability') }}
    where revenue_365d > 0

),

ranked as (

    select
        customer_id,
        revenue_365d,
        profit_contribution_365d,
        count(*) over () as n,
        row_number() over (order by profit_contribution_365d desc, customer_id) as profit_rank,
        row_number() over (order by revenue_365d desc, customer_id) as revenue_rank,
        row_number() over (order by profit_contribution_365d, customer_id) as gini_rank

    from customer_profitability

),

flagged as (

    select
        ranked.*,
        ceil({{ var('pareto_top_share') }} * n) as top_n

    from ranked

),

totals as (

    select
        count(*) as customers,
        coalesce(max(top_n), 0) as top_customers,
        coalesce(sum(profit_contribution_365d), 0) as total_profit,
        coalesce(sum(revenue_365d), 0) as total_revenue,
        sum(case when profit_rank <= top_n then profit_contribution_365d else 0 end) as top_profit,
        sum(case when revenue_rank <= top_n then revenue_365d else 0 end) as top_revenue,
        sum((2 * gini_rank - n - 1) * profit_contribution_365d) as gini_numerator

    from flagged

),

shares as (

    select
        totals.*,
        cast(top_profit as {{ type_double() }}) / nullif(cast(total_profit as {{ type_double() }}), 0)
            as top_profit_share,
        cast(top_revenue as {{ type_double() }}) / nullif(cast(total_revenue as {{ type_double() }}), 0)
            as top_revenue_share,
        cast(gini_numerator as {{ type_double() }}) / nullif(cast(customers * total_profit as {{ type_double() }}), 0)
            as gini_profit

    from totals

),

final as (

    select
        cast(customers as integer) as customers,
        cast(top_customers as integer) as top_customers,
        cast(top_profit_share as {{ type_double() }}) as top_profit_share,
        cast(top_revenue_share as {{ type_double() }}) as top_revenue_share,
        cast(gini_profit as {{ type_double() }}) as gini_profit,
        cast(
            case
                when total_profit > 0 and top_profit_share > {{ var('pareto_profit_share_threshold') }} then true
                else false
            end as boolean
        ) as value_differentiation_pays,
        cast(total_profit as decimal(18, 2)) as total_profit_365d,
        cast(total_revenue as decimal(18, 2)) as total_revenue_365d,
        {{ as_of_date() }} as as_of_date

    from shares

)

select * from final
