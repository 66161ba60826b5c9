with

source as (

    select * from {{ source('crm', 'consents') }}

),

renamed as (

    select
        trim(customer_id) as customer_id,
        lower(trim(channel)) as channel,
        lower(trim(status)) as status,
        updated_at,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
