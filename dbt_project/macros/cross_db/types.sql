{# Text type for casts: varchar on DuckDB/PostgreSQL, string on Spark. #}
{% macro type_text() -%}
    {{ return(adapter.dispatch('type_text', 'cvw')()) }}
{%- endmacro %}
{% macro default__type_text() -%}varchar{%- endmacro %}
{% macro spark__type_text() -%}string{%- endmacro %}

{# 8-byte float (DuckDB's `float` is 4 bytes, so not dbt.type_float()). #}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'cvw')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}
