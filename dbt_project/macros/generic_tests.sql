{# The combination of `columns` is unique (what dbt_utils.unique_combination_of_columns does; no packages here). #}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{# Fails on every non-null value outside [min_value, max_value]. #}
{% test between(model, column_name, min_value, max_value) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{# Fails on every row where `expression` is not true (false or null). #}
{% test expression_is_true(model, expression) %}
select * from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
