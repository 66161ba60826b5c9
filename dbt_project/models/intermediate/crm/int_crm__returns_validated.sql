with

returns as (

    select * from {{ ref('stg_crm__returns') }}

),

{# what the customer paid for the product on that order, over all its accepted lines #}
accepted_line_values as (

    select
        order_id,
        product_id,
        sum(quantity * unit_price - discount_amount) as line_value

    from {{ ref('int_crm__order_lines_validated') }}
    where rejection_reason is null
    group by 1, 2

),

ranked as (

    select
        returns.*,
        {{ key_rank(['returns.return_id']) }} as _key_rank,
        accepted_line_values.line_value as _line_value

    from returns
    left join accepted_line_values
        on returns.order_id = accepted_line_values.order_id
        and returns.product_id = accepted_line_values.product_id

),

validated as (

    select
        * exclude (_key_rank, _line_value),
        {{ rejection_reason([
            ('duplicate_key', '_key_rank > 1'),
            ('negative_quantity', 'quantity < 0'),
            ('invalid_value', 'refund_amount < 0'),
            ('unknown_order_line', '_line_value is null'),
            ('refund_exceeds_line', 'refund_amount > _line_value'),
        ]) }} as rejection_reason

    from ranked

)

select * from validated
