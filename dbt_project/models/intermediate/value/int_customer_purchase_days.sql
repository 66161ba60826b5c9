with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_completed
        and order_date <= {{ as_of_date() }}

),

{# a purchase day is a calendar day with >= 1 completed order; its revenue is the sum over its orders (SPEC 4.1) #}
purchase_days as (

    select
        customer_id,
        order_date as purchase_date,
        count(*) as orders,
        sum(revenue) as revenue

    from orders
    group by customer_id, order_date

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(purchase_date as date) as purchase_date,
        cast(orders as integer) as orders,
        cast(revenue as decimal(18, 2)) as revenue,
        cast(
            row_number() over (partition by customer_id order by purchase_date) as integer
        ) as purchase_day_index,
        {{ as_of_date() }} as as_of_date

    from purchase_days

)

select * from final
