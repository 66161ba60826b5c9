with

order_lines as (

    select * from {{ ref('stg_crm__order_lines') }}

),

accepted_orders as (

    select order_id
    from {{ ref('int_crm__orders_validated') }}
    where rejection_reason is null

),

accepted_products as (

    select product_id
    from {{ ref('int_crm__products_validated') }}
    where rejection_reason is null

),

ranked as (

    select
        order_lines.*,
        {{ key_rank(['order_lines.order_id', 'order_lines.line_number']) }} as _key_rank,
        accepted_orders.order_id is null as _unknown_order,
        accepted_products.product_id is null as _unknown_product

    from order_lines
    left join accepted_orders on order_lines.order_id = accepted_orders.order_id
    left join accepted_products on order_lines.product_id = accepted_products.product_id

),

validated as (

    select
        * exclude (_key_rank, _unknown_order, _unknown_product),
        {{ rejection_reason([
            ('duplicate_key', '_key_rank > 1'),
            ('negative_quantity', 'quantity < 0'),
            ('invalid_value', 'unit_price < 0 or discount_amount < 0'),
            ('unknown_order', '_unknown_order'),
            ('unknown_product', '_unknown_product'),
        ]) }} as rejection_reason

    from ranked

)

select * from validated
