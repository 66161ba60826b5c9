with

returns as (

    select * from {{ ref('int_crm__returns_validated') }}
    where rejection_reason is null
        and {{ on_or_before_as_of('return_ts') }}

),

{# the product's unit cost and the order's customer; a return names its order and product. Only the lines
   of returned (order, product) pairs are grouped: a semi-join first, not a group over every line. #}
order_products as (

    select
        order_lines.order_id,
        order_lines.product_id,
        max(order_lines.customer_id) as customer_id,
        max(order_lines.unit_cost) as unit_cost

    from {{ ref('fct_order_lines') }} as order_lines
    where exists (
            select 1 from returns
            where returns.order_id = order_lines.order_id
                and returns.product_id = order_lines.product_id
        )
    group by 1, 2

),

final as (

    select
        cast(returns.return_id as {{ type_text() }}) as return_id,
        cast(returns.order_id as {{ type_text() }}) as order_id,
        cast(returns.product_id as {{ type_text() }}) as product_id,
        cast(order_products.customer_id as {{ type_text() }}) as customer_id,
        cast(returns.return_ts as timestamp) as return_ts,
        cast(returns.return_ts as date) as return_date,
        cast(returns.quantity as integer) as quantity,
        cast(returns.refund_amount as decimal(18, 2)) as refund_amount,
        cast(returns.quantity * order_products.unit_cost as decimal(18, 2)) as returned_cost,
        cast(returns.reason as {{ type_text() }}) as reason,
        {{ as_of_date() }} as as_of_date

    from returns
    inner join order_products
        on returns.order_id = order_products.order_id
        and returns.product_id = order_products.product_id

)

select * from final
