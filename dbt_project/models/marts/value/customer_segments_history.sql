{#- customer_segments of every as-of date built, one partition per date: a run of D replaces D's rows only
    (delete+insert on DuckDB/PostgreSQL, insert_overwrite of the as_of_date partition on Spark), so
    re-running or backfilling a date is idempotent and never touches other dates. `--full-refresh` leaves it
    alone (full_refresh=false): it holds what earlier dates published. It stays in the warehouse (not in DuckDB's
    audit-marts file, which is rebuilt and copied every night): each publish writes D's rows to a file of its own. -#}
{{ config(
    materialized='incremental',
    database=(target.database if target.type == 'duckdb' else none),
    schema='history',
    incremental_strategy=history_incremental_strategy(),
    unique_key='as_of_date',
    full_refresh=false,
    partition_by=['as_of_date'],
    file_format='parquet',
    on_schema_change='fail'
) }}

select
    customer_id,
    customer_type,
    rfm_segment,
    r_score,
    fm_score,
    value_class,
    purchase_decile,
    share_of_wallet,
    rad_strategy,
    lifecycle_stage,
    p_alive,
    clv_12m,
    value_tier,
    as_of_date

from {{ ref('customer_segments') }}
