{{ validate_customer_facts('stg_crm__wallet_surveys', ['survey_id'], [
    ('invalid_value', 'reported_annual_spend < 0'),
]) }}
