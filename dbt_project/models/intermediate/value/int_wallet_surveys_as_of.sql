{# The survey wallet as of D (SPEC 4.6, method 1): per customer x category, the latest accepted wallet survey
   dated on or before D, kept when it is at most var('wallet_survey_max_age_days') (730) days old, grown to D:
   survey_estimate = reported_annual_spend x (1 + g)^years, g = the category's annual_growth_rate (0 for a
   category the seed lacks), years = days from the survey to D / 365.25, rounded to the cent.
   Read by customer_wallet (the survey method) and by the wallet model (cvw.wallet_model), which calibrates
   and validates on it and never trains on it. When the latest survey is too old, an older one is not used
   either. #}

with

surveys as (

    select
        customer_id,
        category,
        survey_id,
        survey_date,
        reported_annual_spend,
        row_number() over (
            partition by customer_id, category
            order by survey_date desc, survey_id desc
        ) as survey_rank

    from {{ ref('int_crm__wallet_surveys_validated') }}
    where rejection_reason is null
        and survey_date <= {{ as_of_date() }}

),

latest as (

    select * from surveys
    where survey_rank = 1
        and {{ dbt.datediff('survey_date', as_of_date(), 'day') }}
        <= {{ var('wallet_survey_max_age_days') }}

),

final as (

    select
        cast(latest.customer_id as {{ type_text() }}) as customer_id,
        cast(latest.category as {{ type_text() }}) as category,
        cast(latest.survey_id as {{ type_text() }}) as survey_id,
        cast(latest.survey_date as date) as survey_date,
        cast(latest.reported_annual_spend as decimal(18, 2)) as reported_annual_spend,
        cast(
            cast(latest.reported_annual_spend as {{ type_double() }})
            * power(
                1 + coalesce(category_parameters.annual_growth_rate, 0),
                cast(
                    {{ dbt.datediff('latest.survey_date', as_of_date(), 'day') }}
                    as {{ type_double() }}
                )
                / cast(365.25 as {{ type_double() }})
            ) as decimal(18, 2)
        ) as survey_estimate,
        {{ as_of_date() }} as as_of_date

    from latest
    left join {{ ref('category_parameters') }} as category_parameters
        on latest.category = category_parameters.category

)

select * from final
