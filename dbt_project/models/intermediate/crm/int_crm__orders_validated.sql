with

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

known_customers as (

    select distinct customer_id as known_customer_id
    from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

{# "In the future": later than the day after the date in the file's name (a day of slack for time
   zones), or later than the load time when the file name carries no date. #}
validated as (

    select
        orders.*,
        {{ rejection_reason([
            ('duplicate_key', key_rank(['order_id']) ~ ' > 1'),
            ('invalid_value', "status is null or status not in ('completed', 'cancelled') or channel not in ('web', 'store', 'call_center', 'sales_rep')"),
            ('order_in_future', 'order_ts >= coalesce(' ~ dbt.dateadd('day', 2, file_date('_source_file')) ~ ', _loaded_at)'),
            ('unknown_customer', 'known_customers.known_customer_id is null'),
        ]) }} as rejection_reason

    from orders
    left join known_customers on orders.customer_id = known_customers.known_customer_id

)

select * from validated
