{# SPEC 4.4: one row per purchase decile. Shares divide by the total over all deciles; money is summed
   exactly (decimal), the running sums too, and only the final ratio is a double, so the last decile's
   cumulative share is exactly 1. With a total of 0 the shares are null; with a negative total they are
   shares of a loss (they still add up to 1, but a profitable decile gets a negative share). #}

with

customer_profitability as (

    select * from {{ ref('customer_profitability') }}
    where purchase_decile is not null

),

by_decile as (

    select
        purchase_decile,
        count(*) as customers,
        sum(revenue_365d) as revenue_365d,
        sum(profit_contribution_365d) as profit_contribution_365d

    from customer_profitability
    group by 1

),

running as (

    select
        by_decile.*,
        sum(profit_contribution_365d) over (
            order by purchase_decile rows between unbounded preceding and current row
        ) as cumulative_profit,
        sum(revenue_365d) over (
            order by purchase_decile rows between unbounded preceding and current row
        ) as cumulative_revenue,
        sum(profit_contribution_365d) over () as total_profit,
        sum(revenue_365d) over () as total_revenue

    from by_decile

),

final as (

    select
        cast(purchase_decile as integer) as purchase_decile,
        cast(customers as integer) as customers,
        cast(revenue_365d as decimal(18, 2)) as revenue_365d,
        cast(profit_contribution_365d as decimal(18, 2)) as profit_contribution_365d,
        cast(profit_contribution_365d as {{ type_double() }}) / cast(customers as {{ type_double() }})
            as avg_profit_per_customer,
        cast(profit_contribution_365d as {{ type_double() }}) / nullif(cast(total_profit as {{ type_double() }}), 0)
            as profit_share,
        cast(cumulative_profit as {{ type_double() }}) / nullif(cast(total_profit as {{ type_double() }}), 0)
            as cumulative_profit_share,
        cast(revenue_365d as {{ type_double() }}) / nullif(cast(total_revenue as {{ type_double() }}), 0)
            as revenue_share,
        cast(cumulative_revenue as {{ type_double() }}) / nullif(cast(total_revenue as {{ type_double() }}), 0)
            as cumulative_revenue_share,
        {{ as_of_date() }} as as_of_date

    from running

)

select * from final
