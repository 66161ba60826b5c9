"""The wallet model (issue 18): a high quantile of category spend, learned from who the customer is.

Perlich, Rosset, Lawrence and Zadrozny, "High-quantile modeling for customer wallet estimation and other
applications" (KDD 2007), the method SPEC 4.6 names: a customer's wallet in a category is what they would spend
with us if we had all of it, which is a high quantile of the spend of customers like them. Fitted here:

* **Rows.** One per customer x category (``FEATURE_SQL``): the customer's attributes from ``dim_customers``
  (type, region, occupation, industry, size band, acquisition channel, age, employees, annual revenue, tenure)
  and their lifetime spend with us in the category, annualised over the days since their first order.
* **Fit.** scikit-learn's ``HistGradientBoostingRegressor(loss="quantile")`` on ``log1p(annual spend)`` of the
  rows where the customer bought the category; a quantile commutes with the monotone log, so ``expm1`` of the
  prediction is the q-quantile of spend. The features hold no spend: spend = wallet x share, and the share is
  what the wallet is for, so the customer's own spend would copy their share into their wallet.
  Deterministic: fixed iterations, no early stopping, a training sample (``max_train_rows``) chosen by the CRC32
  of the customer id, not by a random draw.
* **Leave-survey-out calibration and validation.** Surveys never enter the fit. The q-quantile is calibrated per
  category by the median ratio survey / prediction, and validated the only way a real company can: the surveyed
  customers are split into ``folds`` by the CRC32 of their id, and each fold's wallets are calibrated on the
  other folds' surveys only, then compared with what its customers reported (``WalletFit.validation``).
* **Scoring.** Every customer x category gets ``max(calibrated prediction, own annual spend)``, bought or not.

This module is pure Python over Arrow/pandas (no engine, no Airflow); ``scripts/bench_wallet.py --model`` runs
it against the generator's true wallets.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

#: The model's inputs as DuckDB spells them over a built warehouse (marts.analytics, intermediate); one row per
#: customer x category that anybody bought, in a fixed order. {as_of}: the as-of date literal.
FEATURE_SQL = """
with categories as (select distinct category from intermediate.int_customer_category_spend)
select d.customer_id, c.category, d.customer_type, d.region, d.occupation, d.industry, d.size_band,
    d.acquisition_channel, d.age_years, d.employee_count, d.annual_revenue,
    date_diff('day', d.signup_date, {as_of}) as tenure_days,
    date_diff('day', d.first_order_date, {as_of}) as days_since_first_order,
    s.spend_lifetime
from marts.analytics.dim_customers as d
cross join categories as c
left join intermediate.int_customer_category_spend as s
    on s.customer_id = d.customer_id and s.category = c.category
order by d.customer_id, c.category
"""
CATEGORICAL = ("category", "customer_type", "region", "occupation", "industry", "size_band", "acquisition_channel")
NUMERIC = ("age_years", "log_employees", "log_annual_revenue", "tenure_years")
#: A customer's first order counts as at least this many days ago when spend is annualised.
MIN_ANNUALISE_DAYS = 91


@dataclass(frozen=True, eq=False)
class WalletFit:
    """A fitted wallet model: the regressor, the category levels it was fitted with and the calibration."""

    regressor: Any
    quantile: float
    levels: dict[str, list[str]]
    factors: dict[str, float]  # per "category|customer_type": median survey / prediction (1.0: no survey)
    n_train: int
    seconds: float
    validation: list[dict] = field(default_factory=list)  # per category, leave-survey-out (see module doc)


def _column(table, name: str):
    import numpy as np

    col = table.column(name)
    if str(col.type).startswith("decimal"):
        import pyarrow as pa

        col = col.cast(pa.float64())
    text = name in CATEGORICAL or name == "customer_id"
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object if text else "float64")


def annual_spend(table):
    """The customer's lifetime spend with us in the category per year since their first order (0: not bought)."""
    import numpy as np

    spend = np.nan_to_num(_column(table, "spend_lifetime").astype("float64"), nan=0.0)
    days = np.nan_to_num(_column(table, "days_since_first_order").astype("float64"), nan=MIN_ANNUALISE_DAYS)
    return spend / (np.maximum(days, MIN_ANNUALISE_DAYS) / 365.25)


def design(table, levels: dict[str, list[str]] | None = None):
    """The feature frame of an Arrow table of FEATURE_SQL rows; `levels` fixes each categorical's categories."""
    import numpy as np
    import pandas as pd

    frame = {}
    for name in CATEGORICAL:
        values = pd.Series(_column(table, name)).astype("object").where(lambda s: s.notna(), None)
        cats = levels[name] if levels else sorted(v for v in set(values) if v is not None)
        frame[name] = pd.Categorical(values, categories=cats)
    frame["age_years"] = _column(table, "age_years")
    frame["log_employees"] = np.log1p(_column(table, "employee_count"))
    frame["log_annual_revenue"] = np.log1p(_column(table, "annual_revenue"))
    frame["tenure_years"] = _column(table, "tenure_days") / 365.25
    x = pd.DataFrame(frame)
    return x, {name: list(x[name].cat.categories) for name in CATEGORICAL}


