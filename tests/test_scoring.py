"""The Python steps between the dbt phases (cvw.scoring): the CLV step fits on the warehouse's activity summary,
scores in streamed Arrow batches, and the models that read it (customer_clv, clv_model_fit); the wallet step
on too little data (its numbers: tests/test_wallet_model.py)."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pytest
from cvw import clv, db
from cvw.pipeline import step_build_core, step_build_value, step_clv, step_ingest, step_wallet

from tests.helpers import make_settings, query

pytestmark = [pytest.mark.integration, pytest.mark.dbt]

AS_OF = date(2025, 12, 31)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """20,000 generated customers x 2 years, ingested and built through the first dbt phase."""
    from cvw.generate import generate

    home = tmp_path_factory.mktemp("scoring")
    generate(home / "landing", customers=20000, days=730, seed=7, end_date=AS_OF)
    s = make_settings(home)
    step_ingest(s, "scoring")
    step_build_core(s, AS_OF)
    return s


def _summary(settings, where: str = ""):
    with db.connect_warehouse(settings.warehouse, read_only=True) as con:
        return con.sql(
            "select r.* from marts.analytics.customer_rfm r join marts.analytics.dim_customers d using (customer_id) " + where
        ).df()


@pytest.mark.slow
@pytest.mark.extended
def test_fit_recovers_the_generators_parameters(generated):
    """Gamma-Gamma on B2C (the generator's model exactly): each parameter within 3 asymptotic standard errors.
    BG/NBD: the generator adds monthly seasonality (Nov-Dec x1.3-1.5, just before D), which the model does not
    have; measured at 20k customers the individual parameters are off by up to 25% (a and b) while the two
    quantities the data pin down, the mean purchase rate r/alpha and the mean dropout a/(a+b), stay within 5%.
    So: those two within 5%, and each parameter within 30%."""
    truth = json.loads((generated.landing_dir / "_ground_truth" / "params.json").read_text())
    b2c = _summary(generated, "where d.customer_type = 'B2C'")
    repeat = b2c[b2c.frequency > 0]
    gg = clv.fit_gamma_gamma(repeat.frequency, repeat.avg_repeat_value, standard_errors=True)
    assert gg.converged
    for name in ("p", "q", "gamma"):
        error = abs(math.log(gg.params[name]) - math.log(truth[name]))
        assert error <= 3 * gg.extra["se_log"][name], (name, gg.params[name], truth[name], gg.extra["se_log"][name])
    bg = clv.fit_bgnbd(b2c.frequency, b2c.recency_days, b2c.tenure_days)
    assert bg.converged
    p, t = bg.params, truth
    assert p["r"] / p["alpha"] == pytest.approx(t["r"] / t["alpha"], rel=0.05)
    assert p["a"] / (p["a"] + p["b"]) == pytest.approx(t["a"] / (t["a"] + t["b"]), rel=0.05)
    for name in ("r", "alpha", "a", "b"):
        assert p[name] == pytest.approx(t[name], rel=0.30), name


@pytest.mark.slow
@pytest.mark.extended
def test_step_scores_every_customer_like_the_direct_computation(generated):
    result = step_clv(generated, AS_OF)
    assert result["fitted"] and result["converged"]
    rfm = _summary(generated)
    assert result["customers_scored"] == len(rfm)
    # the fit on the grouped summary is the fit on the customers
    direct = clv.fit_bgnbd(rfm.frequency, rfm.recency_days, rfm.tenure_days)
    for name, value in direct.params.items():
        assert result["params"][name] == pytest.approx(value, rel=1e-6), name
    with db.connect_warehouse(generated.warehouse, read_only=True) as con:
        scores = con.sql("select * from clv.customer_scores").df().set_index("customer_id")
        fit = con.sql("select * from clv.model_fit").df()
    assert len(fit) == 7 and fit.converged.all()
    rfm = rfm.set_index("customer_id").loc[scores.index]
    want = clv.score(
        {k: result["params"][k] for k in ("r", "alpha", "a", "b")},
        {k: result["params"][k] for k in ("p", "q", "gamma")},
        365.0, rfm.frequency, rfm.recency_days, rfm.tenure_days, rfm.avg_repeat_value,
    )
    for column in ("p_alive", "expected_purchases", "expected_avg_value"):
        np.testing.assert_allclose(scores[column].to_numpy(), want[column], rtol=1e-12)
        assert np.isfinite(scores[column]).all() and (scores[column] >= 0).all()


@pytest.mark.slow
@pytest.mark.extended
def test_streamed_batches_equal_one_batch(generated):
    """DuckDB map_batches with tiny batches gives the same table as one big batch."""
    import functools

    from cvw.engines.duckdb import DuckDBEngine
    from cvw.scoring import SCORE_COLUMNS, SCORE_SOURCE_SQL, score_batch

    bg = {"r": 0.5, "alpha": 30.0, "a": 0.8, "b": 2.5}
    gg = {"p": 6.0, "q": 4.0, "gamma": 60.0}
    fn = functools.partial(score_batch, bg=bg, gg=gg, horizon_days=365.0)
    engine = DuckDBEngine(generated)
    source = SCORE_SOURCE_SQL.format(marts=engine.audit_schema)
    n_small = engine.map_batches(source, fn, "scratch", "small", SCORE_COLUMNS, batch_rows=1000)
    n_big = engine.map_batches(source, fn, "scratch", "big", SCORE_COLUMNS, batch_rows=10**7)
    assert n_small == n_big > 10000
    diff = query(generated.warehouse, "select count(*) from (select * from scratch.small except select * from scratch.big)")
    assert diff == [(0,)]


def test_too_few_repeat_buyers_fails_the_run_with_what_to_do(workspace, monkeypatch):
    """landing_small has a handful of customers: by default (clv_fit_required) the step stops the run."""
    monkeypatch.setenv("CVW_DBT_VARS", "{}")
    step_ingest(workspace, "few")
    step_build_core(workspace, date(2025, 1, 3))
    with pytest.raises(clv.FitError, match="clv_fit_required"):
        step_clv(workspace, date(2025, 1, 3))
    monkeypatch.setenv("CVW_DBT_VARS", '{"clv_fit_required": false}')
    result = step_clv(workspace, date(2025, 1, 3))
    assert not result["fitted"] and result["customers_scored"] > 0
    rows = query(workspace.warehouse, "select count(*), count(value), bool_or(converged), min(message) from clv.model_fit")
    assert rows[0][:3] == (7, 0, False) and "not fitted" in rows[0][3]
    assert query(workspace.warehouse, "select count(p_alive) from clv.customer_scores") == [(0,)]


def test_too_little_data_for_the_wallet_model_fails_the_run_or_falls_back_to_peers(workspace, monkeypatch):
    """landing_small: too few rows with spend to fit the wallet model. By default (wallet_model_required) the
    step stops the run and says which var to set; with it false, wallet_model_fit says why, nothing is scored and
    customer_wallet falls back to the peer quantile for what was bought in the window."""
    from cvw.wallet_model import WalletFitError

    as_of = date(2025, 1, 3)
    monkeypatch.setenv("CVW_DBT_VARS", '{"clv_fit_required": false}')
    step_ingest(workspace, "few")
    step_build_core(workspace, as_of)
    step_clv(workspace, as_of)
    with pytest.raises(WalletFitError, match="wallet_model_required"):
        step_wallet(workspace, as_of)
    monkeypatch.setenv("CVW_DBT_VARS", '{"clv_fit_required": false, "wallet_model_required": false}')
    result = step_wallet(workspace, as_of)
    assert not result["fitted"] and result["rows_scored"] == 0
    fit = query(workspace.warehouse, "select category, customer_type, fitted, message from wallet_model.fit")
    assert len(fit) == 1 and fit[0][:3] == ("all", "all", False) and "not fitted" in fit[0][3]
    step_build_value(workspace, as_of)
    methods = dict(query(workspace.warehouse, "select wallet_method, count(*) from marts.analytics.customer_wallet "
                                              "group by 1"))
    assert "model_quantile" not in methods and methods.get("peer_quantile", 0) > 0, methods
    assert query(workspace.warehouse, "select bool_and(not fitted) from marts.analytics.wallet_model_fit") == [(True,)]
