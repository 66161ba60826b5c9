with

source as (

    select * from {{ source('crm', 'customers') }}

),

renamed as (

    select
        trim(customer_id) as customer_id,
        upper(trim(customer_type)) as customer_type,
        name,
        email,
        phone,
        birth_date,
        lower(trim(gender)) as gender,
        trim(city) as city,
        trim(region) as region,
        trim(country) as country,
        trim(occupation) as occupation,
        trim(industry) as industry,
        employee_count,
        annual_revenue,
        lower(trim(acquisition_channel)) as acquisition_channel,
        signup_date,
        updated_at,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
