{# Wallet and share of wallet (SPEC 4.6, issue 18). Grain: customer x category, the grid int_wallet_grid: every
   customer of dim_customers x every category of the seed category_parameters, plus any category bought
   (completed order line) or surveyed (accepted survey) on or before D that the seed lacks (growth 0, no
   installed-base estimate for it).

   The wallet W is the customer's yearly spend on the category with all suppliers, as of D. Method, first that
   applies:
     1. survey          the latest accepted wallet survey dated on or before D, at most
                        var('wallet_survey_max_age_days') (730) days old, grown to D (int_wallet_surveys_as_of);
     2. installed_base  the latest accepted installed-base row dated on or before D (category in the seed):
                        units_installed / replacement_cycle_years x avg_unit_price x (1 + g)^years;
     3. model_quantile  the wallet model's calibrated high quantile of spend for customers like this one
                        (source wallet_model.scores, written by the wallet step: cvw.wallet_model), for every
                        row of the grid, bought from us or not;
     4. peer_quantile   only when the model was not fitted (var wallet_model_required false and too little
                        data) and the customer bought the category in the value window: int_wallet_peers;
     none               nothing applies: no estimate.
   g = the category's annual_growth_rate, years = days from the source date to D / 365.25.
   W is never below the customer's own 365-day spend on the category: a smaller method estimate is raised to it
   (wallet_capped). share_of_wallet = own / W, wallet_headroom = W - own.
   wallet_confidence: high (survey), medium (installed base, or a model group whose leave-survey-out error is at
   most var('wallet_model_medium_confidence_max_error')), low (other model rows, peers).
   W is money: DECIMAL(18,2), each estimate rounded to the cent where it is made (a growth factor or a quantile
   has more digits), so sums, medians and thresholds downstream are exact and a re-run gives the same bytes. #}

with

grid as (

    select customer_id, category, own_spend_365d from {{ ref('int_wallet_grid') }}

),

category_parameters as (

    select * from {{ ref('category_parameters') }}

),

peers as (

    select * from {{ ref('int_wallet_peers') }}

),

latest_surveys as (

    select * from {{ ref('int_wallet_surveys_as_of') }}

),

model as (

    select * from {{ source('wallet_model', 'scores') }}

),

installed_base as (

    select
        customer_id,
        category,
        installed_as_of_date,
        units_installed,
        row_number() over (partition by customer_id, category order by installed_as_of_date desc) as installed_rank

    from {{ ref('int_crm__installed_base_validated') }}
    where rejection_reason is null
        and installed_as_of_date <= {{ as_of_date() }}

),

latest_installed_base as (

    select * from installed_base
    where installed_rank = 1

),

{# Each method's estimate as of D (null when the method does not apply). #}
method_estimates as (

    select
        grid.customer_id,
        grid.category,
        grid.own_spend_365d,
        latest_surveys.survey_date,
        latest_surveys.survey_estimate,
        latest_installed_base.installed_as_of_date,
        cast(case
            when category_parameters.replacement_cycle_years > 0 and category_parameters.avg_unit_price is not null
                then cast(latest_installed_base.units_installed as {{ type_double() }})
                    / category_parameters.replacement_cycle_years
                    * cast(category_parameters.avg_unit_price as {{ type_double() }})
                    * power(
                        1 + category_parameters.annual_growth_rate,
                        cast(
                            {{ dbt.datediff('latest_installed_base.installed_as_of_date', as_of_date(), 'day') }}
                            as {{ type_double() }}
                        ) / cast(365.25 as {{ type_double() }})
                    )
        end as decimal(18, 2)) as installed_base_estimate,
        cast(model.model_wallet as decimal(18, 2)) as model_estimate,
        model.model_error,
        peers.peer_group,
        peers.peer_count,
        peers.peer_quantile_spend as peer_estimate

    from grid
    left join category_parameters on grid.category = category_parameters.category
    left join latest_surveys
        on grid.customer_id = latest_surveys.customer_id
        and grid.category = latest_surveys.category
    left join latest_installed_base
        on grid.customer_id = latest_installed_base.customer_id
        and grid.category = latest_installed_base.category
    left join model
        on grid.customer_id = model.customer_id
        and grid.category = model.category
    left join peers
        on grid.customer_id = peers.customer_id
        and grid.category = peers.category

),

methods as (

    select
        method_estimates.*,
        case
            when survey_estimate is not null then 'survey'
            when installed_base_estimate is not null then 'installed_base'
            when model_estimate is not null then 'model_quantile'
            when peer_estimate is not null then 'peer_quantile'
            else 'none'
        end as wallet_method,
        coalesce(survey_estimate, installed_base_estimate, model_estimate, peer_estimate) as method_estimate,
        own_spend_365d as own_spend

    from method_estimates

),

wallets as (

    select
        methods.*,
        case when method_estimate < own_spend then own_spend else method_estimate end as wallet_estimate

    from methods

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(category as {{ type_text() }}) as category,
        cast(own_spend_365d as decimal(18, 2)) as own_spend_365d,
        cast(wallet_estimate as decimal(18, 2)) as wallet_estimate,
        cast(method_estimate as decimal(18, 2)) as method_estimate,
        cast(wallet_method as {{ type_text() }}) as wallet_method,
        cast(case wallet_method
            when 'survey' then 'high'
            when 'installed_base' then 'medium'
            when 'model_quantile'
                then case
                        when model_error <= {{ var('wallet_model_medium_confidence_max_error') }} then 'medium'
                        else 'low'
                    end
            when 'peer_quantile' then 'low'
        end as {{ type_text() }}) as wallet_confidence,
        cast(case when wallet_method = 'model_quantile' then model_error end as {{ type_double() }})
            as wallet_expected_error,
        coalesce(method_estimate < own_spend, false) as wallet_capped,
        case
            when wallet_estimate > 0
                then cast(own_spend as {{ type_double() }}) / cast(wallet_estimate as {{ type_double() }})
        end as share_of_wallet,
        cast(wallet_estimate - own_spend as decimal(18, 2)) as wallet_headroom,
        cast(case when wallet_method = 'peer_quantile' then peer_group end as {{ type_text() }}) as peer_group,
        cast(case when wallet_method = 'peer_quantile' then peer_count end as integer) as peer_count,
        cast(case wallet_method
            when 'survey' then survey_date
            when 'installed_base' then installed_as_of_date
        end as date) as source_date,
        {{ as_of_date() }} as as_of_date

    from wallets

)

select * from final
