{# A model's `database` config names a DuckDB catalog attached in profiles.yml (the audit marts' `marts` file);
   the server engines keep every model in the target's database. #}
{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {%- if custom_database_name is none or target.type != 'duckdb' -%}
        {{ return(adapter.dispatch('generate_database_name', 'dbt')(none, node)) }}
    {%- else -%}
        {{ custom_database_name | trim }}
    {%- endif -%}
{%- endmacro %}
