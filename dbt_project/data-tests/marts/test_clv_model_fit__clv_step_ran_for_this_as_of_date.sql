{#- The CLV step (cvw.scoring) wrote clv.* for this run's as-of date, not for another run that ran in
    between: otherwise customer_clv would join one date's scores to another date's customers. -#}
select model, parameter, fitted_as_of
from {{ source('clv', 'model_fit') }}
where cast(fitted_as_of as date) != {{ as_of_date() }}
