"""marts.analytics.customer_rfm (SPEC 4.1, 4.2) against references computed outside the warehouse.

The activity summary must equal lifetimes' ``summary_data_from_transaction_data(freq="D")`` customer for
customer. The transactions given to lifetimes come straight from the input files (the CDNOW text file, the
generated landing CSVs), never from the warehouse. The RFM scores are recomputed in pandas with
``rank(method="min")`` from the table's own R, F and M.
"""

from __future__ import annotations

import csv
import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.helpers import REPO, make_settings, query

pytestmark = [pytest.mark.integration, pytest.mark.dbt]

lifetimes = pytest.importorskip("lifetimes")
CDNOW = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
CDNOW_AS_OF = date(1997, 9, 30)  # the calibration end of Fader, Hardie & Lee (2005); the file runs to 1998-06
GENERATED_END = date(2025, 12, 31)
GENERATED_AS_OF = date(2025, 10, 31)  # before the last landing day: later orders must not count
WINDOW_DAYS = 365  # value_window_days and rfm_window_days defaults (dbt_project.yml)

RFM_COLUMNS = [
    "customer_id", "first_purchase_date", "last_purchase_date", "frequency", "recency_days", "tenure_days",
    "avg_repeat_value", "days_since_last_purchase", "orders_lifetime", "revenue_lifetime", "orders_365d",
    "revenue_365d", "purchase_days_window", "revenue_window", "r_score", "f_score", "m_score", "fm_score",
    "rfm_segment", "as_of_date",
]


def _build(home: Path, landing: Path, as_of: date):
    """Ingest the landing folder and build customer_rfm with everything upstream (dbt build, tests included)."""
    from cvw.dbt import run_dbt
    from cvw.pipeline import new_run_id, step_ingest

    settings = make_settings(home, landing=landing)
    step_ingest(settings, new_run_id(as_of))
    # only what customer_rfm needs (not the CLV step); buildable: no test of a model that is not built here
    run_dbt(settings, ["build", "--select", "+customer_rfm", "+dim_customers", "--indirect-selection", "buildable"],
            as_of=as_of)
    return settings


def _customer_rfm(settings):
    import pandas as pd

    rows = query(settings.warehouse, f"select {', '.join(RFM_COLUMNS)} from marts.analytics.customer_rfm")
    return pd.DataFrame(rows, columns=RFM_COLUMNS).set_index("customer_id")


def _cdnow_transactions():
    """The CDNOW sample as lifetimes reads it: one row per line of the file (customer, day, amount)."""
    import pandas as pd

    tx = pd.read_csv(CDNOW, sep=r"\s+", header=None, dtype=str, names=["customer_id", "index", "date", "qty", "amount"])
    return pd.DataFrame({
        "customer_id": tx["customer_id"],
        "date": pd.to_datetime(tx["date"], format="%Y%m%d"),
        "cents": tx["amount"].map(lambda a: int(Decimal(a) * 100)),
    })


def _landing_transactions(landing: Path):
    """Completed orders of the landing CSVs with revenue = sum(quantity x unit_price - discount) of their lines."""
    import pandas as pd

    def read(entity: str):
        return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted((landing / entity).glob("*.csv"))])

    def cents(text):
        return text.map(lambda v: int(Decimal(v or "0") * 100))

    orders = read("orders")
    orders = orders[orders["status"] == "completed"]
    lines = read("order_lines")
    lines["cents"] = lines["quantity"].astype(int) * cents(lines["unit_price"]) - cents(lines["discount_amount"])
    revenue = lines.groupby("order_id")["cents"].sum()
    return pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy(),
        "date": pd.to_datetime(orders["order_ts"].str[:10]).to_numpy(),
        "cents": orders["order_id"].map(revenue).fillna(0).astype(int).to_numpy(),
    })


@pytest.fixture(scope="module")
def cdnow_run(tmp_path_factory):
    from cvw.importer import import_transactions

    home = tmp_path_factory.mktemp("rfm_cdnow")
    import_transactions(CDNOW, home / "landing", customer_col="customer_id", date_col="date", amount_col="amount",
                        quantity_col="quantity", header=False, date_format="%Y%m%d",
                        columns=["customer_id", "customer_index", "date", "quantity", "amount"])
    settings = _build(home, home / "landing", CDNOW_AS_OF)
    return _customer_rfm(settings), _cdnow_transactions(), CDNOW_AS_OF


@pytest.fixture(scope="module")
def generated_run(tmp_path_factory):
    from cvw.generate import generate

    home = tmp_path_factory.mktemp("rfm_generated")
    generate(home / "landing", customers=500, days=730, seed=11, end_date=GENERATED_END)
    settings = _build(home, home / "landing", GENERATED_AS_OF)
    return _customer_rfm(settings), _landing_transactions(home / "landing"), GENERATED_AS_OF


