{# Landing entities and their row keys (mirrors dags/cvw/contract.py; a test keeps the two equal). #}
{% macro crm_entities() -%}
    {{ return({
        'customers': ['customer_id', 'updated_at'],
        'products': ['product_id'],
        'orders': ['order_id', 'updated_at'],
        'order_lines': ['order_id', 'line_number'],
        'returns': ['return_id'],
        'service_interactions': ['interaction_id'],
        'marketing_contacts': ['contact_id'],
        'consents': ['customer_id', 'channel', 'updated_at'],
        'wallet_surveys': ['survey_id'],
        'installed_base': ['customer_id', 'category', 'installed_as_of_date'],
    }) }}
{%- endmacro %}
