-- Every customer known on D has exactly one row in customer_segments (one strategy, stage and tier each),
-- and no row belongs to a customer that is not known on D.
with

customers as (

    select customer_id from {{ ref('dim_customers') }}

),

segments as (

    select customer_id, count(*) as n_rows
    from {{ ref('customer_segments') }}
    group by customer_id

)

select
    coalesce(customers.customer_id, segments.customer_id) as customer_id,
    coalesce(segments.n_rows, 0) as n_rows
from customers
full outer join segments on customers.customer_id = segments.customer_id
where segments.n_rows is null or segments.n_rows != 1 or customers.customer_id is null
