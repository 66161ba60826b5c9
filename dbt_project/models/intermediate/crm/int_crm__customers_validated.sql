with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

validated as (

    select
        customers.*,
        {{ rejection_reason([
            ('duplicate_key', key_rank(['customer_id', 'updated_at']) ~ ' > 1'),
            ('invalid_value', "customer_type is not null and customer_type not in ('B2C', 'B2B')"),
        ]) }} as rejection_reason

    from customers

)

select * from validated
