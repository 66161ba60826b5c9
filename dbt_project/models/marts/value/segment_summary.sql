{#- One row per combination of RFM segment, RAD strategy, lifecycle stage and value tier present on D. -#}
with

segments as (

    select * from {{ ref('customer_segments') }}

),

final as (

    select
        cast(coalesce(rfm_segment, 'no_purchase') as {{ type_text() }}) as rfm_segment,
        cast(rad_strategy as {{ type_text() }}) as rad_strategy,
        cast(lifecycle_stage as {{ type_text() }}) as lifecycle_stage,
        cast(value_tier as {{ type_text() }}) as value_tier,
        cast(count(*) as bigint) as customers,
        cast(sum(coalesce(revenue_365d, 0)) as decimal(18, 2)) as revenue_365d,
        cast(sum(coalesce(profit_contribution_365d, 0)) as decimal(18, 2)) as profit_contribution_365d,
        {# doubles are added in fixed point (exact_sum): a re-run gives the same bytes #}
        cast({{ exact_sum('coalesce(clv_12m, 0)') }} as {{ type_double() }}) as clv_12m,
        cast(sum(coalesce(wallet_headroom, 0)) as decimal(18, 2)) as wallet_headroom,
        cast({{ exact_sum('share_of_wallet') }} as {{ type_double() }}) / count(share_of_wallet) as avg_share_of_wallet,
        cast({{ exact_sum('p_alive') }} as {{ type_double() }}) / count(p_alive) as avg_p_alive,
        {{ as_of_date() }} as as_of_date

    from segments
    group by coalesce(rfm_segment, 'no_purchase'), rad_strategy, lifecycle_stage, value_tier

)

select * from final
