{{ validate_customer_facts('stg_crm__marketing_contacts', ['contact_id'], [
    ('invalid_value', "channel not in ('email', 'sms', 'phone', 'mail')"),
]) }}
