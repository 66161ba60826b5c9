with

products as (

    select * from {{ ref('stg_crm__products') }}

),

ranked as (

    select
        *,
        {{ key_rank(['product_id']) }} as _key_rank

    from products

),

validated as (

    select
        * exclude (_key_rank),
        {{ rejection_reason([
            ('duplicate_key', '_key_rank > 1'),
            ('invalid_value', 'unit_cost < 0 or list_price < 0'),
        ]) }} as rejection_reason

    from ranked

)

select * from validated
