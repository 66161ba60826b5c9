with

customers as (

    select * from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

orders as (

    select
        customer_id,
        min(order_ts) as first_order_ts

    from {{ ref('int_crm__orders_validated') }}
    where rejection_reason is null
        and {{ on_or_before_as_of('order_ts') }}
    group by 1

),

{# The version in force on D: the latest with updated_at <= D. A customer who ordered on or before D
   but whose first record is dated later keeps the earliest record (late-arriving master data). #}
versions as (

    select
        customers.*,
        row_number() over (
            partition by customer_id
            order by
                case when {{ on_or_before_as_of('updated_at') }} then 0 else 1 end,
                case when {{ on_or_before_as_of('updated_at') }} then updated_at end desc,
                updated_at
        ) as version_rank,
        {{ on_or_before_as_of('updated_at') }} as known_on_as_of

    from customers

),

current_version as (

    select versions.*
    from versions
    left join orders using (customer_id)
    where version_rank = 1
        and (known_on_as_of or orders.customer_id is not null)

),

final as (

    select
        cast(current_version.customer_id as {{ type_text() }}) as customer_id,
        cast(customer_type as {{ type_text() }}) as customer_type,
        cast(gender as {{ type_text() }}) as gender,
        cast(extract(year from birth_date) as integer) as birth_year,
        cast({{ age_in_years('birth_date', as_of_date()) }} as integer) as age_years,
        cast(city as {{ type_text() }}) as city,
        cast(region as {{ type_text() }}) as region,
        cast(country as {{ type_text() }}) as country,
        cast(occupation as {{ type_text() }}) as occupation,
        cast(industry as {{ type_text() }}) as industry,
        cast(employee_count as integer) as employee_count,
        cast(case
            when customer_type != 'B2B' or employee_count is null then null
            when employee_count < {{ var('size_band_small_min_employees', 10) }} then 'micro'
            when employee_count < {{ var('size_band_medium_min_employees', 50) }} then 'small'
            when employee_count < {{ var('size_band_large_min_employees', 250) }} then 'medium'
            else 'large'
        end as {{ type_text() }}) as size_band,
        cast(annual_revenue as decimal(18, 2)) as annual_revenue,
        cast(acquisition_channel as {{ type_text() }}) as acquisition_channel,
        cast(signup_date as date) as signup_date,
        cast(orders.first_order_ts as date) as first_order_date,
        cast(updated_at as timestamp) as record_updated_at,
        {{ as_of_date() }} as as_of_date

    from current_version
    left join orders using (customer_id)

)

select * from final
