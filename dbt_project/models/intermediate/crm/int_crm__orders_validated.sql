with

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

known_customers as (

    select distinct customer_id
    from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

ranked as (

    select
        orders.*,
        {{ key_rank(['order_id']) }} as _key_rank,
        {{ file_date('_source_file') }} as _file_date,
        known_customers.customer_id is null as _unknown_customer

    from orders
    left join known_customers using (customer_id)

),

{# "In the future": later than the day after the date in the file's name (a day of slack for time
   zones), or later than the load time when the file name carries no date. #}
validated as (

    select
        * exclude (_key_rank, _file_date, _unknown_customer),
        {{ rejection_reason([
            ('duplicate_key', '_key_rank > 1'),
            ('invalid_value', "status is null or status not in ('completed', 'cancelled') or channel not in ('web', 'store', 'call_center', 'sales_rep')"),
            ('order_in_future', 'order_ts >= coalesce(' ~ dbt.dateadd('day', 2, '_file_date') ~ ', _loaded_at)'),
            ('unknown_customer', '_unknown_customer'),
        ]) }} as rejection_reason

    from ranked

)

select * from validated
