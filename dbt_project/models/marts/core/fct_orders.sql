with

orders as (

    select * from {{ ref('int_orders_as_of') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

order_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as items_quantity,
        sum(quantity * unit_price) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(line_revenue) as revenue,
        sum(line_cost) as product_cost

    from order_lines
    group by 1

),

final as (

    select
        cast(orders.order_id as {{ type_text() }}) as order_id,
        cast(orders.customer_id as {{ type_text() }}) as customer_id,
        cast(orders.order_ts as timestamp) as order_ts,
        cast(orders.order_ts as date) as order_date,
        cast(orders.channel as {{ type_text() }}) as channel,
        cast(orders.status as {{ type_text() }}) as status,
        orders.status = 'completed' as is_completed,
        cast(coalesce(order_totals.line_count, 0) as integer) as line_count,
        cast(coalesce(order_totals.items_quantity, 0) as integer) as items_quantity,
        cast(coalesce(order_totals.gross_amount, 0) as decimal(18, 2)) as gross_amount,
        cast(coalesce(order_totals.discount_amount, 0) as decimal(18, 2)) as discount_amount,
        cast(coalesce(order_totals.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(order_totals.product_cost, 0) as decimal(18, 2)) as product_cost,
        {{ as_of_date() }} as as_of_date

    from orders
    left join order_totals on orders.order_id = order_totals.order_id

)

select * from final
