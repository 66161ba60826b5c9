{# The combination of `columns` is unique (what dbt_utils.unique_combination_of_columns does; no packages here). #}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
