{# Peer benchmark of the wallet estimate (SPEC 4.6, method 3 `peer_quantile`, after Perlich, Rosset et al.,
   "High-quantile modeling for customer wallet estimation"): one row per customer x category the customer
   bought in the value window (own_spend_365d > 0), with the peer group used and the var('wallet_peer_quantile')
   quantile (default 0.9) of the 365-day category spend of the peers who bought the category.

   Peers (the customer is one of its own peers):
     level 1 `segment`        same customer_type and segment attributes: B2B industry and size_band, B2C region
                              (a missing attribute is its own value 'unknown');
     level 2 `customer_type`  same customer_type;
     level 3 `all`            all customers.
   The first level whose group has at least var('wallet_min_peers') buyers of the category is used; level 3 is
   used whatever its size (peer_count says how many).
   With var('wallet_peer_spend_bands') = k > 1 (default 5), levels 1 and 2 are also split by relationship size:
   the customer's spend band = ntile(k) of total 365-day spend with us (all categories) among the customer's
   customer_type, 1 = smallest. Peers are then also customers of similar size, as in Perlich's nearest-neighbour
   quantile (historical spend is a neighbour feature): without it every small customer of a segment gets the
   segment's top-decile spend as wallet. k = 1 gives the plain segment peers of SPEC 4.6.

   The quantile is the linear interpolation between order statistics (DuckDB quantile_cont, numpy.quantile
   'linear'): with the n spends sorted ascending x_1..x_n, h = (n - 1) q, value = x_(floor h + 1)
   + (h - floor h) (x_(floor h + 2) - x_(floor h + 1)); computed with row_number/count in DECIMAL arithmetic,
   then rounded to the cent, so every engine and every re-run gives the same number. #}

{%- set spend_bands = var('wallet_peer_spend_bands', 5) | int %}

with

customers as (

    select
        customer_id,
        coalesce(customer_type, 'unknown') as customer_type,
        case
            when customer_type = 'B2B'
                then 'B2B|' || coalesce(industry, 'unknown') || '|' || coalesce(size_band, 'unknown')
            else coalesce(customer_type, 'unknown') || '|' || coalesce(region, 'unknown')
        end as segment

    from {{ ref('dim_customers') }}

),

category_spend as (

    select customer_id, category, own_spend_365d
    from {{ ref('int_customer_category_spend') }}
    where own_spend_365d > 0

),

customer_spend as (

    select
        customer_id,
        sum(own_spend_365d) as total_spend_365d

    from category_spend
    group by 1

),

spend_bands as (

    select
        customers.customer_id,
        customers.customer_type,
        customers.segment,
        ntile({{ spend_bands }}) over (
            partition by customers.customer_type
            order by customer_spend.total_spend_365d, customers.customer_id
        ) as spend_band

    from customer_spend
    inner join customers on customer_spend.customer_id = customers.customer_id

),

peer_keys as (

    select
        customer_id,
        spend_band,
        {%- if spend_bands > 1 %}
        segment || '|spend band ' || cast(spend_band as {{ type_text() }}) || '/{{ spend_bands }}' as segment_group,
        customer_type || '|spend band ' || cast(spend_band as {{ type_text() }}) || '/{{ spend_bands }}' as type_group
        {%- else %}
        segment as segment_group,
        customer_type as type_group
        {%- endif %}

    from spend_bands

),

buyers as (

    select
        category_spend.customer_id,
        category_spend.category,
        category_spend.own_spend_365d,
        category_spend.own_spend_365d as spend,
        peer_keys.spend_band,
        peer_keys.segment_group,
        peer_keys.type_group

    from category_spend
    inner join peer_keys on category_spend.customer_id = peer_keys.customer_id

),

memberships as (

    select 1 as peer_level, segment_group as peer_group, category, customer_id, spend from buyers
    union all
    select 2 as peer_level, type_group as peer_group, category, customer_id, spend from buyers
    union all
    select 3 as peer_level, 'all' as peer_group, category, customer_id, spend from buyers

),

ranked as (

    select
        peer_level,
        peer_group,
        category,
        spend,
        row_number() over (partition by peer_level, peer_group, category order by spend, customer_id) as spend_rank,
        count(*) over (partition by peer_level, peer_group, category) as peer_count

    from memberships

),

positions as (

    select
        ranked.*,
        cast(peer_count - 1 as decimal(18, 6)) * cast({{ var('wallet_peer_quantile') }} as decimal(9, 6))
            as position

    from ranked

),

order_statistics as (

    select
        positions.*,
        floor(position) + 1 as lower_rank,
        least(floor(position) + 2, peer_count) as upper_rank,
        cast(position - floor(position) as decimal(18, 12)) as fraction

    from positions

),

quantiles as (

    select
        peer_level,
        peer_group,
        category,
        max(peer_count) as peer_count,
        max(fraction) as fraction,
        max(case when spend_rank = lower_rank then spend end) as lower_spend,
        max(case when spend_rank = upper_rank then spend end) as upper_spend

    from order_statistics
    group by 1, 2, 3

),

group_quantiles as (

    select
        peer_level,
        peer_group,
        category,
        peer_count,
        cast(lower_spend + (upper_spend - lower_spend) * fraction as decimal(18, 2)) as peer_quantile_spend

    from quantiles

),

chosen as (

    select
        buyers.customer_id,
        buyers.category,
        buyers.own_spend_365d,
        buyers.spend_band,
        case
            when segment_peers.peer_count >= {{ var('wallet_min_peers') }} then 'segment'
            when type_peers.peer_count >= {{ var('wallet_min_peers') }} then 'customer_type'
            else 'all'
        end as peer_level,
        case
            when segment_peers.peer_count >= {{ var('wallet_min_peers') }} then segment_peers.peer_group
            when type_peers.peer_count >= {{ var('wallet_min_peers') }} then type_peers.peer_group
            else all_peers.peer_group
        end as peer_group,
        case
            when segment_peers.peer_count >= {{ var('wallet_min_peers') }} then segment_peers.peer_count
            when type_peers.peer_count >= {{ var('wallet_min_peers') }} then type_peers.peer_count
            else all_peers.peer_count
        end as peer_count,
        case
            when segment_peers.peer_count >= {{ var('wallet_min_peers') }} then segment_peers.peer_quantile_spend
            when type_peers.peer_count >= {{ var('wallet_min_peers') }} then type_peers.peer_quantile_spend
            else all_peers.peer_quantile_spend
        end as peer_quantile_spend

    from buyers
    inner join group_quantiles as segment_peers
        on segment_peers.peer_level = 1
        and buyers.segment_group = segment_peers.peer_group
        and buyers.category = segment_peers.category
    inner join group_quantiles as type_peers
        on type_peers.peer_level = 2
        and buyers.type_group = type_peers.peer_group
        and buyers.category = type_peers.category
    inner join group_quantiles as all_peers
        on all_peers.peer_level = 3
        and buyers.category = all_peers.category

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(category as {{ type_text() }}) as category,
        cast(own_spend_365d as decimal(18, 2)) as own_spend_365d,
        cast(spend_band as integer) as spend_band,
        cast(peer_level as {{ type_text() }}) as peer_level,
        cast(peer_group as {{ type_text() }}) as peer_group,
        cast(peer_count as integer) as peer_count,
        cast(peer_quantile_spend as {{ type_double() }}) as peer_quantile_spend,
        {{ as_of_date() }} as as_of_date

    from chosen

)

select * from final
