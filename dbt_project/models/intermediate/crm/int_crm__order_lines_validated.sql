with

order_lines as (

    select * from {{ ref('stg_crm__order_lines') }}

),

accepted_orders as (

    select order_id as accepted_order_id
    from {{ ref('int_crm__orders_validated') }}
    where rejection_reason is null

),

accepted_products as (

    select product_id as accepted_product_id
    from {{ ref('int_crm__products_validated') }}
    where rejection_reason is null

),

validated as (

    select
        order_lines.*,
        {{ rejection_reason([
            ('duplicate_key', key_rank(['order_id', 'line_number']) ~ ' > 1'),
            ('negative_quantity', 'quantity < 0'),
            ('invalid_value', 'unit_price < 0 or discount_amount < 0'),
            ('unknown_order', 'accepted_orders.accepted_order_id is null'),
            ('unknown_product', 'accepted_products.accepted_product_id is null'),
        ]) }} as rejection_reason

    from order_lines
    left join accepted_orders on order_lines.order_id = accepted_orders.accepted_order_id
    left join accepted_products on order_lines.product_id = accepted_products.accepted_product_id

)

select * from validated
