with

source as (

    select * from {{ source('crm', 'marketing_contacts') }}

),

renamed as (

    select
        trim(contact_id) as contact_id,
        trim(customer_id) as customer_id,
        trim(campaign_id) as campaign_id,
        lower(trim(channel)) as channel,
        contact_ts,
        lower(trim(offer_category)) as offer_category,
        coalesce(responded, false) as responded,
        nullif(trim(converted_order_id), '') as converted_order_id,
        _source_file,
        _line_number,
        _loaded_at

    from source

)

select * from renamed
