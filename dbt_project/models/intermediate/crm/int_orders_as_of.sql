{#- The order in force on D: one row per order placed on or before D, in the version of the latest
    correction delivered on or before D. Every fact model reads orders from here. -#}
with

orders as (

    select * from {{ ref('int_crm__orders_validated') }}
    where rejection_reason is null

),

{# Versions by their time (updated_at, or order_ts without one). The first version is in force from the order
   on, whatever its updated_at says (an export may stamp it later); a later version from its updated_at on. #}
versions as (

    select
        orders.*,
        row_number() over (
            partition by order_id
            order by coalesce(updated_at, order_ts), _loaded_at, _source_file, _line_number
        ) as version_no

    from orders

),

known_on_as_of as (

    select
        versions.*,
        row_number() over (partition by order_id order by version_no desc) as newest_first

    from versions
    where version_no = 1 or {{ on_or_before_as_of('updated_at') }}

),

in_force as (

    select * from known_on_as_of
    where newest_first = 1
        and {{ on_or_before_as_of('order_ts') }}

)

select * from in_force
