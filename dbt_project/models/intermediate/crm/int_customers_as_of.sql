{#- The customer record in force on D, one row per customer known on D, with every validated column
    (birth date included). dim_customers publishes it without direct identifiers; customer_events reads
    the birth date from here, so it never reaches analytics. -#}
with

customers as (

    select * from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

orders as (

    select
        customer_id,
        min(order_ts) as first_order_ts

    from {{ ref('int_orders_as_of') }}
    group by 1

),

{# The version in force on D: the latest with updated_at <= D. A customer who ordered on or before D
   but whose first record is dated later keeps the earliest record (late-arriving master data).
   Nearly every customer has one record, which is that version: only customers with several records are
   sorted (as in int_orders_as_of; the window over all 1M customers was most of this model's time). #}
several_records as (

    select customer_id
    from customers
    group by 1
    having count(*) > 1

),

versions as (

    select
        customers.*,
        cast(1 as bigint) as version_rank,
        {{ on_or_before_as_of('updated_at') }} as known_on_as_of

    from customers
    where not exists (select 1 from several_records where several_records.customer_id = customers.customer_id)

    union all

    select
        customers.*,
        cast(row_number() over (
            partition by customer_id
            order by
                case when {{ on_or_before_as_of('updated_at') }} then 0 else 1 end,
                case when {{ on_or_before_as_of('updated_at') }} then updated_at end desc,
                updated_at
        ) as bigint) as version_rank,
        {{ on_or_before_as_of('updated_at') }} as known_on_as_of

    from customers
    where exists (select 1 from several_records where several_records.customer_id = customers.customer_id)

),

current_version as (

    select versions.*
    from versions
    left join orders using (customer_id)
    where version_rank = 1
        and (known_on_as_of or orders.customer_id is not null)

)

select
    current_version.*,
    orders.first_order_ts

from current_version
left join orders using (customer_id)
