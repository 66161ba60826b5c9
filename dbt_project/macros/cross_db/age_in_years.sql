{# Whole years from `birth_date` to `as_of` (a birthday on as_of counts), with plain date parts only. #}
{% macro age_in_years(birth_date, as_of) -%}
    (
        extract(year from {{ as_of }}) - extract(year from {{ birth_date }})
        - case
            when extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
                > extract(month from {{ as_of }}) * 100 + extract(day from {{ as_of }})
                then 1
            else 0
        end
    )
{%- endmacro %}
