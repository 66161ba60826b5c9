{# The date a landing file is named after (...YYYY-MM-DD... or ...YYYYMMDD... in its last path part),
   null when the name carries none. #}
{% macro file_date(source_file) -%}
    {{ return(adapter.dispatch('file_date', 'cvw')(source_file)) }}
{%- endmacro %}

{% macro default__file_date(source_file) -%}
    cast(coalesce(
        try_strptime(regexp_extract({{ source_file }}, '([0-9]{4}-[0-9]{2}-[0-9]{2})[^/]*$', 1), '%Y-%m-%d'),
        try_strptime(regexp_extract({{ source_file }}, '([0-9]{8})[^/]*$', 1), '%Y%m%d')
    ) as date)
{%- endmacro %}

{% macro postgres__file_date(source_file) -%}
    coalesce(
        to_date(substring({{ source_file }} from '([0-9]{4}-[0-9]{2}-[0-9]{2})[^/]*$'), 'YYYY-MM-DD'),
        to_date(substring({{ source_file }} from '([0-9]{8})[^/]*$'), 'YYYYMMDD')
    )
{%- endmacro %}

{% macro spark__file_date(source_file) -%}
    cast(coalesce(
        try_to_timestamp(nullif(regexp_extract({{ source_file }}, '([0-9]{4}-[0-9]{2}-[0-9]{2})[^/]*$', 1), ''), 'yyyy-MM-dd'),
        try_to_timestamp(nullif(regexp_extract({{ source_file }}, '([0-9]{8})[^/]*$', 1), ''), 'yyyyMMdd')
    ) as date)
{%- endmacro %}
