{# Every row that parsed but broke a business rule (SPEC §8), with the first rule it broke.
   Not published to analytics: data engineers read it in the working warehouse. #}
with

{% for entity, key in crm_entities().items() %}
{{ entity }} as (

    select
        cast('{{ entity }}' as {{ type_text() }}) as entity,
        concat_ws(
            '|',
            {%- for k in key %}
            cast({{ k }} as {{ type_text() }}){{ ',' if not loop.last }}
            {%- endfor %}
        ) as record_key,
        _source_file as source_file,
        _line_number as line_number,
        rejection_reason,
        _loaded_at as loaded_at

    from {{ ref('int_crm__' ~ entity ~ '_validated') }}
    where rejection_reason is not null

),

{% endfor %}
unioned as (

    {% for entity in crm_entities() %}
    select * from {{ entity }}
    {{ 'union all' if not loop.last }}
    {% endfor %}

)

select * from unioned
