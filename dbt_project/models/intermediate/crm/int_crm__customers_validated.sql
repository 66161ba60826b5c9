with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

ranked as (

    select
        *,
        {{ key_rank(['customer_id', 'updated_at']) }} as _key_rank

    from customers

),

validated as (

    select
        * exclude (_key_rank),
        {{ rejection_reason([
            ('duplicate_key', '_key_rank > 1'),
            ('invalid_value', "customer_type is not null and customer_type not in ('B2C', 'B2B')"),
        ]) }} as rejection_reason

    from ranked

)

select * from validated
