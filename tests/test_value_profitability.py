"""Profitability, cost to serve, purchase deciles and Pareto (SPEC 4.3-4.5) on generated data, checked
against an independent pandas/numpy computation from the fact tables and the seed CSV."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.helpers import GENERATED, GENERATED_END, REPO, private_copy, query

pytestmark = [pytest.mark.integration, pytest.mark.dbt]

AS_OF = GENERATED_END  # the shared generated data set (tests/conftest.py), built for its last night
WINDOW_DAYS = 365  # var value_window_days (default)
TOP_DECILES = 2  # var top_deciles
PARETO_TOP_SHARE = Decimal("0.2")  # var pareto_top_share
PARETO_THRESHOLD = 0.5  # var pareto_profit_share_threshold
COST_SEED = REPO / "dbt_project" / "seeds" / "cost_parameters.csv"
MONEY = [
    "revenue", "gross_margin", "service_cost", "return_cost", "marketing_cost", "cost_to_serve", "profit_contribution",
]


def _frame(settings, sql: str, columns: list[str]):
    import pandas as pd

    return pd.DataFrame(query(settings.warehouse, sql), columns=columns)


def _profitability(settings):
    cols = ["customer_id", *[f"{m}_{h}" for h in ("365d", "lifetime") for m in MONEY],
            "gross_margin_rate", "is_unprofitable", "purchase_decile", "value_class"]
    return _frame(settings, f"select {', '.join(cols)} from marts.analytics.customer_profitability", cols).set_index(
        "customer_id"
    )


@pytest.fixture(scope="module")
def built(generated_nights):
    """The shared generated data set: 2,500 customers over two years (so the 365-day window and lifetime
    differ), run through the pipeline for AS_OF."""
    return generated_nights[0]


@pytest.fixture(scope="module")
def expected(built):
    """customer_profitability's money columns in cents, computed in pandas from the facts and the seed."""
    import pandas as pd

    start = AS_OF - timedelta(days=WINDOW_DAYS)  # window: start < d <= AS_OF

    def cents(col):
        return col.map(lambda v: int(Decimal(v) * 100))

    def in_window(d):
        return (d > start) & (d <= AS_OF)

    customers = _frame(built, "select customer_id from marts.analytics.dim_customers", ["customer_id"]).set_index("customer_id")
    lines = _frame(built, "select customer_id, order_date, is_completed, quantity, unit_price, discount_amount, "
                          "unit_cost from marts.analytics.fct_order_lines", ["customer_id", "d", "completed", "q", "p", "disc", "c"])
    lines = lines[lines["completed"]]
    lines = lines.assign(
        revenue=lines["q"] * cents(lines["p"]) - cents(lines["disc"]),
        margin=lines["q"] * (cents(lines["p"]) - cents(lines["c"])) - cents(lines["disc"]),
    )
    returns = _frame(built, "select r.customer_id, r.return_date, r.refund_amount, r.quantity * l.unit_cost "
                            "from marts.analytics.fct_returns r join (select distinct order_id, product_id, unit_cost "
                            "from marts.analytics.fct_order_lines) l using (order_id, product_id)",
                     ["customer_id", "d", "refund", "back"])
    returns = returns.assign(refund=cents(returns["refund"]), back=cents(returns["back"]))

    seed = pd.read_csv(COST_SEED, dtype=str)
    seed["unit_cost"] = cents(seed["unit_cost"])

    def unit_cost(kind: str, itype: str, channel: str | None) -> int:
        """Most specific seed row: exact interaction_type beats `*`, then exact channel beats `*`."""
        rows = seed[(seed.cost_kind == kind) & seed.interaction_type.isin([itype, "*"])
                    & seed.channel.isin([channel or "*", "*"])]
        assert len(rows), f"no cost for {kind}/{itype}/{channel}"
        rank = (rows.interaction_type == "*").astype(int) * 2 + (rows.channel == "*").astype(int)
        return int(rows.loc[rank.idxmin(), "unit_cost"])

    service = _frame(built, "select customer_id, interaction_date, interaction_type, channel "
                            "from marts.analytics.fct_service_interactions", ["customer_id", "d", "t", "ch"])
    service["cost"] = [unit_cost("service_interaction", t, ch) for t, ch in zip(service.t, service.ch, strict=True)]
    contacts = _frame(built, "select customer_id, contact_date, channel from marts.analytics.fct_marketing_contacts",
                      ["customer_id", "d", "ch"])
    contacts["cost"] = [unit_cost("marketing_contact", "*", ch) for ch in contacts.ch]
    returns["cost"] = unit_cost("return", "*", "*")

    out = pd.DataFrame(index=customers.index)
    for horizon, keep in (("365d", in_window), ("lifetime", lambda d: d <= AS_OF)):
        def total(df, col, keep=keep):
            return df[keep(df["d"])].groupby("customer_id")[col].sum().reindex(out.index, fill_value=0)

        out[f"revenue_{horizon}"] = total(lines, "revenue")
        out[f"gross_margin_{horizon}"] = total(lines, "margin") - total(returns, "refund") + total(returns, "back")
        out[f"service_cost_{horizon}"] = total(service, "cost")
        out[f"return_cost_{horizon}"] = total(returns, "cost")
        out[f"marketing_cost_{horizon}"] = total(contacts, "cost")
        out[f"cost_to_serve_{horizon}"] = (
            out[f"service_cost_{horizon}"] + out[f"return_cost_{horizon}"] + out[f"marketing_cost_{horizon}"]
        )
        out[f"profit_contribution_{horizon}"] = out[f"gross_margin_{horizon}"] - out[f"cost_to_serve_{horizon}"]
    return out.astype("int64")


