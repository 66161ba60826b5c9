{#- Stage moves between the previous published as-of date (the latest one before D) and D. A customer missing
    on one side is counted from/to 'unknown' (new customers, or the first published date). A date built but
    never published (a failed gate) is not a previous date. -#}
with

history as (

    select customer_id, lifecycle_stage, as_of_date from {{ source('published', 'customer_segments_history') }}

),

previous_date as (

    select max(as_of_date) as from_as_of_date
    from history
    where as_of_date < {{ as_of_date() }}

),

previous_stages as (

    select history.customer_id, history.lifecycle_stage
    from history
    inner join previous_date on history.as_of_date = previous_date.from_as_of_date

),

current_stages as (

    select customer_id, lifecycle_stage from {{ ref('customer_segments') }}

),

moves as (

    select
        coalesce(previous_stages.lifecycle_stage, 'unknown') as from_stage,
        coalesce(current_stages.lifecycle_stage, 'unknown') as to_stage

    from current_stages
    full outer join previous_stages on current_stages.customer_id = previous_stages.customer_id

),

counted as (

    select from_stage, to_stage, count(*) as customers
    from moves
    group by from_stage, to_stage

),

final as (

    select
        cast(previous_date.from_as_of_date as date) as from_as_of_date,
        cast(counted.from_stage as {{ type_text() }}) as from_stage,
        cast(counted.to_stage as {{ type_text() }}) as to_stage,
        cast(counted.customers as bigint) as customers,
        cast(counted.customers as {{ type_double() }}) / sum(counted.customers) over (partition by counted.from_stage)
            as share_of_from_stage,
        counted.from_stage != counted.to_stage as is_change,
        {{ as_of_date() }} as as_of_date

    from counted
    cross join previous_date

)

select * from final
