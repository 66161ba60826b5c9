with

source as (

    select * from {{ source('crm', 'service_interactions') }}

),

renamed as (

    select
        trim(interaction_id) as interaction_id,
        trim(customer_id) as customer_id,
        interaction_ts,
        lower(trim(channel)) as channel,
        lower(trim(type)) as interaction_type,
        duration_minutes,
        satisfaction_score,
        resolved,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
