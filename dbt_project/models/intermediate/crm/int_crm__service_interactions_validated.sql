{{ validate_customer_facts('stg_crm__service_interactions', ['interaction_id'], [
    ('invalid_value', "interaction_type not in ('inquiry', 'complaint', 'repair', 'support') or satisfaction_score not between 1 and 5 or duration_minutes < 0"),
]) }}
