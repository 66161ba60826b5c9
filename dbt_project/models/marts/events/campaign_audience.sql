{#- Campaign audience as of D (SPEC 4.11): one row per customer_events row, either eligible (contact today,
    through `channel`, with `offer_category`) or suppressed with exactly one suppression_reason, the first that
    applies of:
      1 no_consent                   no channel whose latest consent on or before D is opt_in
      2 phone_unprofitable           the only opted-in channels require a profitable customer (phone) and
                                     profit_contribution_365d is not above zero
      3 already_contacted_for_event  a contact for the same event type in the last var('event_repeat_days')
      4 cap_7d                       contacts in the 7 days ending on D already reach var('contact_cap_7d')
      5 cap_30d                      contacts in the 30 days ending on D already reach var('contact_cap_30d')
      6 lower_priority_event         the caps leave room for fewer events than the customer has today, and
                                     events that come first (precedence, then priority) took it
    Channel: among the opted-in channels allowed for the customer, the best learned response rate for
    (customer_type, event_type) (int_campaign_response_rates); ties by contact_channels.tie_break_order.
    Priority = response_rate x expected_value, expected_value = max(clv_12m, 0).
    Caps count past contacts (fct_marketing_contacts, all channels) plus the contacts this audience plans: the
    k-th planned event of a customer is eligible only if past + k stays within both caps. -#}
with

events as (

    select * from {{ ref('customer_events') }}

),

customers as (

    select
        customer_id,
        profit_contribution_365d,
        case when clv_12m > 0 then clv_12m else 0 end as expected_value
    from {{ ref('customer_segments') }}

),

channels as (

    select
        consent.customer_id,
        consent.channel,
        consent.may_contact,
        rules.requires_profitable_customer,
        rules.tie_break_order
    from {{ ref('int_customer_channel_consent') }} as consent
    inner join {{ ref('contact_channels') }} as rules on rules.channel = consent.channel

),

contacts as (

    select customer_id, contact_date, event_type
    from ({{ marketing_contacts_with_event_type() }}) as contacts

),

contact_counts as (

    select
        customer_id,
        sum(case when {{ in_window('contact_date', 7) }} then 1 else 0 end) as contacts_7d,
        sum(case when {{ in_window('contact_date', 30) }} then 1 else 0 end) as contacts_30d
    from contacts
    where {{ in_window('contact_date', 30) }}
    group by customer_id

),

repeats as (

    select customer_id, event_type, max(contact_date) as last_contact_date
    from contacts
    where event_type is not null and {{ in_window('contact_date', var('event_repeat_days', 30)) }}
    group by customer_id, event_type

),

