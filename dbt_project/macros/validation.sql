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

{# SQL list literal: ('a', 'b') #}
{% macro in_list(values) -%}
    ({% for v in values %}'{{ v }}'{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{# Validation of an entity that hangs off a customer: duplicates first, then the entity's own rules,
   then the customer must be known (an accepted customer record exists, at any date). #}
{% macro validate_customer_facts(stg_model, key_columns, rules=[]) %}
with

facts as (

    select * from {{ ref(stg_model) }}

),

known_customers as (

    select distinct customer_id
    from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

ranked as (

    select
        facts.*,
        {{ key_rank(key_columns) }} as _key_rank,
        known_customers.customer_id is null as _unknown_customer

    from facts
    left join known_customers using (customer_id)

),

validated as (

    select
        * exclude (_key_rank, _unknown_customer),
        {{ rejection_reason([('duplicate_key', '_key_rank > 1')] + rules + [('unknown_customer', '_unknown_customer')]) }}
            as rejection_reason

    from ranked

)

select * from validated
{% endmacro %}
