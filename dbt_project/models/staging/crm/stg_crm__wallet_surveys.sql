with

source as (

    select * from {{ source('crm', 'wallet_surveys') }}

),

renamed as (

    select
        trim(survey_id) as survey_id,
        trim(customer_id) as customer_id,
        survey_date,
        lower(trim(category)) as category,
        reported_annual_spend,
        lower(trim(source)) as survey_source,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
