"""Category association rules and the next-best offer (SPEC 4.11). `category_affinity`: support, confidence
and lift equal mlxtend's apriori + association_rules on the same customer baskets, built here from the
landing files, to 1e-9. `int_customer_next_best_offer`: equal to a pandas pick over those rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import GENERATED_END, query

pytestmark = pytest.mark.dbt

AS_OF = GENERATED_END  # the shared generated data set (tests/conftest.py), built for its last night
WINDOW, MIN_SUPPORT = 365, 0.01  # the defaults of dbt_project.yml


def _baskets_from_landing(landing):
    """customer x category -> bought (completed order, order day in the window ending on D), from the files."""
    import pandas as pd

    orders = pd.concat(pd.read_csv(f, dtype=str) for f in sorted((landing / "orders").glob("*.csv")))
    lines = pd.concat(pd.read_csv(f, dtype=str) for f in sorted((landing / "order_lines").glob("*.csv")))
    products = pd.concat(pd.read_csv(f, dtype=str) for f in sorted((landing / "products").glob("*.csv")))
    day = pd.to_datetime(orders["order_ts"], utc=True).dt.date
    orders = orders[(orders["status"] == "completed") & (day > AS_OF - timedelta(days=WINDOW)) & (day <= AS_OF)]
    bought = lines.merge(orders[["order_id", "customer_id"]], on="order_id").merge(
        products[["product_id", "category"]], on="product_id"
    )
    return pd.crosstab(bought["customer_id"], bought["category"]).gt(0)


@pytest.fixture(scope="module")
def built(generated_nights):
    s, _ = generated_nights
    return s, _baskets_from_landing(s.landing_dir)


def test_rules_equal_mlxtend(built):
    from mlxtend.frequent_patterns import apriori, association_rules

    s, baskets = built
    got = {
        (a, c): row
        for a, c, *row in query(
            s.warehouse,
            "select antecedent_category, consequent_category, support, confidence, lift, customers_both, baskets "
            "from marts.analytics.category_affinity",
        )
    }
    itemsets = apriori(baskets, min_support=MIN_SUPPORT, use_colnames=True, max_len=2)
    rules = association_rules(itemsets, num_itemsets=len(baskets), metric="lift", min_threshold=0.0)
    want = {
        (next(iter(r.antecedents)), next(iter(r.consequents))): (r.support, r.confidence, r.lift)
        for r in rules.itertuples()
    }
    assert len(want) > 20  # the generated baskets do hold many pairs
    assert set(got) == set(want)
    for pair, (support, confidence, lift) in want.items():
        assert got[pair][:3] == pytest.approx((support, confidence, lift), rel=1e-9, abs=1e-12), pair
        assert got[pair][4] == len(baskets)
    # lift is symmetric, confidence is not
    assert all(got[(a, c)][2] == pytest.approx(got[(c, a)][2], rel=1e-12) for a, c in got)


def test_next_best_offer_is_the_best_rule_to_an_unbought_category(built):
    s, baskets = built
    rules = query(s.warehouse, "select antecedent_category, consequent_category, lift, confidence "
                               "from marts.analytics.category_affinity")
    customers = [r[0] for r in query(s.warehouse, "select customer_id from marts.analytics.dim_customers")]
    want = {}
    for customer in customers:
        bought = set(baskets.columns[baskets.loc[customer]]) if customer in baskets.index else set()
        options = sorted(
            ((-lift, -conf, c, a) for a, c, lift, conf in rules if a in bought and c not in bought)
        )
        if options:
            want[customer] = (options[0][2], options[0][3], None)
        else:
            want[customer] = (None, None, "no_rule_to_an_unbought_category" if bought else "no_purchase_in_window")
    got = {
        c: (offer, because, reason)
        for c, offer, because, reason in query(
            s.warehouse,
            "select customer_id, offer_category, offer_because_of_category, no_offer_reason "
            "from intermediate.int_customer_next_best_offer",
        )
    }
    assert got == want
    reasons = [v[2] for v in want.values()]
    # the data has customers with an offer and customers without a purchase in the window
    assert reasons.count(None) > 100 and "no_purchase_in_window" in reasons
