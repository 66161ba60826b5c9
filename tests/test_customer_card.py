"""The customer card for inbound contacts (issue 17, SPEC 4.11): customer_next_best_action, recomputed here in
pandas from other published tables (the order lines, returns, category_affinity, customer_events): for every
known customer the same action, reason and offer; never an offer in a category the customer complained about
in the last 30 days; service recovery first for an open high-value complaint; the inbound rate with ten times
the odds of the learned outbound one."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tests.helpers import GENERATED_END, query

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

COMPLAINT_REASONS = ("defective", "wrong_item", "not_as_described", "late_delivery")  # the var's default


def _frame(db, sql: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(query(db, sql), columns=columns)


def _expected(db) -> pd.DataFrame:
    d = GENERATED_END
    lines = _frame(db, "select customer_id, product_id, category, order_date from analytics.fct_order_lines "
                   "where is_completed", ["customer_id", "product_id", "category", "order_date"])
    in_year = lines[(lines.order_date > d - timedelta(days=365)) & (lines.order_date <= d)]
    bought = set(zip(in_year.customer_id, in_year.category, strict=True))
    category_of = dict(zip(lines.product_id, lines.category, strict=False))
    returns = _frame(db, "select customer_id, product_id, return_date, reason from analytics.fct_returns",
                     ["customer_id", "product_id", "return_date", "reason"])
    recent = returns[(returns.return_date > d - timedelta(days=30)) & (returns.return_date <= d)
                     & returns.reason.isin(COMPLAINT_REASONS)]
    complained = {(c, category_of[p]) for c, p in zip(recent.customer_id, recent.product_id, strict=True)}
    rules = sorted(query(db, "select antecedent_category, consequent_category, lift, confidence "
                             "from analytics.category_affinity"),
                   key=lambda r: (-r[2], -r[3], r[1], r[0]))
    recovery = {r[0] for r in query(db, "select customer_id from analytics.customer_events "
                                        "where event_type = 'high_value_complaint'")}
    buyers = {c for c, _ in bought}
    out = []
    for (customer,) in query(db, "select customer_id from analytics.dim_customers"):
        def offers(allow_complained: bool, customer=customer) -> list:
            return [r for r in rules if (customer, r[0]) in bought and (customer, r[1]) not in bought
                    and (allow_complained or (customer, r[1]) not in complained)]

        best = offers(False)
        if customer in recovery:
            row = ("service_recovery", "high_value_complaint", None)
        elif best:
            row = ("offer", "affinity_rule", best[0][1])
        elif offers(True):
            row = ("no_offer", "only_complained_categories", None)
        elif customer not in buyers:
            row = ("no_offer", "no_purchase_in_window", None)
        else:
            row = ("no_offer", "no_rule_to_an_unbought_category", None)
        out.append((customer, *row, sum(1 for c, _ in complained if c == customer)))
    return pd.DataFrame(out, columns=["customer_id", "action", "action_reason", "offer_category",
                                      "complained_categories_30d"]).set_index("customer_id"), complained


def test_the_inbound_card_equals_an_independent_recomputation(generated_nights):
    s, _ = generated_nights
    db = s.analytics_db
    expected, complained = _expected(db)
    got = _frame(db, "select customer_id, action, action_reason, offer_category, complained_categories_30d "
                     "from analytics.customer_next_best_action",
                 ["customer_id", "action", "action_reason", "offer_category", "complained_categories_30d"]
                 ).set_index("customer_id")
    assert len(got) == len(expected) == query(db, "select count(*) from analytics.dim_customers")[0][0]
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index(), check_dtype=False)
    # the rules are exercised on this data: every action, complaints that block an offer
    assert set(got.action) == {"service_recovery", "offer", "no_offer"}
    assert got.complained_categories_30d.sum() > 0
    offered = set(zip(got.index[got.action == "offer"], got.offer_category[got.action == "offer"], strict=True))
    assert not offered & complained


def test_the_inbound_rate_has_ten_times_the_odds_of_the_learned_outbound_rate(generated_nights):
    s, _ = generated_nights
    rates = dict(query(s.warehouse, "select customer_type, max(response_rate) from "
                                    "intermediate.int_campaign_response_rates where event_type = 'wallet_opportunity' "
                                    "group by 1"))
    rows = query(s.analytics_db, "select customer_type, expected_response_rate, expected_value, priority, clv_12m "
                                 "from analytics.customer_next_best_action")
    for customer_type, rate, value, priority, clv in rows:
        r = rates[customer_type]
        assert rate == pytest.approx(10 * r / (1 + 9 * r)) and r < rate < 1
        assert value == pytest.approx(max(clv or 0.0, 0.0)) and priority == pytest.approx(rate * value)
