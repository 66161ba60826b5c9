{#- The CLV step (cvw.scoring) wrote clv.* for this run's as-of date, not for another run that ran in
    between: otherwise customer_clv would join one date's scores to another date's customers. -#}
select model, parameter, fitted_as_of
from {{ source('clv', 'model_fit') }}
where fitted_as_of != '{{ var("as_of_date") }}'
