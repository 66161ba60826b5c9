{#- Consent per known customer and channel as of D (SPEC 4.11, 9): the latest consent record with
    updated_at on or before D wins; no record means no consent. The campaign audience may contact a customer
    on a channel only where may_contact is true. -#}
with

customers as (

    select customer_id from {{ ref('dim_customers') }}

),

channels as (

    select 'email' as channel
    union all
    select 'sms'
    union all
    select 'phone'
    union all
    select 'mail'

),

consents as (

    select
        customer_id,
        channel,
        status,
        updated_at,
        row_number() over (partition by customer_id, channel order by updated_at desc) as recency_rank

    from {{ ref('int_crm__consents_validated') }}
    where rejection_reason is null
        and {{ on_or_before_as_of('updated_at') }}

),

final as (

    select
        cast(customers.customer_id as {{ type_text() }}) as customer_id,
        cast(channels.channel as {{ type_text() }}) as channel,
        cast(coalesce(latest.status, 'no_record') as {{ type_text() }}) as consent_status,
        latest.updated_at as consent_updated_at,
        coalesce(latest.status = 'opt_in', false) as may_contact,
        {{ as_of_date() }} as as_of_date

    from customers
    cross join channels
    left join consents as latest
        on latest.customer_id = customers.customer_id
        and latest.channel = channels.channel
        and latest.recency_rank = 1

)

select * from final
