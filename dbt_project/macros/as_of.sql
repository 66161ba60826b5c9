{# The run's as-of date D as a SQL date literal; fails loudly when it is missing.
   D is the var `as_of_date` when one is set (a bare `dbt build --vars '{as_of_date: ...}'`, the unit tests'
   overrides) and otherwise the environment variable CVW_AS_OF_DATE, which `cvw` sets for its dbt runs. The
   environment is read only while executing: dbt re-parses the whole project when a --vars value changes,
   and re-parses every file that read an env_var() while parsing when its value changes, so a date passed
   either way would cost a full parse on every new date. Read at execution time, D changes nothing dbt
   parses, and a night's build reuses the partial parse of the night before. #}
{% macro as_of_date() -%}
    {%- set d = var('as_of_date') -%}
    {%- if d is none and execute -%}
        {%- set d = env_var('CVW_AS_OF_DATE', '') or none -%}
    {%- endif -%}
    {%- if d is none and execute -%}
        {{ exceptions.raise_compiler_error("the as-of date is not set: run through `cvw run --as-of YYYY-MM-DD`, or set CVW_AS_OF_DATE, or pass --vars '{as_of_date: YYYY-MM-DD}'") }}
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
