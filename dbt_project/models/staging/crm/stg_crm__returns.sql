with

source as (

    select * from {{ source('crm', 'returns') }}

),

renamed as (

    select
        trim(return_id) as return_id,
        trim(order_id) as order_id,
        trim(product_id) as product_id,
        return_ts,
        quantity,
        refund_amount,
        reason,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
