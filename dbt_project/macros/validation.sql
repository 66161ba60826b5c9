{# Rank of a row among rows with the same key; rank > 1 is a duplicate (the first loaded copy wins). #}
{% macro key_rank(key_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _loaded_at, _source_file, _line_number
    )
{%- endmacro %}

{# The first business rule a row breaks, as a reason string; null when the row is accepted.
   `rules` is a list of (reason, condition) pairs, checked in order (SPEC §8). #}
{% macro rejection_reason(rules) -%}
    case
        {%- for reason, condition in rules %}
        when {{ condition }} then '{{ reason }}'
        {%- endfor %}
    end
{%- endmacro %}

{# Validation of an entity that hangs off a customer: duplicates first, then the entity's own rules,
   then the customer must be known (an accepted customer record exists, at any date).
   The flags are computed in one CTE and only the source's columns + rejection_reason come out. #}
{% macro validate_customer_facts(stg_model, key_columns, rules=[]) %}
{%- set recheck = ['unknown_customer'] %}
{{ validated_config() }}
with

facts as (

    {{ validation_input(stg_model, recheck=recheck) }}

),

known_customers as (

    select distinct customer_id as known_customer_id
    from {{ ref('int_crm__customers_validated') }}
    where rejection_reason is null

),

validated as (

    select
        facts.*,
        {{ rejection_reason(
            [('duplicate_key', is_duplicate(key_columns))]
            + rules
            + [('unknown_customer', 'known_customers.known_customer_id is null')]
        ) }} as rejection_reason

    from facts
    left join known_customers on facts.customer_id = known_customers.known_customer_id
    {{- join_prior_keys(stg_model, key_columns) }}

)

{{ validated_output(recheck) }}
{% endmacro %}

{# ---- incremental validation (issue 16) -----------------------------------------------------------------
   A validated model is a function of raw alone (never of D), so a row is validated once, when it arrives.
   On an incremental build a validated model reads only
     * the staging rows loaded since its last build (`_loaded_at` later than its newest row: ingest stamps one
       load time per run, always later than the runs before it), and
     * its own rows rejected before for a reason that can go away (`recheck`: a reference that had not
       arrived yet, e.g. an order before its customer),
   and replaces those rows by (_source_file, _line_number) (delete+insert). A row that was accepted stays
   accepted: the accepted sets it is checked against (customers, orders, products) only grow, and the first
   loaded copy of a key stays the first. `cvw run --full-refresh` (and a changed fingerprint, cvw.dbt)
   rebuilds them from raw; tests/test_incremental.py checks both give the same rows.
   Spark's Parquet tables have no delete: there a validated model is partitioned by `_validation_batch` and
   built with insert_overwrite (only the partitions a build writes are replaced). A build writes its accepted
   and finally rejected rows to a new partition `rows_<dbt invocation id>`, and its rows rejected for a reason
   that can go away to `recheck_<invocation id>`; a post-hook then drops the recheck partitions of earlier
   builds, whose rows this build has just re-checked and written again (validated_output,
   drop_rechecked_batches). A --full-refresh writes everything to one partition of each kind. #}
{% macro validated_config() -%}
    {%- if target.type == 'spark' -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['_validation_batch'],
        file_format='parquet',
        on_schema_change='fail',
        post_hook=["{{ drop_rechecked_batches() }}"]
    ) }}
    {%- else -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['_source_file', '_line_number'],
        on_schema_change='fail'
    ) }}
    {%- endif -%}
{%- endmacro %}

{# The rows a validated model writes, from its `validated` CTE; on Spark with their partition (above). #}
{% macro validated_output(recheck=[]) -%}
    select *
    {%- if target.type == 'spark' %},
        {%- if recheck %}
        case when rejection_reason in ('{{ recheck | join("', '") }}') then 'recheck_{{ invocation_id }}'
            else 'rows_{{ invocation_id }}' end as _validation_batch
        {%- else %}
        'rows_{{ invocation_id }}' as _validation_batch
        {%- endif %}
    {%- endif %}
    from validated
{%- endmacro %}

{# Spark post-hook of a validated model: drop the recheck partitions of earlier builds (this build re-checked
   their rows and wrote them to its own partitions). A statement that does nothing when there are none. #}
{% macro drop_rechecked_batches() -%}
    {%- set keep = 'recheck_' ~ invocation_id -%}
    {%- set stale = [] -%}
    {%- if execute and target.type == 'spark' -%}
        {%- for row in run_query('show partitions ' ~ this) -%}
            {%- set value = row[0].split('=', 1)[1] -%}
            {%- if value.startswith('recheck_') and value != keep -%}{%- do stale.append(value) -%}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if stale -%}
    alter table {{ this }} drop if exists
        {%- for value in stale %} partition (_validation_batch = '{{ value }}'){{ ',' if not loop.last }}{% endfor %}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{# The newest load time already validated (a scalar subquery). #}
{% macro validated_until() -%}
    (select coalesce(max(_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) from {{ this }})
{%- endmacro %}

{# The rows this build validates (see above): a select with the staging model's columns. #}
{% macro validation_input(stg_model, recheck=[]) -%}
    select * from {{ ref(stg_model) }}
    {%- if is_incremental() %}
    where _loaded_at > {{ validated_until() }}
    {%- if recheck %}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower')
                      | reject('in', ['rejection_reason', '_validation_batch']) | list %}
    union all
    select {% for c in columns %}{{ adapter.quote(c) }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ this }}
    where rejection_reason in ('{{ recheck | join("', '") }}')
    {%- endif %}
    {%- endif %}
{%- endmacro %}

{# duplicate_key: a row whose key an earlier loaded row has. On an incremental build the earlier row may be
   one validated before: a new row whose key is among them is a duplicate too (`prior_keys`, joined by
   join_prior_keys). Rows re-checked from this model are never newer than those. #}
{% macro is_duplicate(key_columns) -%}
    {%- if is_incremental() -%}
    ({{ key_rank(key_columns) }} > 1 or (prior_keys._prior_key_0 is not null and _loaded_at > {{ validated_until() }}))
    {%- else -%}
    {{ key_rank(key_columns) }} > 1
    {%- endif -%}
{%- endmacro %}

{# The keys validated before that a new row also has (a left join; nothing on a full build). `stg_model`:
   where the new rows come from; only keys whose first column a new row has are looked up. #}
{% macro join_prior_keys(stg_model, key_columns) -%}
    {%- if is_incremental() %}
    left join (
        select distinct
            {%- for k in key_columns %}
            {{ k }} as _prior_key_{{ loop.index0 }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ this }}
        where {{ key_columns[0] }} in (
            select {{ key_columns[0] }} from {{ ref(stg_model) }} where _loaded_at > {{ validated_until() }}
        )
    ) as prior_keys
        on {% for k in key_columns %}prior_keys._prior_key_{{ loop.index0 }} = {{ k }}{{ ' and ' if not loop.last }}{% endfor %}
    {%- endif %}
{%- endmacro %}
