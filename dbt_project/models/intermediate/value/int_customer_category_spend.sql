{# Own spend per customer x category (SPEC 4.6): completed order lines on or before D (fct_order_lines is
   already cut at D), line_revenue = quantity x unit_price - discount_amount; returns are not netted off
   (the wallet is what the customer buys, and it is bought when ordered). One row per customer x category
   the customer bought at least once on or before D; own_spend_365d counts the var('value_window_days')
   days ending on D (0 when the category was only bought before the window). #}

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}
    where is_completed

),

spend as (

    select
        customer_id,
        category,
        sum(case when {{ in_window('order_date', var('value_window_days')) }} then line_revenue else 0 end)
            as own_spend_365d,
        count(distinct case when {{ in_window('order_date', var('value_window_days')) }} then order_id end)
            as orders_365d,
        sum(line_revenue) as spend_lifetime,
        min(order_date) as first_purchase_date,
        max(order_date) as last_purchase_date

    from order_lines
    group by 1, 2

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(category as {{ type_text() }}) as category,
        cast(own_spend_365d as decimal(18, 2)) as own_spend_365d,
        cast(orders_365d as integer) as orders_365d,
        cast(spend_lifetime as decimal(18, 2)) as spend_lifetime,
        cast(first_purchase_date as date) as first_purchase_date,
        cast(last_purchase_date as date) as last_purchase_date,
        {{ as_of_date() }} as as_of_date

    from spend

)

select * from final
