{#- The fingerprint of the project and vars the incremental validated models were last built with
    (cvw.dbt.build_fingerprint; cvw passes it as CVW_BUILD_FINGERPRINT). It is written after every validated
    model (the refs below), so a build that stops earlier leaves the old one and the next build compares
    against that. `cvw run` reads it before building: another fingerprint (a changed model, macro, seed or
    var) makes the build a --full-refresh, so an incremental table never mixes rows validated by two
    versions of the rules. The value is read at execution only (as macros/as_of.sql reads the date), so
    a new fingerprint does not make dbt re-parse this file. -#}
-- depends_on: {{ ref('int_crm__customers_validated') }}
-- depends_on: {{ ref('int_crm__products_validated') }}
-- depends_on: {{ ref('int_crm__orders_validated') }}
-- depends_on: {{ ref('int_crm__order_lines_validated') }}
-- depends_on: {{ ref('int_crm__returns_validated') }}
-- depends_on: {{ ref('int_crm__service_interactions_validated') }}
-- depends_on: {{ ref('int_crm__marketing_contacts_validated') }}
-- depends_on: {{ ref('int_crm__consents_validated') }}
-- depends_on: {{ ref('int_crm__wallet_surveys_validated') }}
-- depends_on: {{ ref('int_crm__installed_base_validated') }}
{%- set fingerprint = env_var('CVW_BUILD_FINGERPRINT', '') if execute else '' %}
{%- if fingerprint.strip('0123456789abcdef') != '' %}
    {{- exceptions.raise_compiler_error('CVW_BUILD_FINGERPRINT must be a lowercase hex digest (cvw sets it)') }}
{%- endif %}

select cast('{{ fingerprint }}' as {{ type_text() }}) as fingerprint