{# every (event, channel) the customer may be contacted through, ranked by learned response rate #}
options as (

    select
        events.customer_id,
        events.event_type,
        channels.channel,
        rates.response_rate,
        rates.contacts as cell_contacts,
        rates.responses as cell_responses,
        row_number() over (
            partition by events.customer_id, events.event_type
            order by rates.response_rate desc, channels.tie_break_order
        ) as channel_rank
    from events
    inner join customers on customers.customer_id = events.customer_id
    inner join channels
        on channels.customer_id = events.customer_id
        and channels.may_contact
        and (not channels.requires_profitable_customer or customers.profit_contribution_365d > 0)
    inner join {{ ref('int_campaign_response_rates') }} as rates
        on rates.customer_type = events.customer_type
        and rates.event_type = events.event_type
        and rates.channel = channels.channel

),

consented as (

    select customer_id, count(*) as opted_in_channels
    from channels
    where may_contact
    group by customer_id

),

scored as (

    select
        events.*,
        event_types.precedence,
        best.channel,
        best.response_rate,
        best.cell_contacts,
        best.cell_responses,
        customers.expected_value,
        -- 0 without a channel: such a row is blocked (no_consent, phone_unprofitable) and never planned
        coalesce(best.response_rate, 0) * customers.expected_value as priority,
        coalesce(consented.opted_in_channels, 0) as opted_in_channels,
        repeats.last_contact_date as last_contact_for_event,
        coalesce(contact_counts.contacts_7d, 0) as contacts_7d_before,
        coalesce(contact_counts.contacts_30d, 0) as contacts_30d_before,
        case
            when coalesce(consented.opted_in_channels, 0) = 0 then 'no_consent'
            when best.channel is null then 'phone_unprofitable'
            when repeats.last_contact_date is not null then 'already_contacted_for_event'
        end as blocked_reason
    from events
    inner join customers on customers.customer_id = events.customer_id
    inner join {{ ref('event_types') }} as event_types on event_types.event_type = events.event_type
    left join options as best
        on best.customer_id = events.customer_id
        and best.event_type = events.event_type
        and best.channel_rank = 1
    left join consented on consented.customer_id = events.customer_id
    left join repeats on repeats.customer_id = events.customer_id and repeats.event_type = events.event_type
    left join contact_counts on contact_counts.customer_id = events.customer_id

),

{# the plan: a customer's contactable events in the order they are served #}
planned as (

    select
        scored.*,
        case
            when blocked_reason is null
                then
                    row_number() over (
                        partition by customer_id, case when blocked_reason is null then 0 else 1 end
                        order by precedence, priority desc, event_type
                    )
        end as plan_rank
    from scored

),

{# the first reason that applies; none = eligible (past + plan_rank within both caps) #}
decided as (

    select
        planned.*,
        case
            when blocked_reason is not null then blocked_reason
            when contacts_7d_before >= {{ var('contact_cap_7d', 1) }} then 'cap_7d'
            when contacts_30d_before >= {{ var('contact_cap_30d', 4) }} then 'cap_30d'
            when contacts_7d_before + plan_rank > {{ var('contact_cap_7d', 1) }}
                or contacts_30d_before + plan_rank > {{ var('contact_cap_30d', 4) }}
                then 'lower_priority_event'
        end as reason
    from planned

),

final as (

    select
        cast(customer_id as {{ type_text() }}) as customer_id,
        cast(event_type as {{ type_text() }}) as event_type,
        cast(purpose as {{ type_text() }}) as purpose,
        cast(customer_type as {{ type_text() }}) as customer_type,
        cast(rfm_segment as {{ type_text() }}) as rfm_segment,
        cast(lifecycle_stage as {{ type_text() }}) as lifecycle_stage,
        cast(value_tier as {{ type_text() }}) as value_tier,
        cast(offer_category as {{ type_text() }}) as offer_category,
        cast(no_offer_reason as {{ type_text() }}) as no_offer_reason,
        cast(channel as {{ type_text() }}) as channel,
        cast(opted_in_channels as integer) as opted_in_channels,
        cast(response_rate as {{ type_double() }}) as response_rate,
        cast(cell_contacts as bigint) as response_cell_contacts,
        cast(cell_responses as bigint) as response_cell_responses,
        cast(expected_value as {{ type_double() }}) as expected_value,
        cast(priority as {{ type_double() }}) as priority,
        cast(precedence as integer) as precedence,
        cast(plan_rank as integer) as plan_rank,
        cast(contacts_7d_before as integer) as contacts_7d_before,
        cast(contacts_30d_before as integer) as contacts_30d_before,
        cast(last_contact_for_event as date) as last_contact_for_event,
        cast(reason is null as boolean) as is_eligible,
        cast(reason as {{ type_text() }}) as suppression_reason,
        cast(coalesce(reason, 'eligible') as {{ type_text() }}) as audience_status,
        -- contacts in the 7 / 30 days ending on D once this row is sent (past + plan so far); eligible rows only
        cast(case when reason is null then contacts_7d_before + plan_rank end as integer) as planned_contacts_7d,
        cast(case when reason is null then contacts_30d_before + plan_rank end as integer) as planned_contacts_30d,
        {{ as_of_date() }} as as_of_date

    from decided

)

select * from final
