{{ validated_config() }}
{#- rows rejected for a reference that may arrive later: re-checked every build (macros/validation.sql) #}
{%- set recheck = ['unknown_customer'] %}

with

orders as (

    {{ validation_input('stg_crm__orders', recheck=recheck) }}

),

known_customers as (

    select distinct customer_id as known_customer_id
    from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

{# A row with the order_id of another is a duplicate only when it is the same version: the same updated_at
   (or, without one, the same order_ts). A later updated_at is a correction, in force from then on
   (int_orders_as_of). "In the future": later than the day after the date in the file's name (a day of
   slack for time zones), or later than the load time when the file name carries no date. #}
validated as (

    select
        orders.*,
        {{ rejection_reason([
            ('duplicate_key', is_duplicate(['order_id', 'coalesce(updated_at, order_ts)'])),
            ('invalid_value', "status is null or status not in ('completed', 'cancelled') or channel not in ('web', 'store', 'call_center', 'sales_rep')"),
            ('order_in_future', 'order_ts >= coalesce(' ~ dbt.dateadd('day', 2, file_date('_source_file')) ~ ', _loaded_at)'),
            ('unknown_customer', 'known_customers.known_customer_id is null'),
        ]) }} as rejection_reason

    from orders
    left join known_customers on orders.customer_id = known_customers.known_customer_id
    {{- join_prior_keys('stg_crm__orders', ['order_id', 'coalesce(updated_at, order_ts)']) }}

)

{{ validated_output(recheck) }}
