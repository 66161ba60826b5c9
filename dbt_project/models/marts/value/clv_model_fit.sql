select
    cast(model as {{ type_text() }}) as model,
    cast(parameter as {{ type_text() }}) as parameter,
    cast(value as {{ type_double() }}) as value,
    cast(time_unit as {{ type_text() }}) as time_unit,
    cast(n_customers as bigint) as n_customers,
    cast(log_likelihood as {{ type_double() }}) as log_likelihood,
    {{ as_of_date() }} as as_of_date,
    cast(converged as boolean) as converged,
    cast(iterations as integer) as iterations,
    cast(message as {{ type_text() }}) as message

from {{ source('clv', 'model_fit') }}
