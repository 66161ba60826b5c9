{# Rank of a row among rows with the same key; rank > 1 is a duplicate (the first loaded copy wins). #}
{% macro key_rank(key_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _loaded_at, _source_file, _line_number
    )
{%- endmacro %}

{# The first business rule a row breaks, as a reason string; null when the row is accepted.
   `rules` is a list of (reason, condition) pairs, checked in order (SPEC §8). #}
{% macro rejection_reason(rules) -%}
    case
        {%- for reason, condition in rules %}
        when {{ condition }} then '{{ reason }}'
        {%- endfor %}
    end
{%- endmacro %}

{# Validation of an entity that hangs off a customer: duplicates first, then the entity's own rules,
   then the customer must be known (an accepted customer record exists, at any date).
   The flags are computed in one CTE and only the source's columns + rejection_reason come out. #}
{% macro validate_customer_facts(stg_model, key_columns, rules=[]) %}
with

facts as (

    select * from {{ ref(stg_model) }}

),

known_customers as (

    select distinct customer_id as known_customer_id
    from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

validated as (

    select
        facts.*,
        {{ rejection_reason(
            [('duplicate_key', key_rank(key_columns) ~ ' > 1')]
            + rules
            + [('unknown_customer', 'known_customers.known_customer_id is null')]
        ) }} as rejection_reason

    from facts
    left join known_customers on facts.customer_id = known_customers.known_customer_id

)

select * from validated
{% endmacro %}