def _crc(ids) -> Any:
    import numpy as np

    return np.fromiter((zlib.crc32(str(i).encode()) for i in ids), dtype="uint32", count=len(ids))


def fit(table, survey=None, quantile: float = 0.97, max_train_rows: int = 500_000, folds: int = 5,
        max_iter: int = 200) -> WalletFit:
    """Fit on an Arrow table of FEATURE_SQL rows. `survey`: per row the surveyed wallet grown to D, NaN where
    there is none; it calibrates and validates (leave-survey-out), it is never a training target."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    started = time.monotonic()
    x, levels = design(table)
    y = annual_spend(table)
    ids = _column(table, "customer_id")
    crc = _crc(ids)
    train = np.flatnonzero(y > 0)
    if len(train) > max_train_rows:  # the customers of the smallest CRC32, all their bought categories
        cut = np.sort(np.unique(crc[train]))
        cut = cut[min(len(cut) - 1, int(len(cut) * max_train_rows / len(train)))]
        train = train[crc[train] <= cut]
    if len(train) < 50:
        raise ValueError(f"cannot fit the wallet model: {len(train)} customer x category rows with spend (< 50)")
    regressor = HistGradientBoostingRegressor(
        loss="quantile", quantile=quantile, max_iter=max_iter, learning_rate=0.1, early_stopping=False,
        categorical_features="from_dtype", random_state=0)
    regressor.fit(x.iloc[train], np.log1p(y[train]))
    groups = _group(x)
    factors, validation = {g: 1.0 for g in sorted(set(groups))}, []
    if survey is not None:  # predicted for the surveyed rows only: the calibration needs no other
        rows = np.flatnonzero(np.isfinite(np.asarray(survey, dtype="float64")))
        raw = np.expm1(regressor.predict(x.iloc[rows])).clip(min=0.0)
        found, validation, _ = _calibrate(raw, np.asarray(survey, dtype="float64")[rows], groups[rows], crc[rows],
                                          folds)
        factors.update(found)
    return WalletFit(regressor=regressor, quantile=quantile, levels=levels, factors=factors, n_train=len(train),
                     seconds=round(time.monotonic() - started, 3), validation=validation)


def _group(x):
    """The calibration group of each row: category and customer type (B2B and B2C wallets sit differently
    against the spend quantile)."""
    import numpy as np

    return np.asarray(x["category"].astype("object") + "|" + x["customer_type"].astype("object").fillna("?"))


def _calibrate(raw, survey, category, crc, folds: int) -> tuple[dict[str, float], list[dict], Any]:
    """Per group ("category|customer_type") median(survey / prediction) over all surveys, the leave-survey-out
    validation rows, and per row the held-out estimate (NaN where the row has no survey)."""
    import numpy as np

    factors = {c: 1.0 for c in sorted(set(category))}
    if survey is None:
        return factors, [], np.full(len(raw), np.nan)
    survey = np.asarray(survey, dtype="float64")
    has = np.isfinite(survey) & (survey > 0) & (raw > 0)
    fold = crc % folds
    held_out = np.full(len(raw), np.nan)
    for c in factors:
        rows = has & (category == c)
        if rows.any():
            factors[c] = float(np.median(survey[rows] / raw[rows]))
        for f in range(folds):
            others, mine = rows & (fold != f), rows & (fold == f)
            if mine.any():
                k = float(np.median(survey[others] / raw[others])) if others.any() else 1.0
                held_out[mine] = raw[mine] * k
    validation = []
    for c in factors:
        rows = has & (category == c)
        ape = np.abs(held_out[rows] - survey[rows]) / survey[rows]
        validation.append({
            "group": c, "surveys": int(rows.sum()), "calibration_factor": factors[c],
            "mdape_leave_survey_out": float(np.median(ape)) if rows.any() else None,
            "median_estimate_over_survey": float(np.median(held_out[rows] / survey[rows])) if rows.any() else None,
        })
    overall = has & np.isfinite(held_out)
    validation.append({
        "group": None, "surveys": int(overall.sum()), "calibration_factor": None,
        "mdape_leave_survey_out": float(np.median(np.abs(held_out[overall] - survey[overall]) / survey[overall]))
        if overall.any() else None,
        "median_estimate_over_survey": float(np.median(held_out[overall] / survey[overall]))
        if overall.any() else None,
    })
    return factors, validation, held_out


def predict(model: WalletFit, table):
    """The wallet of every row: the calibrated q-quantile, never below the customer's own annual spend."""
    import numpy as np

    x, _ = design(table, model.levels)
    raw = np.expm1(model.regressor.predict(x)).clip(min=0.0)
    factor = np.array([model.factors.get(g, 1.0) for g in _group(x)], dtype="float64")
    return np.maximum(raw * factor, annual_spend(table))
