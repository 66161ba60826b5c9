with

returns as (

    select * from {{ ref('stg_crm__returns') }}

),

{# what the customer paid for the product on that order, over all its accepted lines #}
accepted_line_values as (

    select
        order_id as line_order_id,
        product_id as line_product_id,
        sum(quantity * unit_price - discount_amount) as line_value

    from {{ ref('int_crm__order_lines_validated') }}
    where rejection_reason is null
    group by 1, 2

),

validated as (

    select
        returns.*,
        {{ rejection_reason([
            ('duplicate_key', key_rank(['return_id']) ~ ' > 1'),
            ('negative_quantity', 'quantity < 0'),
            ('invalid_value', 'refund_amount < 0'),
            ('unknown_order_line', 'accepted_line_values.line_value is null'),
            ('refund_exceeds_line', 'refund_amount > accepted_line_values.line_value'),
        ]) }} as rejection_reason

    from returns
    left join accepted_line_values
        on returns.order_id = accepted_line_values.line_order_id
        and returns.product_id = accepted_line_values.line_product_id

)

select * from validated
