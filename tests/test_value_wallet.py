"""Wallet and share of wallet (SPEC 4.6): the seed equals the generator's categories, and on generated data the
published customer_wallet / int_wallet_peers / int_customer_wallet_rollup equal an independent pandas/numpy
recomputation of the rules (peer quantiles with numpy.quantile, method precedence survey > installed base >
wallet model > peers, growth, cap, confidence, roll-up). The wallet model's own numbers are checked in
tests/test_wallet_model.py."""

from __future__ import annotations

import csv
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from tests.helpers import REPO, make_settings

SEED_CSV = REPO / "dbt_project" / "seeds" / "category_parameters.csv"
AS_OF = date(2025, 10, 31)  # before the data's end, so surveys / installed base / orders after D exist
Q, MIN_PEERS, BANDS, MAX_AGE, WINDOW = 0.9, 30, 5, 730, 365  # the defaults of dbt_project.yml / the models
MEDIUM_ERROR = 0.25  # wallet_model_medium_confidence_max_error


@pytest.mark.unit
def test_seed_equals_generator_categories():
    from cvw.generate import CATEGORIES

    with SEED_CSV.open() as f:
        rows = list(csv.DictReader(f))
    seed = {r["category"]: {k: float(v) for k, v in r.items() if k != "category"} for r in rows}
    assert len(rows) == len(seed)
    assert seed == {c: {k: float(v) for k, v in p.items()} for c, p in CATEGORIES.items()}


@pytest.fixture(scope="module")
def wallet_run(tmp_path_factory):
    """Generated data (4,000 customers, 500 days to 2025-12-31), ingested and built up to the wallet roll-up
    for D = 2025-10-31, the wallet step between the grid and customer_wallet. Only the wallet's upstream is
    built, so other models' work cannot break this test."""
    from cvw.dbt import run_dbt
    from cvw.engines import get_engine
    from cvw.generate import generate
    from cvw.pipeline import new_run_id, step_ingest, step_wallet

    home = tmp_path_factory.mktemp("wallet")
    generate(home / "landing", customers=4000, days=500, seed=5, end_date=date(2025, 12, 31), bad_rows_rate=0.005)
    s = make_settings(home)
    step_ingest(s, new_run_id(AS_OF))
    run_dbt(s, ["build", "--select", "+int_wallet_grid", "+int_wallet_peers", "+int_crm__installed_base_validated",
                "--indirect-selection", "cautious", "--exclude", "test_type:unit"], AS_OF)
    step_wallet(s, AS_OF)
    run_dbt(s, ["build", "--select", "customer_wallet", "int_customer_wallet_rollup", "--indirect-selection",
                "cautious", "--exclude", "test_type:unit"], AS_OF)
    engine = get_engine(s)
    try:
        frames = {
            name: engine.read_arrow(sql).to_pandas()
            for name, sql in {
                "wallet": "select * from marts.analytics.customer_wallet",
                "peers": "select * from intermediate.int_wallet_peers",
                "model": "select * from wallet_model.scores",
                "rollup": "select * from intermediate.int_customer_wallet_rollup",
                "customers": "select customer_id, customer_type, region, industry, size_band from marts.analytics.dim_customers",
                "lines": "select customer_id, category, order_date, line_revenue from marts.analytics.fct_order_lines "
                         "where is_completed",
                "surveys": "select * from intermediate.int_crm__wallet_surveys_validated where rejection_reason is null",
                "installed": "select * from intermediate.int_crm__installed_base_validated "
                             "where rejection_reason is null",
            }.items()
        }
    finally:
        engine.close()
    for df in frames.values():
        for col in df.columns:
            if df[col].dtype == object and len(df) and type(df[col].dropna().iloc[0]).__name__ == "Decimal":
                df[col] = df[col].astype(float)
    return frames


def _own_spend(lines):
    import pandas as pd

    d = pd.to_datetime(lines["order_date"]).dt.date
    window = lines[(d > date.fromordinal(AS_OF.toordinal() - WINDOW)) & (d <= AS_OF)]
    return window.groupby(["customer_id", "category"], as_index=False)["line_revenue"].sum().rename(
        columns={"line_revenue": "own"})


def _ntile(n: int, k: int) -> np.ndarray:
    """SQL ntile(k) for rows 1..n: the first n % k tiles get one row more."""
    size, extra = divmod(n, k)
    return np.repeat(np.arange(1, k + 1), [size + (1 if t < extra else 0) for t in range(k)])[:n]


