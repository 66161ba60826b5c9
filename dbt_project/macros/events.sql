{# Every marketing contact on or before D with the event it was made for: a contact belongs to event_type E
   when its campaign_id ends with "-<campaign_code>" of E (seed event_types); null for other campaigns
   (newsletters). The one place this rule lives: the learned response rates and the audience's caps and
   repeats read it. #}
{% macro marketing_contacts_with_event_type() -%}
    select contacts.*, event_types.event_type
    from {{ ref('fct_marketing_contacts') }} as contacts
    left join {{ ref('event_types') }} as event_types
        on contacts.campaign_id like '%-' || event_types.campaign_code
{%- endmacro %}

{# A customer's basket for the association rules and the next-best offer: the categories they bought (completed
   orders) in the value_window_days window ending on D. int_customer_category_spend has one row per
   customer x category, so no distinct is needed. #}
{% macro customer_baskets() -%}
    select customer_id, category
    from {{ ref('int_customer_category_spend') }}
    where orders_365d > 0
{%- endmacro %}
