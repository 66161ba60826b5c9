{#- Category association rules (SPEC 4.11), the base of the next-best offer. A basket is the set of
    categories one customer bought (completed orders) in the var('value_window_days') days ending on D; the
    rule "antecedent -> consequent" reads "customers who bought the antecedent also bought the consequent".
    With n baskets, n_a / n_c baskets holding the antecedent / consequent and n_ac holding both:
    support = n_ac / n, confidence = n_ac / n_a, lift = n_ac * n / (n_a * n_c) (= confidence / support of the
    consequent). Rules with support < var('affinity_min_support') are left out. Set-based: one self-join of
    the baskets per customer (at most categories^2 rows per customer). -#}
with

baskets as (

    {{ customer_baskets() }}

),

basket_count as (

    select count(distinct customer_id) as baskets from baskets

),

items as (

    select category, count(*) as customers from baskets group by category

),

pairs as (

    select
        antecedent.category as antecedent_category,
        consequent.category as consequent_category,
        count(*) as customers_both

    from baskets as antecedent
    inner join baskets as consequent
        on antecedent.customer_id = consequent.customer_id
        and antecedent.category != consequent.category
    group by antecedent.category, consequent.category

),

final as (

    select
        cast(pairs.antecedent_category as {{ type_text() }}) as antecedent_category,
        cast(pairs.consequent_category as {{ type_text() }}) as consequent_category,
        cast(pairs.customers_both as bigint) as customers_both,
        cast(antecedent.customers as bigint) as customers_antecedent,
        cast(consequent.customers as bigint) as customers_consequent,
        cast(basket_count.baskets as bigint) as baskets,
        cast(pairs.customers_both as {{ type_double() }}) / basket_count.baskets as support,
        cast(pairs.customers_both as {{ type_double() }}) / antecedent.customers as confidence,
        cast(pairs.customers_both as {{ type_double() }}) * basket_count.baskets
        / (cast(antecedent.customers as {{ type_double() }}) * consequent.customers) as lift,
        {{ as_of_date() }} as as_of_date

    from pairs
    inner join items as antecedent on pairs.antecedent_category = antecedent.category
    inner join items as consequent on pairs.consequent_category = consequent.category
    cross join basket_count
    where cast(pairs.customers_both as {{ type_double() }}) / basket_count.baskets
        >= {{ var('affinity_min_support') }}

)

select * from final
