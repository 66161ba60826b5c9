with

source as (

    select * from {{ source('crm', 'orders') }}

),

renamed as (

    select
        trim(order_id) as order_id,
        trim(customer_id) as customer_id,
        order_ts,
        lower(trim(channel)) as channel,
        lower(trim(status)) as status,
        updated_at,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
