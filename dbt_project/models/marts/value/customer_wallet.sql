{# Wallet and share of wallet (SPEC 4.6). Grain: customer x category, for every customer of dim_customers and
   every category of the seed category_parameters, plus any category bought (completed order line) or surveyed
   (accepted survey) on or before D that the seed lacks (growth 0, no installed-base estimate for it).

   The wallet W is the customer's yearly spend on the category with all suppliers, as of D. Method, first that
   applies:
     1. survey          the latest accepted wallet survey dated on or before D, used when it is at most
                        var('wallet_survey_max_age_days') (730) days old: reported_annual_spend x (1 + g)^years;
     2. installed_base  the latest accepted installed-base row dated on or before D (category in the seed):
                        units_installed / replacement_cycle_years x avg_unit_price x (1 + g)^years;
     3. peer_quantile   the customer bought the category in the value window: the peer quantile of
                        int_wallet_peers (peer group and count kept);
     none               nothing applies (no survey, no installed base, no purchase in the window): no estimate.
   g = the category's annual_growth_rate, years = days from the source date to D / 365.25.
   W is never below the customer's own 365-day spend on the category: a smaller method estimate is raised to it
   (wallet_capped). share_of_wallet = own / W, wallet_headroom = W - own.
   W is money: DECIMAL(18,2), each estimate rounded to the cent where it is made (a growth factor or a peer
   quantile has more digits), so sums, medians and thresholds downstream are exact and a re-run gives the same
   bytes. #}

with

customers as (

    select customer_id from {{ ref('dim_customers') }}

),

category_parameters as (

    select * from {{ ref('category_parameters') }}

),

category_spend as (

    select * from {{ ref('int_customer_category_spend') }}

),

peers as (

    select * from {{ ref('int_wallet_peers') }}

),

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

{# The latest survey only: when it is too old, an even older one is not used either. #}
latest_surveys as (

    select * from surveys
    where survey_rank = 1
        and {{ dbt.datediff('survey_date', as_of_date(), 'day') }}
        <= {{ var('wallet_survey_max_age_days') }}

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

categories as (

    select category from category_parameters
    union
    select category from category_spend
    union
    select category from surveys

),

grid as (

    select
        customers.customer_id,
        categories.category

    from customers
    cross join categories

),

{# Each method's estimate as of D (null when the method does not apply). #}
method_estimates as (

    select
        grid.customer_id,
        grid.category,
        coalesce(category_spend.own_spend_365d, 0) as own_spend_365d,
        latest_surveys.survey_date,
        cast(
            cast(latest_surveys.reported_annual_spend as {{ type_double() }})
            * power(
                1 + coalesce(category_parameters.annual_growth_rate, 0),
                cast(
                    {{ dbt.datediff('latest_surveys.survey_date', as_of_date(), 'day') }}
                    as {{ type_double() }}
                )
                / cast(365.25 as {{ type_double() }})
            ) as decimal(18, 2)
        ) as survey_estimate,
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
        peers.peer_group,
        peers.peer_count,
        peers.peer_quantile_spend as peer_estimate

    from grid
    left join category_spend
        on grid.customer_id = category_spend.customer_id
        and grid.category = category_spend.category
    left join category_parameters on grid.category = category_parameters.category
    left join latest_surveys
        on grid.customer_id = latest_surveys.customer_id
        and grid.category = latest_surveys.category
    left join latest_installed_base
        on grid.customer_id = latest_installed_base.customer_id
        and grid.category = latest_installed_base.category
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
            when peer_estimate is not null then 'peer_quantile'
            else 'none'
        end as wallet_method,
        coalesce(survey_estimate, installed_base_estimate, peer_estimate) as method_estimate,
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
            when 'peer_quantile' then 'low'
        end as {{ type_text() }}) as wallet_confidence,
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
