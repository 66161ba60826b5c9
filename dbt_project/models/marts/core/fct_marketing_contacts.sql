with

contacts as (

    select * from {{ ref('int_crm__marketing_contacts_validated') }}
    where rejection_reason is null
        and {{ on_or_before_as_of('contact_ts') }}

),

orders as (

    select order_id from {{ ref('fct_orders') }}

),

final as (

    select
        cast(contacts.contact_id as {{ type_text() }}) as contact_id,
        cast(contacts.customer_id as {{ type_text() }}) as customer_id,
        cast(contacts.campaign_id as {{ type_text() }}) as campaign_id,
        cast(contacts.channel as {{ type_text() }}) as channel,
        cast(contacts.contact_ts as timestamp) as contact_ts,
        cast(contacts.contact_ts as date) as contact_date,
        cast(contacts.offer_category as {{ type_text() }}) as offer_category,
        cast(contacts.responded as boolean) as responded,
        -- a conversion is only known once its order exists on or before D
        cast(orders.order_id as {{ type_text() }}) as converted_order_id,
        {{ as_of_date() }} as as_of_date

    from contacts
    left join orders on contacts.converted_order_id = orders.order_id

)

select * from final
