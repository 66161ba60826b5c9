{# The wallet's grid and the wallet model's inputs (SPEC 4.6, issue 18): one row per customer of dim_customers
   x category, the categories being those of the seed category_parameters plus any category bought (completed
   order line) or surveyed (accepted survey) on or before D that the seed lacks.

   Each row carries who the customer is (the model's features: type, region, occupation, industry, size band,
   acquisition channel, age, employees, annual revenue, days since signup), the customer's spend with us in the
   category (365-day and lifetime, 0 when never bought; days since the customer's first order annualise it) and
   the survey wallet grown to D where there is one (int_wallet_surveys_as_of). customer_wallet builds on this
   grid; the wallet step (cvw.wallet_model) fits on the rows with spend, calibrates on the surveyed rows and
   scores every row. #}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

category_spend as (

    select * from {{ ref('int_customer_category_spend') }}

),

surveys as (

    select * from {{ ref('int_wallet_surveys_as_of') }}

),

categories as (

    select category from {{ ref('category_parameters') }}
    union
    select category from category_spend
    union
    select category from {{ ref('int_crm__wallet_surveys_validated') }}
    where rejection_reason is null
        and survey_date <= {{ as_of_date() }}

),

final as (

    select
        cast(customers.customer_id as {{ type_text() }}) as customer_id,
        cast(categories.category as {{ type_text() }}) as category,
        cast(customers.customer_type as {{ type_text() }}) as customer_type,
        cast(customers.region as {{ type_text() }}) as region,
        cast(customers.occupation as {{ type_text() }}) as occupation,
        cast(customers.industry as {{ type_text() }}) as industry,
        cast(customers.size_band as {{ type_text() }}) as size_band,
        cast(customers.acquisition_channel as {{ type_text() }}) as acquisition_channel,
        cast(customers.age_years as integer) as age_years,
        cast(customers.employee_count as bigint) as employee_count,
        cast(customers.annual_revenue as decimal(18, 2)) as annual_revenue,
        cast(
            {{ dbt.datediff('customers.signup_date', as_of_date(), 'day') }}
            as integer
        ) as tenure_days,
        cast(
            {{ dbt.datediff('customers.first_order_date', as_of_date(), 'day') }}
            as integer
        ) as days_since_first_order,
        cast(coalesce(category_spend.own_spend_365d, 0) as decimal(18, 2)) as own_spend_365d,
        cast(coalesce(category_spend.spend_lifetime, 0) as decimal(18, 2)) as spend_lifetime,
        cast(surveys.survey_estimate as decimal(18, 2)) as survey_estimate,
        {{ as_of_date() }} as as_of_date

    from customers
    cross join categories
    left join category_spend
        on customers.customer_id = category_spend.customer_id
        and categories.category = category_spend.category
    left join surveys
        on customers.customer_id = surveys.customer_id
        and categories.category = surveys.category

)

select * from final
