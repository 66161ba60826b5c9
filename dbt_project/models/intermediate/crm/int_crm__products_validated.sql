{{ validated_config() }}

with

products as (

    {{ validation_input('stg_crm__products') }}

),

validated as (

    select
        products.*,
        {{ rejection_reason([
            ('duplicate_key', is_duplicate(['product_id'])),
            ('invalid_value', 'unit_cost < 0 or list_price < 0'),
        ]) }} as rejection_reason

    from products
    {{- join_prior_keys('stg_crm__products', ['product_id']) }}

)

{{ validated_output() }}
