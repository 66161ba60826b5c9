with

source as (

    select * from {{ source('crm', 'products') }}

),

renamed as (

    select
        trim(product_id) as product_id,
        product_name,
        lower(trim(category)) as category,
        unit_cost,
        list_price,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