DATASETS = ["cdnow_run", "generated_run"]


@pytest.mark.parametrize("dataset", DATASETS)
def test_activity_summary_equals_lifetimes(dataset, request):
    from lifetimes.utils import summary_data_from_transaction_data

    rfm, tx, as_of = request.getfixturevalue(dataset)
    tx = tx.assign(amount=tx["cents"] / 100)
    want = summary_data_from_transaction_data(
        tx, "customer_id", "date", monetary_value_col="amount", freq="D", observation_period_end=as_of.isoformat()
    )
    assert len(want) > 400 and (want["frequency"] > 0).sum() > 100
    assert sorted(rfm.index) == sorted(want.index)
    got = rfm.loc[want.index]
    for ours, theirs in [("frequency", "frequency"), ("recency_days", "recency"), ("tenure_days", "T")]:
        assert (got[ours].astype(float) == want[theirs]).all(), ours
    for cid, ours, theirs in zip(want.index, got["avg_repeat_value"], want["monetary_value"], strict=True):
        assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9), (cid, ours, theirs)


@pytest.mark.parametrize("dataset", DATASETS)
def test_totals_and_windows_match_the_transactions(dataset, request):
    rfm, tx, as_of = request.getfixturevalue(dataset)
    tx = tx[tx["date"].dt.date <= as_of]
    in_window = tx["date"].dt.date > as_of - timedelta(days=WINDOW_DAYS)
    window = tx[in_window]
    days = tx.groupby(["customer_id", "date"])["cents"].sum().reset_index()
    window_days = days[days["date"].dt.date > as_of - timedelta(days=WINDOW_DAYS)]
    expected = {
        "orders_lifetime": tx.groupby("customer_id").size(),
        "revenue_lifetime": tx.groupby("customer_id")["cents"].sum(),
        "orders_365d": window.groupby("customer_id").size(),
        "revenue_365d": window.groupby("customer_id")["cents"].sum(),
        "purchase_days_window": window_days.groupby("customer_id").size(),
        "revenue_window": window_days.groupby("customer_id")["cents"].sum(),
        "days_since_last_purchase": tx.groupby("customer_id")["date"].max().map(lambda d: (as_of - d.date()).days),
    }
    if dataset == "generated_run":  # two years of history: some customers lapsed before the window
        assert (rfm["purchase_days_window"] == 0).any()
    for column, series in expected.items():
        want = series.reindex(rfm.index).fillna(0).astype(int)
        got = rfm[column]
        if column.startswith("revenue"):
            got = got.map(lambda v: int(v * 100))
        assert (got == want).all(), column
    assert (rfm["as_of_date"] == as_of).all()


def _score(values, ascending: bool):
    """SPEC 4.2 in plain Python: ties take the lowest rank; least(5, 1 + floor(5 * (rank - 1) / (n - 1)))."""
    n = len(values)
    rank = values.rank(method="min", ascending=ascending).astype(int)
    return rank.map(lambda rk: 5 if n == 1 else min(5, 1 + (5 * (rk - 1)) // (n - 1)))


@pytest.mark.parametrize("dataset", DATASETS)
def test_scores_and_segments_follow_the_formula(dataset, request):
    rfm = request.getfixturevalue(dataset)[0]
    cents = rfm["revenue_window"].map(lambda v: int(v * 100))
    r = _score(rfm["days_since_last_purchase"], ascending=False)
    f = _score(rfm["purchase_days_window"], ascending=True)
    m = _score(cents, ascending=True)
    fm = (f + m).map(lambda s: int((Decimal(s) / 2).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    assert (rfm["r_score"] == r).all() and (rfm["f_score"] == f).all() and (rfm["m_score"] == m).all()
    assert (rfm["fm_score"] == fm).all()
    with open(REPO / "dbt_project" / "seeds" / "rfm_segment_map.csv", newline="") as fh:
        segment = {(int(row["r_score"]), int(row["fm_score"])): row["rfm_segment"] for row in csv.DictReader(fh)}
    assert (rfm["rfm_segment"] == [segment[(a, b)] for a, b in zip(r, fm, strict=True)]).all()
    # non-trivial data: several scores and segments occur (F skips scores when many customers tie on 1 day)
    for column in ("r_score", "f_score", "m_score"):
        assert rfm[column].nunique() >= 3, column
    assert rfm["rfm_segment"].nunique() >= 6


@pytest.mark.parametrize("dataset", DATASETS)
def test_ties_share_a_score(dataset, request):
    rfm = request.getfixturevalue(dataset)[0]
    for value, score in [("days_since_last_purchase", "r_score"), ("purchase_days_window", "f_score"),
                         ("revenue_window", "m_score")]:
        groups = rfm.groupby(value)[score]
        assert (groups.size() > 1).any(), f"{value}: no ties to test"
        assert (groups.nunique() == 1).all(), value