def test_margin_and_cost_to_serve_equal_an_independent_computation(built, expected):
    got = _profitability(built)
    assert len(got) == len(expected) == GENERATED["customers"] and set(got.index) == set(expected.index)
    assert expected["service_cost_365d"].sum() > 0 and expected["marketing_cost_365d"].sum() > 0
    assert expected["return_cost_365d"].sum() > 0
    assert (expected["revenue_lifetime"] > expected["revenue_365d"]).any()  # the window cuts something
    for col in expected.columns:
        got_cents = got[col].map(lambda v: int(v * 100)).reindex(expected.index)
        diff = got_cents[got_cents != expected[col]]
        assert diff.empty, f"{col}: {len(diff)} customers differ, e.g. {diff.index[:3].tolist()}"
    rev, gm = got["revenue_lifetime"].astype(float), got["gross_margin_lifetime"].astype(float)
    for cid, rate in got["gross_margin_rate"].items():
        if rev[cid] > 0:
            assert rate == pytest.approx(gm[cid] / rev[cid], rel=1e-12), cid
        else:
            assert rate is None or math.isnan(rate), cid


def test_deciles_and_value_classes_follow_their_rules(built, expected):
    got = _profitability(built)
    active = expected[expected["revenue_365d"] > 0].reset_index()
    n = len(active)
    assert n >= 100
    # decile 1 = most profitable, ties by customer_id; ntile: the first n mod 10 deciles get one more
    ranked = active.sort_values(["profit_contribution_365d", "customer_id"], ascending=[False, True])
    sizes = [n // 10 + (1 if k < n % 10 else 0) for k in range(10)]
    want = {cid: k + 1 for k, cid in zip(
        [k for k, size in enumerate(sizes) for _ in range(size)], ranked["customer_id"], strict=True)}
    deciles = got["purchase_decile"]
    assert {cid: int(d) for cid, d in deciles.items() if d == d and d is not None} == want
    counts = deciles.dropna().value_counts()
    assert counts.max() - counts.min() <= 1 and len(counts) == 10

    for cid, row in got.iterrows():
        profit, revenue = expected.loc[cid, "profit_contribution_365d"], expected.loc[cid, "revenue_365d"]
        assert bool(row["is_unprofitable"]) == (profit <= 0), cid
        if revenue <= 0:
            want_class = None
        elif want[cid] <= TOP_DECILES and profit > 0:
            want_class = 1
        elif profit <= 0:
            want_class = 3
        else:
            want_class = 2
        got_class = None if row["value_class"] != row["value_class"] or row["value_class"] is None else int(
            row["value_class"])
        assert got_class == want_class, cid
    assert set(got["value_class"].dropna().astype(int)) == {1, 2, 3}  # the data exercise all three


def test_deciles_are_the_same_when_built_again(built, tmp_path):
    from cvw.dbt import run_dbt

    s = private_copy(built, tmp_path / "copy")  # the rebuild writes
    sql = "select customer_id, purchase_decile, value_class from marts.analytics.customer_profitability order by 1"
    before = query(s.warehouse, sql)
    run_dbt(s, ["run", "--select", "customer_profitability"], as_of=AS_OF)
    assert query(s.warehouse, sql) == before


def test_decile_summary_shares_add_up(built, expected):
    rows = query(built.warehouse, "select purchase_decile, customers, revenue_365d, profit_contribution_365d, "
                                  "avg_profit_per_customer, profit_share, cumulative_profit_share, revenue_share, "
                                  "cumulative_revenue_share from marts.analytics.purchase_decile_summary order by 1")
    assert [r[0] for r in rows] == list(range(1, 11))
    active = expected[expected["revenue_365d"] > 0]
    assert sum(r[1] for r in rows) == len(active)
    assert sum(int(r[3] * 100) for r in rows) == active["profit_contribution_365d"].sum()
    assert sum(int(r[2] * 100) for r in rows) == active["revenue_365d"].sum()
    assert rows[-1][6] == 1.0 and rows[-1][8] == 1.0
    assert sum(r[5] for r in rows) == pytest.approx(1, abs=1e-12)
    assert sum(r[7] for r in rows) == pytest.approx(1, abs=1e-12)
    cumulative = 0.0
    for r in rows:
        cumulative += r[5]
        assert r[6] == pytest.approx(cumulative, abs=1e-12)
        assert r[4] == pytest.approx(float(r[3]) / r[1], rel=1e-12)
    profits = [r[3] for r in rows]
    assert profits == sorted(profits, reverse=True)  # decile 1 holds the most profitable customers


def test_pareto_summary_equals_numpy(built, expected):
    import numpy as np

    (row,) = query(built.warehouse, "select customers, top_customers, top_profit_share, top_revenue_share, "
                                    "gini_profit, value_differentiation_pays, total_profit_365d, total_revenue_365d "
                                    "from marts.analytics.pareto_summary")
    active = expected[expected["revenue_365d"] > 0].reset_index()
    n = len(active)
    top = math.ceil(PARETO_TOP_SHARE * n)
    x = active["profit_contribution_365d"].to_numpy(dtype=float) / 100
    gini = np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean())
    by_profit = active.sort_values(["profit_contribution_365d", "customer_id"], ascending=[False, True])
    by_revenue = active.sort_values(["revenue_365d", "customer_id"], ascending=[False, True])
    top_profit_share = by_profit["profit_contribution_365d"].head(top).sum() / active["profit_contribution_365d"].sum()
    top_revenue_share = by_revenue["revenue_365d"].head(top).sum() / active["revenue_365d"].sum()

    customers, top_customers, got_profit_share, got_revenue_share, got_gini, pays, total_profit, total_revenue = row
    assert (customers, top_customers) == (n, top)
    assert got_gini == pytest.approx(gini, rel=1e-9)
    assert got_profit_share == pytest.approx(top_profit_share, rel=1e-12)
    assert got_revenue_share == pytest.approx(top_revenue_share, rel=1e-12)
    assert pays == (top_profit_share > PARETO_THRESHOLD and total_profit > 0)
    assert int(total_profit * 100) == active["profit_contribution_365d"].sum()
    assert int(total_revenue * 100) == active["revenue_365d"].sum()
    assert 0 < got_gini < 1
