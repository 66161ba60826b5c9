{{ validated_config() }}

with

customers as (

    {{ validation_input('stg_crm__customers') }}

),

validated as (

    select
        customers.*,
        {{ rejection_reason([
            ('duplicate_key', is_duplicate(['customer_id', 'updated_at'])),
            ('invalid_value', "customer_type is not null and customer_type not in ('B2C', 'B2B')"),
        ]) }} as rejection_reason

    from customers
    {{- join_prior_keys('stg_crm__customers', ['customer_id', 'updated_at']) }}

)

{{ validated_output() }}
