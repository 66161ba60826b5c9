"""BG/NBD and Gamma-Gamma reproduce the published CDNOW values (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cvw import clv

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cdnow_summary():
    import lifetimes
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    path = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
    tx = pd.read_csv(path, sep=r"\s+", header=None, names=["id", "id2", "date", "qty", "amount"])
    tx["date"] = pd.to_datetime(tx["date"].astype(str), format="%Y%m%d")
    return summary_data_from_transaction_data(
        tx, "id", "date", monetary_value_col="amount", freq="D", observation_period_end="1997-09-30"
    )


def test_bgnbd_matches_published_cdnow_parameters(cdnow_summary):
    s = cdnow_summary
    fit = clv.fit_bgnbd(s["frequency"], s["recency"], s["T"])
    assert fit.converged and fit.n_customers == 2357
    published = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}  # alpha per week -> per day
    for name, value in published.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name


def test_gamma_gamma_matches_published_cdnow_parameters(cdnow_summary):
    repeat = cdnow_summary[cdnow_summary["frequency"] > 0]
    fit = clv.fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"])
    assert fit.converged
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name


def test_conditional_expectation_of_the_paper():
    weekly = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    value = clv.expected_purchases(weekly, 39, [2], [30.43], [38.86])
    assert value[0] == pytest.approx(1.226, abs=0.001)


def test_predictions_are_never_nan_or_negative():
    params = {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}
    x = np.array([0, 1, 50, 300, 0])
    t_x = np.array([0, 10, 400, 700, 0])
    T = np.array([0, 500, 401, 700, 1e6])
    for values in (clv.p_alive(params, x, t_x, T), clv.expected_purchases(params, 365, x, t_x, T)):
        assert np.isfinite(values).all() and (values >= 0).all()
    assert ((clv.p_alive(params, x, t_x, T) >= 0) & (clv.p_alive(params, x, t_x, T) <= 1)).all()
    gg = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    avg = clv.expected_average_value(gg, [0, 2, 5], [np.nan, 30.0, 0.0])
    assert np.isfinite(avg).all() and (avg > 0).all()


def test_too_few_repeat_buyers_is_a_clear_error():
    with pytest.raises(clv.FitError, match="repeat buyers"):
        clv.fit_bgnbd([0] * 50 + [1] * 3, [0] * 53, [100] * 53)
