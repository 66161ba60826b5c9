with

interactions as (

    select * from {{ ref('int_crm__service_interactions_validated') }}
    where rejection_reason is null
        and {{ on_or_before_as_of('interaction_ts') }}

),

final as (

    select
        cast(interaction_id as {{ type_text() }}) as interaction_id,
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(interaction_ts as timestamp) as interaction_ts,
        cast(interaction_ts as date) as interaction_date,
        cast(channel as {{ type_text() }}) as channel,
        cast(interaction_type as {{ type_text() }}) as interaction_type,
        cast(duration_minutes as {{ type_double() }}) as duration_minutes,
        cast(satisfaction_score as integer) as satisfaction_score,
        cast(resolved as boolean) as resolved,
        {{ as_of_date() }} as as_of_date

    from interactions

)

select * from final
