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

{# The next-best-offer candidates of SPEC 4.11, ranked per customer (offer_rank 1 wins): every rule of
   category_affinity from a category the customer bought in the window (`baskets`: customer_id, category) to
   one the customer did not buy there, and, when `excluded` (customer_id, category) is given, not to a category
   listed for the customer there. Ties: higher confidence, then consequent and antecedent by name, so every
   engine picks the same offer. Used by the campaign audience's offer and by the inbound next-best action. #}
{% macro ranked_offers(baskets, excluded=none) -%}
    select
        candidates.*,
        row_number() over (
            partition by candidates.customer_id
            order by
                candidates.lift desc, candidates.confidence desc, candidates.consequent_category,
                candidates.antecedent_category
        ) as offer_rank
    from (
        select
            bought.customer_id,
            rules.antecedent_category,
            rules.consequent_category,
            rules.lift,
            rules.confidence
        from {{ baskets }} as bought
        inner join {{ ref('category_affinity') }} as rules on rules.antecedent_category = bought.category
        left join {{ baskets }} as already
            on already.customer_id = bought.customer_id
            and already.category = rules.consequent_category
        {%- if excluded %}
        left join {{ excluded }} as excluded
            on excluded.customer_id = bought.customer_id
            and excluded.category = rules.consequent_category
        {%- endif %}
        where already.customer_id is null
        {%- if excluded %}
            and excluded.customer_id is null
        {%- endif %}
    ) as candidates
{%- endmacro %}
