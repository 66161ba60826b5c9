{#
  A contract's `not_null` constraints, enforced on Spark too. DuckDB and PostgreSQL create a contracted table
  with `not null` columns and fail the insert of a null; dbt-spark only runs `alter column set not null`,
  which Parquet tables (this warehouse's format) do not support. This override of dbt-spark's
  `persist_constraints` (called by its table materialization right after the write, and by the incremental
  one only when it creates or fully refreshes the table) counts the nulls of every not_null column in one
  query and fails the model naming the columns, so a null fails the build on every engine and nothing is
  published. The constraints in the model YAML are the one list; an incremental model keeps not_null data
  tests beside them for the nights that append.
#}
{% macro spark__persist_constraints(relation, model) %}
  {%- if config.get('contract').enforced -%}
    {%- set columns = [] -%}
    {%- for name, column in model.columns.items() -%}
      {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}
        {%- do columns.append(adapter.quote(name) if column.quote else name) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- if columns -%}
      {%- set check -%}
        select {% for c in columns %}count_if({{ c }} is null){{ ', ' if not loop.last }}{% endfor %}
        from {{ relation }}
      {%- endset -%}
      {%- set counts = run_query(check).rows[0] -%}
      {%- set failed = [] -%}
      {%- for c in columns -%}
        {%- if counts[loop.index0] > 0 -%}
          {%- do failed.append(c ~ ' (' ~ counts[loop.index0] ~ ' rows)') -%}
        {%- endif -%}
      {%- endfor -%}
      {%- if failed -%}
        {{ exceptions.raise_compiler_error('NOT NULL constraint failed on ' ~ relation ~ ': ' ~ failed | join(', ')) }}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}
