{#- The order in force on D: one row per order placed on or before D, in the version of the latest
    correction delivered on or before D. Every fact model reads orders from here. -#}
with

orders as (

    select * from {{ ref('int_crm__orders_validated') }}
    where rejection_reason is null

),

{# Nearly every order has one version: it is in force from its order on, and needs no window. Only the
   orders with corrections are sorted (two windows over all orders cost 4x more at 4M orders). #}
corrected as (

    select order_id
    from orders
    group by 1
    having count(*) > 1

),

single_version as (

    select
        orders.*,
        cast(1 as bigint) as version_no,
        cast(1 as bigint) as newest_first

    from orders
    where not exists (select 1 from corrected where corrected.order_id = orders.order_id)

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
    where exists (select 1 from corrected where corrected.order_id = orders.order_id)

),

known_on_as_of as (

    select
        versions.*,
        row_number() over (partition by order_id order by version_no desc) as newest_first

    from versions
    where version_no = 1 or {{ on_or_before_as_of('updated_at') }}

),

in_force as (

    select * from single_version
    where {{ on_or_before_as_of('order_ts') }}

    union all

    select * from known_on_as_of
    where newest_first = 1
        and {{ on_or_before_as_of('order_ts') }}

)

select * from in_force