def _quantile_cents(values) -> float:
    """numpy.quantile's linear interpolation in exact decimal arithmetic, rounded half up to the cent (money:
    what the model publishes)."""
    xs = sorted(Decimal(f"{v:.2f}") for v in values)
    h = (len(xs) - 1) * Decimal(str(Q))
    lo = int(h)
    value = xs[lo] + (h - lo) * (xs[min(lo + 1, len(xs) - 1)] - xs[lo])
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _expected_peers(frames):
    """Peer group and quantile per customer x category bought in the window, recomputed from the facts."""
    import pandas as pd

    own = _own_spend(frames["lines"])
    own = own[own["own"] > 0]
    cust = frames["customers"].copy()
    cust["customer_type"] = cust["customer_type"].fillna("unknown")
    cust["segment"] = np.where(
        cust["customer_type"] == "B2B",
        "B2B|" + cust["industry"].fillna("unknown") + "|" + cust["size_band"].fillna("unknown"),
        cust["customer_type"] + "|" + cust["region"].fillna("unknown"),
    )
    totals = own.groupby("customer_id", as_index=False)["own"].sum().merge(cust, on="customer_id")
    totals["own"] = totals["own"].round(2)  # exact cents, so ties order by customer_id as in SQL
    totals = totals.sort_values(["customer_type", "own", "customer_id"])
    totals["band"] = totals.groupby("customer_type")["own"].transform(lambda s: _ntile(len(s), BANDS))
    suffix = "|spend band " + totals["band"].astype(str) + f"/{BANDS}"
    totals["g1"], totals["g2"], totals["g3"] = totals["segment"] + suffix, totals["customer_type"] + suffix, "all"
    buyers = own.merge(totals[["customer_id", "band", "g1", "g2", "g3"]], on="customer_id")
    for level in ("g1", "g2", "g3"):
        stats = buyers.groupby([level, "category"])["own"].agg(
            **{f"n_{level}": "size", f"q_{level}": _quantile_cents}).reset_index()
        buyers = buyers.merge(stats, on=[level, "category"])
    use1 = buyers["n_g1"] >= MIN_PEERS
    use2 = ~use1 & (buyers["n_g2"] >= MIN_PEERS)
    buyers["peer_level"] = np.select([use1, use2], ["segment", "customer_type"], "all")
    buyers["peer_group"] = np.select([use1, use2], [buyers["g1"], buyers["g2"]], buyers["g3"])
    buyers["peer_count"] = np.select([use1, use2], [buyers["n_g1"], buyers["n_g2"]], buyers["n_g3"])
    buyers["peer_quantile"] = np.select([use1, use2], [buyers["q_g1"], buyers["q_g2"]], buyers["q_g3"])
    return pd.DataFrame(buyers)


@pytest.mark.integration
@pytest.mark.dbt
def test_peer_quantiles_equal_numpy_quantile(wallet_run):
    peers = wallet_run["peers"]
    want = _expected_peers(wallet_run)
    got = peers.merge(want, on=["customer_id", "category"], suffixes=("", "_want"), how="outer", indicator=True)
    assert (got["_merge"] == "both").all() and len(got) == len(peers) > 1000
    assert (got["peer_level"] == got["peer_level_want"]).all()
    assert (got["peer_group"] == got["peer_group_want"]).all()
    assert (got["peer_count"] == got["peer_count_want"]).all()
    assert (got["peer_quantile_spend"].astype(float) == got["peer_quantile"]).all()  # to the cent
    # every level is exercised on this data, and the fallback only happens below MIN_PEERS
    assert set(got["peer_level"]) == {"segment", "customer_type", "all"}
    fell_back = got[got["peer_level"] != "segment"]
    assert (fell_back["n_g1"] < MIN_PEERS).all()
    # a few groups checked from the published rows alone: the biggest segment groups (every member of a segment
    # group uses it, as they share its count) and each category's `all` group (every buyer of the category)
    segment = got[got["peer_level"] == "segment"]
    checks = [(g, c, segment[(segment["peer_group"] == g) & (segment["category"] == c)])
              for g, c in segment.groupby(["peer_group", "category"]).size().nlargest(3).index]
    checks += [("all", c, got[got["category"] == c]) for c in sorted(set(got["category"]))[:3]]
    interpolated = []
    for group, category, members in checks:
        spend = members["own_spend_365d"].astype(float).to_numpy()
        quantile = float(np.quantile(spend, Q))
        interpolated.append(quantile not in spend)  # between two order statistics (not one of them)
        used = got[(got["peer_group"] == group) & (got["category"] == category)]
        if len(used):
            assert np.allclose(used["peer_quantile_spend"].astype(float), quantile, atol=0.005), (group, category)
            assert (used["peer_count"] == len(spend)).all(), (group, category)
        else:
            assert len(spend) >= MIN_PEERS  # nobody falls back to `all` for a category with enough buyers
    assert sum(interpolated) >= len(checks) // 2, interpolated  # the checks tell interpolation from nearest rank


