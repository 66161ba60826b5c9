with

products as (

    select * from {{ ref('stg_crm__products') }}

),

validated as (

    select
        products.*,
        {{ rejection_reason([
            ('duplicate_key', key_rank(['product_id']) ~ ' > 1'),
            ('invalid_value', 'unit_cost < 0 or list_price < 0'),
        ]) }} as rejection_reason

    from products

)

select * from validated
