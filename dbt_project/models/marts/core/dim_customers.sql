with

current_version as (

    select * from {{ ref('int_customers_as_of') }}

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
        cast(current_version.first_order_ts as date) as first_order_date,
        cast(updated_at as timestamp) as record_updated_at,
        {{ as_of_date() }} as as_of_date

    from current_version

)

select * from final
