{{ validated_config() }}
{#- rows rejected for a reference that may arrive later: re-checked every build (macros/validation.sql) #}
{%- set recheck = ['unknown_order', 'unknown_product'] %}

with

order_lines as (

    {{ validation_input('stg_crm__order_lines', recheck=recheck) }}

),

accepted_orders as (

    select distinct order_id as accepted_order_id
    from {{ ref('int_crm__orders_validated') }}
    where rejection_reason is null

),

accepted_products as (

    select product_id as accepted_product_id, unit_cost as accepted_unit_cost
    from {{ ref('int_crm__products_validated') }}
    where rejection_reason is null

),

{# A line worth more than var max_line_amount (quantity x unit price, or x the product's unit cost) cannot be
   real, and its sums would overflow the DECIMAL(18,2) money columns of the marts: rejected as invalid_value.
   Compared in double precision, so the check itself cannot overflow. #}
{%- set too_large = ' > ' ~ var('max_line_amount') %}
{%- set qty = 'cast(quantity as ' ~ type_double() ~ ')' %}

validated as (

    select
        order_lines.*,
        {{ rejection_reason([
            ('duplicate_key', is_duplicate(['order_id', 'line_number'])),
            ('negative_quantity', 'quantity < 0'),
            ('invalid_value', 'unit_price < 0 or discount_amount < 0'
                ~ ' or abs(' ~ qty ~ ' * cast(unit_price as ' ~ type_double() ~ '))' ~ too_large
                ~ ' or abs(' ~ qty ~ ' * cast(accepted_unit_cost as ' ~ type_double() ~ '))' ~ too_large),
            ('unknown_order', 'accepted_orders.accepted_order_id is null'),
            ('unknown_product', 'accepted_products.accepted_product_id is null'),
        ]) }} as rejection_reason

    from order_lines
    left join accepted_orders on order_lines.order_id = accepted_orders.accepted_order_id
    left join accepted_products on order_lines.product_id = accepted_products.accepted_product_id
    {{- join_prior_keys('stg_crm__order_lines', ['order_id', 'line_number']) }}

)

{{ validated_output(recheck) }}
