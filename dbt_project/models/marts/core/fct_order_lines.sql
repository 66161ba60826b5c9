with

order_lines as (

    select * from {{ ref('int_crm__order_lines_validated') }}
    where rejection_reason is null

),

orders as (

    select * from {{ ref('int_orders_as_of') }}

),

products as (

    select * from {{ ref('int_crm__products_validated') }}
    where rejection_reason is null

),

final as (

    select
        cast(order_lines.order_id as {{ type_text() }}) as order_id,
        cast(order_lines.line_number as integer) as line_number,
        cast(orders.customer_id as {{ type_text() }}) as customer_id,
        cast(orders.order_ts as date) as order_date,
        cast(orders.status as {{ type_text() }}) as order_status,
        orders.status = 'completed' as is_completed,
        cast(order_lines.product_id as {{ type_text() }}) as product_id,
        cast(products.category as {{ type_text() }}) as category,
        cast(order_lines.quantity as integer) as quantity,
        cast(order_lines.unit_price as decimal(18, 2)) as unit_price,
        cast(order_lines.discount_amount as decimal(18, 2)) as discount_amount,
        cast(order_lines.quantity * order_lines.unit_price - order_lines.discount_amount as decimal(18, 2))
            as line_revenue,
        cast(products.unit_cost as decimal(18, 2)) as unit_cost,
        cast(order_lines.quantity * products.unit_cost as decimal(18, 2)) as line_cost,
        cast(
            order_lines.quantity * (order_lines.unit_price - products.unit_cost) - order_lines.discount_amount
            as decimal(18, 2)
        ) as line_margin,
        {{ as_of_date() }} as as_of_date

    from order_lines
    inner join orders on order_lines.order_id = orders.order_id
    inner join products on order_lines.product_id = products.product_id

)

select * from final