@pytest.mark.integration
@pytest.mark.dbt
def test_every_customer_has_one_row_per_category(wallet_run):
    wallet, customers = wallet_run["wallet"], wallet_run["customers"]
    with SEED_CSV.open() as f:
        categories = {r["category"] for r in csv.DictReader(f)} | set(wallet_run["lines"]["category"])
    assert len(wallet) == len(customers) * len(categories)
    assert not wallet.duplicated(["customer_id", "category"]).any()
    assert set(wallet["customer_id"]) == set(customers["customer_id"])
    assert set(wallet["category"]) == categories


@pytest.mark.integration
@pytest.mark.dbt
def test_methods_growth_and_cap_match_an_independent_recomputation(wallet_run):
    import pandas as pd
    from cvw.generate import CATEGORIES

    wallet = wallet_run["wallet"].set_index(["customer_id", "category"]).sort_index()
    own = _own_spend(wallet_run["lines"]).set_index(["customer_id", "category"])["own"]
    growth = {c: p["annual_growth_rate"] for c, p in CATEGORIES.items()}

    def years(d):
        return (AS_OF - pd.Timestamp(d).date()).days / 365.25

    sv = wallet_run["surveys"]
    sv = sv[pd.to_datetime(sv["survey_date"]).dt.date <= AS_OF]
    sv = sv.sort_values(["survey_date", "survey_id"]).groupby(["customer_id", "category"]).tail(1)
    sv = sv[[(AS_OF - pd.Timestamp(d).date()).days <= MAX_AGE for d in sv["survey_date"]]]
    survey = {
        (r.customer_id, r.category): (float(r.reported_annual_spend) * (1 + growth.get(r.category, 0.0))
                                      ** years(r.survey_date), pd.Timestamp(r.survey_date).date())
        for r in sv.itertuples()
    }
    ib = wallet_run["installed"]
    ib = ib[pd.to_datetime(ib["installed_as_of_date"]).dt.date <= AS_OF]
    ib = ib.sort_values("installed_as_of_date").groupby(["customer_id", "category"]).tail(1)
    installed = {
        (r.customer_id, r.category): (
            r.units_installed / CATEGORIES[r.category]["replacement_cycle_years"]
            * CATEGORIES[r.category]["avg_unit_price"] * (1 + growth[r.category]) ** years(r.installed_as_of_date),
            pd.Timestamp(r.installed_as_of_date).date())
        for r in ib.itertuples() if r.category in CATEGORIES
    }
    peers = _expected_peers(wallet_run).set_index(["customer_id", "category"])["peer_quantile"].to_dict()
    model = wallet_run["model"].set_index(["customer_id", "category"])
    assert len(model) == len(wallet)  # the model scores every customer x category
    model_wallet, model_error = model["model_wallet"].to_dict(), model["model_error"].to_dict()

    seen = set()
    for key, row in wallet.iterrows():
        mine = round(float(own.get(key, 0.0)), 2)  # money: whole cents (the float sum may be off by an ulp)
        assert float(row["own_spend_365d"]) == pytest.approx(mine, abs=1e-9)
        if key in survey:
            method, (est, src) = "survey", survey[key]
        elif key in installed:
            method, (est, src) = "installed_base", installed[key]
        elif key in model_wallet:
            method, est, src = "model_quantile", model_wallet[key], None
        elif key in peers:
            method, est, src = "peer_quantile", peers[key], None
        else:
            method, est, src = "none", None, None
        seen.add(method)
        assert row["wallet_method"] == method, key
        confidence = None if pd.isna(row["wallet_confidence"]) else row["wallet_confidence"]
        error = model_error.get(key) if method == "model_quantile" else None
        error = None if error is None or pd.isna(error) else error
        assert confidence == {"survey": "high", "installed_base": "medium", "peer_quantile": "low",
                              "model_quantile": "medium" if error is not None and error <= MEDIUM_ERROR else "low",
                              }.get(method), key
        assert (pd.isna(row["wallet_expected_error"]) and error is None) or row["wallet_expected_error"] == error
        if est is None:
            assert pd.isna(row["wallet_estimate"]) and pd.isna(row["share_of_wallet"]) and not row["wallet_capped"]
            assert mine == 0
            continue
        # money: the estimate rounded to the cent (within half a cent of the float recomputation), then exact
        method_estimate = row["method_estimate"]  # DECIMAL(18,2), read as float by the fixture
        assert round(method_estimate * 100) == pytest.approx(method_estimate * 100, abs=1e-6), key
        assert abs(method_estimate - est) <= 0.005 + 1e-9, key
        assert row["wallet_estimate"] == pytest.approx(max(method_estimate, mine), abs=1e-9), key
        assert bool(row["wallet_capped"]) == (method_estimate < mine), key
        assert row["wallet_headroom"] == pytest.approx(row["wallet_estimate"] - mine, abs=1e-9), key
        assert (pd.isna(row["source_date"]) and src is None) or pd.Timestamp(row["source_date"]).date() == src
    # the fitted model covers every row: peers (the fallback without a model) and `none` do not occur
    assert seen == {"survey", "installed_base", "model_quantile"}
    assert wallet["wallet_capped"].any()


