with

activity as (

    select * from {{ ref('customer_rfm') }}

),

scores as (

    select * from {{ source('clv', 'customer_scores') }}

),

profitability as (

    select customer_id, gross_margin_rate from {{ ref('customer_profitability') }}

),

{# the margin rate turns expected revenue into expected margin: the customer's own lifetime gross-margin
   rate, clamped to [0, 1] so a loss-making history never makes CLV negative; the default rate when the
   customer has no revenue to measure it on #}
rated as (

    select
        activity.customer_id,
        activity.frequency,
        activity.recency_days,
        activity.tenure_days,
        activity.avg_repeat_value,
        scores.p_alive,
        scores.expected_purchases,
        scores.expected_avg_value,
        profitability.gross_margin_rate is null as margin_rate_is_default,
        coalesce(
            greatest(
                cast(0 as {{ type_double() }}),
                least(cast(1 as {{ type_double() }}), profitability.gross_margin_rate)
            ),
            cast({{ var('clv_default_margin_rate') }} as {{ type_double() }})
        ) as margin_rate

    from activity
    left join scores on activity.customer_id = scores.customer_id
    left join profitability on activity.customer_id = profitability.customer_id

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(frequency as integer) as frequency,
        cast(recency_days as integer) as recency_days,
        cast(tenure_days as integer) as tenure_days,
        cast(avg_repeat_value as {{ type_double() }}) as avg_repeat_value,
        cast(p_alive as {{ type_double() }}) as p_alive,
        cast(expected_purchases as {{ type_double() }}) as expected_purchases_365d,
        cast(expected_avg_value as {{ type_double() }}) as expected_avg_value,
        cast(margin_rate as {{ type_double() }}) as margin_rate,
        margin_rate_is_default,
        cast(expected_purchases * expected_avg_value * margin_rate as {{ type_double() }}) as clv_12m,
        {{ as_of_date() }} as as_of_date

    from rated

)

select * from final
