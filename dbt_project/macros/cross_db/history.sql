{# Incremental strategy of the per-date history tables: replace one as_of_date's rows. DuckDB and PostgreSQL
   delete the date's rows and insert (unique_key = as_of_date); Spark overwrites the as_of_date partition
   (dbt-spark switches partitionOverwriteMode to DYNAMIC for it). #}
{% macro history_incremental_strategy() -%}
    {{ return(adapter.dispatch('history_incremental_strategy', 'cvw')()) }}
{%- endmacro %}
{% macro default__history_incremental_strategy() -%}{{ return('delete+insert') }}{%- endmacro %}
{% macro spark__history_incremental_strategy() -%}{{ return('insert_overwrite') }}{%- endmacro %}
