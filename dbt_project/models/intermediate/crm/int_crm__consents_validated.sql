{{ validate_customer_facts('stg_crm__consents', ['customer_id', 'channel', 'updated_at'], [
    ('invalid_value', "channel not in ('email', 'sms', 'phone', 'mail') or status not in ('opt_in', 'opt_out')"),
]) }}
