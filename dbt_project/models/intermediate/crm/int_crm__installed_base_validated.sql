{{ validate_customer_facts('stg_crm__installed_base', ['customer_id', 'category', 'installed_as_of_date'], [
    ('negative_quantity', 'units_installed < 0'),
]) }}
