{# Row accounting per entity (SPEC §8): file rows = accepted + quarantined + rejected. The file rows are the
   records counted from the files' bytes by the reader (file_records), not what a parser returned; files loaded
   before that count existed fall back to rows loaded + quarantined. #}
with

manifest as (

    select
        entity,
        sum(coalesce(file_records, rows_loaded + rows_quarantined)) as file_rows,
        sum(rows_quarantined) as quarantined_rows

    from {{ source('ingest', 'file_manifest') }}
    group by 1

),

{% for entity in crm_entities() %}
{{ entity }} as (

    select
        cast('{{ entity }}' as {{ type_text() }}) as entity,
        cast(count(*) as bigint) as raw_rows,
        sum(case when rejection_reason is null then 1 else 0 end) as accepted_rows,
        sum(case when rejection_reason is not null then 1 else 0 end) as rejected_rows

    from {{ ref('int_crm__' ~ entity ~ '_validated') }}

),

{% endfor %}
validated as (

    {% for entity in crm_entities() %}
    select * from {{ entity }}
    {{ 'union all' if not loop.last }}
    {% endfor %}

),

accounted as (

    select
        validated.entity,
        coalesce(manifest.file_rows, 0) as file_rows,
        validated.raw_rows,
        validated.accepted_rows,
        coalesce(manifest.quarantined_rows, 0) as quarantined_rows,
        validated.rejected_rows,
        coalesce(manifest.file_rows, 0)
        = validated.accepted_rows + coalesce(manifest.quarantined_rows, 0) + validated.rejected_rows
            as balanced

    from validated
    left join manifest using (entity)

)

select * from accounted
