with

source as (

    select * from {{ source('crm', 'order_lines') }}

),

renamed as (

    select
        trim(order_id) as order_id,
        line_number,
        trim(product_id) as product_id,
        quantity,
        unit_price,
        -- a missing discount means no discount
        coalesce(discount_amount, 0) as discount_amount,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
