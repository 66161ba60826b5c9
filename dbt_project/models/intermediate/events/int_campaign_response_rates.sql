{#- Learned response rates (SPEC 4.11): per customer_type x event_type x channel, from every marketing contact on
    or before D that belongs to an event (campaign_id ends with "-<campaign_code>" of the event_types seed).
    rate = (responses + w x overall) / (contacts + w): the cell's rate shrunk towards the overall response rate
    of event contacts, a Beta prior with w = var('response_prior_weight') pseudo-contacts; a cell without
    contacts gets the overall rate. Every cell of the grid is present, so the audience always finds a rate.
    Tomorrow's contacts and responses feed the next run's rates. -#}
with

contacts as (

    select
        customers.customer_type,
        contacts.event_type,
        contacts.channel,
        case when contacts.responded then 1 else 0 end as responded
    from ({{ marketing_contacts_with_event_type() }}) as contacts
    inner join {{ ref('dim_customers') }} as customers on customers.customer_id = contacts.customer_id
    where contacts.event_type is not null

),

overall as (

    select
        coalesce(
            cast(sum(responded) as {{ type_double() }}) / nullif(count(*), 0),
            {{ var('response_default_rate', 0.05) }}
        ) as overall_rate
    from contacts

),

cells as (

    select customer_type, event_type, channel, count(*) as contacts, sum(responded) as responses
    from contacts
    group by customer_type, event_type, channel

),

grid as (

    select customer_types.customer_type, event_types.event_type, channels.channel
    from (select distinct customer_type from {{ ref('dim_customers') }}) as customer_types
    cross join {{ ref('event_types') }} as event_types
    cross join {{ ref('contact_channels') }} as channels

),

final as (

    select
        cast(grid.customer_type as {{ type_text() }}) as customer_type,
        cast(grid.event_type as {{ type_text() }}) as event_type,
        cast(grid.channel as {{ type_text() }}) as channel,
        cast(coalesce(cells.contacts, 0) as bigint) as contacts,
        cast(coalesce(cells.responses, 0) as bigint) as responses,
        cast(overall.overall_rate as {{ type_double() }}) as prior_rate,
        cast(
            (coalesce(cells.responses, 0) + {{ var('response_prior_weight', 20) }} * overall.overall_rate)
            / (coalesce(cells.contacts, 0) + {{ var('response_prior_weight', 20) }})
            as {{ type_double() }}
        ) as response_rate,
        {{ as_of_date() }} as as_of_date

    from grid
    cross join overall
    left join cells
        on cells.customer_type = grid.customer_type
        and cells.event_type = grid.event_type
        and cells.channel = grid.channel

)

select * from final
