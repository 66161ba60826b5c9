{# Every customer_wallet row keeps the SPEC 4.6 invariants: a wallet exactly when a method applies, never below
   own spend, share in [0, 1] = own / wallet, headroom = wallet - own >= 0, confidence and source date follow
   the method, peers only for peer_quantile. Returns the rows that break one, with the first problem found. #}
with

wallet as (

    select * from {{ ref('customer_wallet') }}

),

checked as (

    select
        customer_id,
        category,
        case
            when (wallet_method = 'none') != (wallet_estimate is null) then 'estimate present iff a method applies'
            when wallet_estimate < own_spend_365d then 'wallet below own spend'
            when wallet_estimate > 0 and share_of_wallet is null then 'share missing'
            when share_of_wallet < 0 or share_of_wallet > 1 then 'share outside [0, 1]'
            when wallet_headroom < 0 then 'negative headroom'
            when wallet_capped and wallet_estimate != own_spend_365d then 'capped wallet differs from own spend'
            when wallet_method = 'none' and own_spend_365d != 0 then 'own spend in the window without an estimate'
            when wallet_method in ('survey', 'installed_base') and source_date is null then 'source_date missing'
            when wallet_method = 'peer_quantile' and (peer_group is null or peer_count is null or peer_count < 1)
                then 'peer group missing'
            when wallet_method != 'peer_quantile' and peer_group is not null then 'peer group without peers'
            when source_date > as_of_date then 'source after as_of_date'
        end as problem

    from wallet

)

select * from checked
where problem is not null
