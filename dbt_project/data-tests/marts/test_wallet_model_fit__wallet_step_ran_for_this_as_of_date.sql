{#- The wallet step (cvw.scoring.step_wallet) wrote wallet_model.* for this run's as-of date, not for another
    run that ran in between: otherwise customer_wallet would join one date's wallets to another date's grid. -#}
select category, customer_type, fitted_as_of
from {{ source('wallet_model', 'fit') }}
where cast(fitted_as_of as date) != {{ as_of_date() }}
