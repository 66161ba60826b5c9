{# The wallet model's fit and its leave-survey-out validation as of D (issue 18): one row per validation
   group, as the wallet step (cvw.scoring.step_wallet) wrote it. #}
select
    cast(category as {{ type_text() }}) as category,
    cast(customer_type as {{ type_text() }}) as customer_type,
    cast(surveys as bigint) as surveys,
    cast(calibration_factor as {{ type_double() }}) as calibration_factor,
    cast(mdape_leave_survey_out as {{ type_double() }}) as mdape_leave_survey_out,
    cast(median_estimate_over_survey as {{ type_double() }}) as median_estimate_over_survey,
    cast(quantile as {{ type_double() }}) as quantile,
    cast(training_rows as bigint) as training_rows,
    cast(iterations as integer) as iterations,
    cast(fitted as boolean) as fitted,
    cast(message as {{ type_text() }}) as message,
    {{ as_of_date() }} as as_of_date

from {{ source('wallet_model', 'fit') }}
