with

source as (

    select * from {{ source('crm', 'installed_base') }}

),

renamed as (

    select
        trim(customer_id) as customer_id,
        lower(trim(category)) as category,
        as_of_date as installed_as_of_date,
        units_installed,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
