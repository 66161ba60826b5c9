{# Wallet per customer (SPEC 4.6 rolled up): one row per customer of customer_wallet (= every customer of
   dim_customers), summing the customer's category rows. Read by customer_segments (RAD, SPEC 4.7).
   Categories without an estimate (wallet_method 'none') add 0 to the wallet; they have no own spend either. #}

with

wallet as (

    select * from {{ ref('customer_wallet') }}

),

rollup as (

    select
        customer_id,
        sum(coalesce(wallet_estimate, 0)) as wallet_total,
        sum(own_spend_365d) as own_spend_365d,
        sum(coalesce(wallet_headroom, 0)) as wallet_headroom,
        max(case when wallet_method in ('survey', 'installed_base') then 1 else 0 end) as has_known_wallet,
        sum(case when wallet_method in ('survey', 'installed_base') then wallet_estimate else 0 end)
            as known_wallet_total,
        min(case wallet_confidence when 'low' then 1 when 'medium' then 2 when 'high' then 3 end)
            as confidence_rank,
        sum(case when own_spend_365d > 0 then 1 else 0 end) as categories_bought_365d,
        sum(case when wallet_method != 'none' then 1 else 0 end) as categories_with_wallet

    from wallet
    group by 1

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        {# money: exact decimal sums (a re-run adds the categories in any order and gets the same bytes) #}
        cast(wallet_total as decimal(18, 2)) as wallet_total,
        cast(own_spend_365d as decimal(18, 2)) as own_spend_365d,
        case
            when wallet_total > 0
                then cast(own_spend_365d as {{ type_double() }}) / cast(wallet_total as {{ type_double() }})
        end as share_of_wallet,
        cast(wallet_headroom as decimal(18, 2)) as wallet_headroom,
        has_known_wallet = 1 as has_known_wallet,
        cast(known_wallet_total as decimal(18, 2)) as known_wallet_total,
        cast(case confidence_rank when 1 then 'low' when 2 then 'medium' when 3 then 'high' end as {{ type_text() }})
            as wallet_confidence,
        cast(categories_bought_365d as integer) as categories_bought_365d,
        cast(categories_with_wallet as integer) as categories_with_wallet,
        {{ as_of_date() }} as as_of_date

    from rollup

)

select * from final