@pytest.mark.integration
@pytest.mark.dbt
def test_share_of_wallet_is_a_share(wallet_run):
    for name in ("wallet", "rollup"):
        df = wallet_run[name]
        share = df["share_of_wallet"].dropna()
        assert len(share) > 100 and share.between(0.0, 1.0).all(), name
        assert (df["wallet_headroom"].dropna() >= 0).all(), name
    wallet = wallet_run["wallet"]
    has = wallet[wallet["wallet_estimate"].notna()]
    assert (has["wallet_estimate"] >= has["own_spend_365d"].astype(float)).all()
    assert wallet.loc[wallet["wallet_estimate"].isna(), "share_of_wallet"].isna().all()


@pytest.mark.integration
@pytest.mark.dbt
def test_rollup_is_the_sum_of_the_categories(wallet_run):
    import pandas as pd

    wallet, rollup = wallet_run["wallet"].copy(), wallet_run["rollup"].set_index("customer_id").sort_index()
    wallet["known"] = wallet["wallet_method"].isin(["survey", "installed_base"])
    wallet["rank"] = wallet["wallet_confidence"].map({"low": 1, "medium": 2, "high": 3})
    g = wallet.groupby("customer_id")
    want = pd.DataFrame({
        "wallet_total": g["wallet_estimate"].sum(min_count=0),
        "own_spend_365d": g["own_spend_365d"].sum(),
        "wallet_headroom": g["wallet_headroom"].sum(min_count=0),
        "has_known_wallet": g["known"].any(),
        "known_wallet_total": wallet.assign(k=wallet["wallet_estimate"].where(wallet["known"], 0.0))
                                    .groupby("customer_id")["k"].sum(),
        "wallet_confidence": g["rank"].min().map({1: "low", 2: "medium", 3: "high"}),
        "categories_bought_365d": g["own_spend_365d"].apply(lambda s: int((s > 0).sum())),
        "categories_with_wallet": g["wallet_method"].apply(lambda s: int((s != "none").sum())),
    }).sort_index()
    assert list(rollup.index) == list(want.index)
    for col in ("wallet_total", "own_spend_365d", "wallet_headroom", "known_wallet_total"):
        np.testing.assert_allclose(rollup[col].astype(float), want[col].astype(float), rtol=1e-12, atol=1e-9)
    for col in ("has_known_wallet", "categories_bought_365d", "categories_with_wallet"):
        assert (rollup[col] == want[col]).all(), col
    assert rollup["wallet_confidence"].fillna("-").equals(want["wallet_confidence"].fillna("-"))
    total = rollup["wallet_total"]
    share = (rollup["own_spend_365d"].astype(float) / total).where(total > 0).clip(upper=1.0)
    np.testing.assert_allclose(rollup["share_of_wallet"].astype(float), share, rtol=1e-12)
    assert rollup["has_known_wallet"].any() and not rollup["has_known_wallet"].all()
    assert (rollup["categories_with_wallet"] > rollup["categories_bought_365d"]).all()  # wallets for non-buyers
