{# The run's as-of date D as a SQL date literal; fails loudly when the var is missing. #}
{% macro as_of_date() -%}
    {%- set d = var('as_of_date') -%}
    {%- if d is none and execute -%}
        {{ exceptions.raise_compiler_error("var 'as_of_date' is not set: run through `cvw run --as-of YYYY-MM-DD` or pass --vars '{as_of_date: YYYY-MM-DD}'") }}
    {%- endif -%}
    cast('{{ d or "1970-01-01" }}' as date)
{%- endmacro %}

{# True when timestamp column `ts` falls on or before D (i.e. before D + 1 day). #}
{% macro on_or_before_as_of(ts) -%}
    {{ ts }} < {{ dbt.dateadd('day', 1, as_of_date()) }}
{%- endmacro %}

{# True when date column `d` lies in the `days` days ending on D: D - days < d <= D. #}
{% macro in_window(d, days) -%}
    ({{ d }} > {{ dbt.dateadd('day', -1 * (days | int), as_of_date()) }} and {{ d }} <= {{ as_of_date() }})
{%- endmacro %}
