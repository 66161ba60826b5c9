"""The wallet model (issue 18): a high quantile of category spend, learned from who the customer is.

Perlich, Rosset, Lawrence and Zadrozny, "High-quantile modeling for customer wallet estimation and other
applications" (KDD 2007), the method SPEC 4.6 names: a customer's wallet in a category is what they would spend
with us if we had all of it, which is a high quantile of the spend of customers like them. Fitted here:

* **Rows.** One per customer x category of ``int_wallet_grid`` (dbt): the customer's attributes (type, region,
  occupation, industry, size band, acquisition channel, age, employees, annual revenue, tenure) and their
  spend with us in the category over the 365 days to D (SPEC 4.6).
* **Fit.** scikit-learn's ``HistGradientBoostingRegressor(loss="quantile")`` on ``log1p(365-day spend)`` of the
  rows where the customer bought the category in the window; a quantile commutes with the monotone log, so
  ``expm1`` of the prediction is the q-quantile of spend. Fitted on the buyers, scored for every customer: over
  all customers (zeros included) the 0.9 quantile of a category's spend is 0 for a fifth of the rows and the
  error against the true wallets is 100% (measured on generated data, 20,000 customers: buyers only 43.9%). The
  features hold no spend: spend = wallet x share, and the share is what the wallet is for, so the customer's own
  spend (or RFM) would copy their share into their wallet (measured: adding spend in other categories and RFM
  raised the error from ~45% to ~70%).
  Deterministic: fixed iterations, no early stopping, no random draw; at most ``max_train_rows`` rows, whole
  customers chosen by a hash of the customer id (FNV-1a, the same on every machine and engine).
* **Leave-survey-out calibration and validation.** Surveys never enter the fit. The q-quantile is calibrated per
  category and customer type by the median ratio survey / prediction, and validated the only way a real company
  can: the surveyed customers are split into ``folds`` by the hash of their id, and each fold's wallets are
  calibrated on the other folds' surveys only, then compared with what its customers reported
  (``WalletFit.validation``, published as ``wallet_model_fit``).
* **Scoring.** Every customer x category gets ``max(calibrated prediction, own annual spend)``, bought or not
  (annual spend: lifetime spend with us in the category per year since the first order), in Arrow batches
  (``score_batch``), so the engines stream the grid through it.

Features go to scikit-learn as one float matrix: a categorical column is the index of its value among the levels
seen in training (pyarrow ``index_in``; unseen or missing: NaN), so no pandas object columns are built.
This module is pure Python over Arrow and numpy (no engine, no Airflow); ``cvw.scoring.step_wallet`` runs it in
the nightly run, ``scripts/bench_wallet.py`` against the generator's true wallets.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

CATEGORICAL = ("category", "customer_type", "region", "occupation", "industry", "size_band", "acquisition_channel")
NUMERIC = ("age_years", "log_employees", "log_annual_revenue", "tenure_years")
#: What the model reads of int_wallet_grid (the relation is the engine's `intermediate.int_wallet_grid`).
GRID_COLUMNS = (
    "customer_id", *CATEGORICAL, "age_years", "employee_count", "annual_revenue",
    "tenure_days", "days_since_first_order", "own_spend_365d", "spend_lifetime", "survey_estimate",
)
GRID = "intermediate.int_wallet_grid"
#: A customer's first order counts as at least this many days ago when spend is annualised.
MIN_ANNUALISE_DAYS = 91
#: Fewer customer x category rows with spend than this: no fit.
MIN_TRAIN_ROWS = 50
FOLDS = 5
# (name, type) in the DuckDB/PostgreSQL spelling: the tables the wallet step writes (dbt source wallet_model)
SCORE_COLUMNS = (("customer_id", "varchar"), ("category", "varchar"), ("model_wallet", "double"),
                 ("model_error", "double"))
FIT_COLUMNS = (
    ("category", "varchar"), ("customer_type", "varchar"), ("surveys", "bigint"), ("calibration_factor", "double"),
    ("mdape_leave_survey_out", "double"), ("median_estimate_over_survey", "double"), ("quantile", "double"),
    ("training_rows", "bigint"), ("iterations", "integer"), ("fitted", "boolean"), ("message", "varchar"),
    ("fitted_as_of", "varchar"),
)
ALL = "all"


class WalletFitError(ValueError):
    """Too little data to fit the wallet model."""


@dataclass(frozen=True, eq=False)
class WalletFit:
    """A fitted wallet model: the regressor, the levels of each categorical and the calibration."""

    regressor: Any
    quantile: float
    iterations: int
    levels: dict[str, list[str]]
    columns: Any  # boolean mask over design()'s columns: the features that have a value in training
    factors: dict[str, float]  # per "category|customer_type": median survey / prediction (1.0: no survey)
    n_train: int
    seconds: float
    validation: list[dict] = field(default_factory=list)  # per group, leave-survey-out (see module doc)

    def error(self, group: str) -> float | None:
        """The leave-survey-out MdAPE of a "category|customer_type" group (None: no surveys)."""
        for v in self.validation:
            if v["group"] == group:
                return v["mdape_leave_survey_out"]
        return None


def train_sql(relation: str = GRID) -> str:
    """The rows the model is fitted on: customer x category rows with spend in the window (`fit` puts them in
    byte order of the keys: an engine's collation does not decide the order the trees see them in)."""
    return f"select {', '.join(GRID_COLUMNS)} from {relation} where own_spend_365d > 0"


def survey_sql(relation: str = GRID) -> str:
    """The surveyed rows: the calibration and leave-survey-out validation data."""
    return f"select {', '.join(GRID_COLUMNS)} from {relation} where survey_estimate is not null"


def score_sql(relation: str = GRID) -> str:
    """Every row of the grid (scored in batches, any order)."""
    return f"select {', '.join(GRID_COLUMNS)} from {relation}"


def _numbers(table, name: str):
    """A numeric column as float64 numpy (null -> NaN; decimals and integers converted)."""
    import numpy as np
    import pyarrow as pa

    col = table.column(name)
    if not pa.types.is_floating(col.type):
        col = col.cast(pa.float64())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype="float64")


def _codes(table, name: str, levels: list[str]):
    """A text column as the float index of each value in `levels` (NaN: null or a value not in levels)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = pc.index_in(table.column(name).cast(pa.string()), value_set=pa.array(levels, type=pa.string()))
    return np.asarray(idx.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")


def levels_of(table) -> dict[str, list[str]]:
    """The sorted distinct non-null values of each categorical column (what the model knows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return {name: sorted(v for v in pc.unique(table.column(name).cast(pa.string())).to_pylist() if v is not None)
            for name in CATEGORICAL}


def design(table, levels: dict[str, list[str]]):
    """The feature matrix (float64, columns CATEGORICAL then NUMERIC) of an Arrow table of GRID_COLUMNS."""
    import numpy as np

    cols = [_codes(table, name, levels[name]) for name in CATEGORICAL]
    cols += [
        _numbers(table, "age_years"),
        np.log1p(_numbers(table, "employee_count")),
        np.log1p(_numbers(table, "annual_revenue")),
        _numbers(table, "tenure_days") / 365.25,
    ]
    return np.column_stack(cols) if cols[0].size else np.empty((0, len(cols)))


def annual_spend(table):
    """The customer's lifetime spend with us in the category per year since their first order (0: not bought)."""
    import numpy as np

    spend = np.nan_to_num(_numbers(table, "spend_lifetime"), nan=0.0)
    days = np.nan_to_num(_numbers(table, "days_since_first_order"), nan=MIN_ANNUALISE_DAYS)
    return spend / (np.maximum(days, MIN_ANNUALISE_DAYS) / 365.25)


def id_hash(ids):
    """FNV-1a (32 bit) of each id's UTF-8 bytes, vectorised over the ids (a loop over byte positions only):
    the sample and the validation folds depend on the id alone, on every machine and engine."""
    import numpy as np
    import pyarrow as pa

    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else pa.array(ids)
    arr = arr.cast(pa.large_binary())
    n = len(arr)
    h = np.full(n, 2166136261, dtype="uint32")
    if n == 0:
        return h
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype="int64")[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(buffers[2], dtype="uint8") if buffers[2] is not None else np.zeros(1, "uint8")
    start, length = offsets[:-1], np.diff(offsets)
    prime = np.uint32(16777619)
    for k in range(int(length.max(initial=0))):
        more = np.flatnonzero(length > k)
        h[more] = (h[more] ^ data[start[more] + k].astype("uint32")) * prime
    return h


def _group_column(table):
    """The calibration group of each row as an Arrow array: "category|customer_type" (B2B and B2C wallets sit
    differently against the spend quantile)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = pc.fill_null(table.column("customer_type").cast(pa.string()), "?")
    return pc.binary_join_element_wise(table.column("category").cast(pa.string()), kind, "|")


def _groups(table):
    """The calibration group of each row (numpy object array; for the surveyed rows)."""
    import numpy as np

    return np.asarray(_group_column(table).to_numpy(zero_copy_only=False), dtype=object)


def fit(train, surveys=None, quantile: float = 0.9, max_train_rows: int = 500_000, folds: int = FOLDS,
        max_iter: int = 100) -> WalletFit:
    """Fit on `train` (Arrow table of GRID_COLUMNS: the rows with 365-day spend; others are ignored) and
    calibrate on `surveys` (the rows with a survey_estimate), which never train it."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor

    started = time.monotonic()
    train = _in_key_order(train)
    y = np.nan_to_num(_numbers(train, "own_spend_365d"), nan=0.0)
    rows = np.flatnonzero(y > 0)
    if len(rows) > max_train_rows:  # the customers of the smallest hash, all their bought categories
        h = id_hash(train.column("customer_id"))[rows]
        cut = np.sort(np.unique(h))
        cut = cut[min(len(cut) - 1, int(len(cut) * max_train_rows / len(rows)))]
        rows = rows[h <= cut]
    if len(rows) < MIN_TRAIN_ROWS:
        raise WalletFitError(
            f"{len(rows)} customer x category rows with 365-day spend (the model needs at least {MIN_TRAIN_ROWS})")
    train = train.take(rows)
    levels = levels_of(train)
    x = design(train, levels)
    # a feature the data never fills (e.g. a plain transaction log: no age, employees or revenue) is left out:
    # it cannot split anything, and scikit-learn cannot bin a column with no value
    columns = ~np.isnan(x).all(axis=0)
    categorical = np.array([True] * len(CATEGORICAL) + [False] * len(NUMERIC))[columns]
    regressor = HistGradientBoostingRegressor(
        loss="quantile", quantile=quantile, max_iter=max_iter, learning_rate=0.1, early_stopping=False,
        categorical_features=list(categorical), random_state=0)
    regressor.fit(x[:, columns], np.log1p(y[rows]))
    model = WalletFit(regressor=regressor, quantile=quantile, iterations=max_iter, levels=levels, columns=columns,
                      factors={}, n_train=len(rows), seconds=0.0)
    factors, validation = {}, []
    if surveys is not None and surveys.num_rows:
        raw = _raw(model, surveys)
        factors, validation, _ = _calibrate(raw, _numbers(surveys, "survey_estimate"), _groups(surveys),
                                            id_hash(surveys.column("customer_id")), folds)
    return dataclasses.replace(model, factors=factors, validation=validation,
                               seconds=round(time.monotonic() - started, 3))


def _in_key_order(table):
    """The rows sorted by (customer_id, category) in byte order, whatever order the engine returned."""
    import pyarrow.compute as pc

    return table.take(pc.sort_indices(table, [("customer_id", "ascending"), ("category", "ascending")]))


def _raw(model: WalletFit, table):
    """The uncalibrated q-quantile of yearly spend of each row."""
    import numpy as np

    return np.expm1(model.regressor.predict(design(table, model.levels)[:, model.columns])).clip(min=0.0)


def _validation_row(group: str, factor, held_out, survey) -> dict:
    import numpy as np

    n = len(survey)
    return {
        "group": group, "surveys": int(n), "calibration_factor": factor,
        "mdape_leave_survey_out": float(np.median(np.abs(held_out - survey) / survey)) if n else None,
        "median_estimate_over_survey": float(np.median(held_out / survey)) if n else None,
    }


def _calibrate(raw, survey, group, hashed, folds: int) -> tuple[dict[str, float], list[dict], Any]:
    """Per group ("category|customer_type") median(survey / prediction) over all surveys, the leave-survey-out
    validation rows (per group, per category over both types "category|all", and "all|all"), and per row the
    held-out estimate (NaN where the row has no usable survey)."""
    import numpy as np

    survey = np.asarray(survey, dtype="float64")
    group = np.asarray(group, dtype=object)
    has = np.isfinite(survey) & (survey > 0) & (raw > 0)
    fold = np.asarray(hashed) % folds
    held_out = np.full(len(raw), np.nan)
    factors = {}
    for g in sorted(set(group[has])):
        rows = has & (group == g)
        factors[g] = float(np.median(survey[rows] / raw[rows]))
        for f in range(folds):
            others, mine = rows & (fold != f), rows & (fold == f)
            if mine.any():
                k = float(np.median(survey[others] / raw[others])) if others.any() else 1.0
                held_out[mine] = raw[mine] * k
    validation = [_validation_row(g, factors[g], held_out[has & (group == g)], survey[has & (group == g)])
                  for g in sorted(factors)]
    category = np.array([g.rsplit("|", 1)[0] for g in group], dtype=object) if len(group) else group
    for c in sorted(set(category[has])):
        rows = has & (category == c)
        validation.append(_validation_row(f"{c}|{ALL}", None, held_out[rows], survey[rows]))
    validation.append(_validation_row(f"{ALL}|{ALL}", None, held_out[has], survey[has]))
    return factors, validation, held_out


def predict(model: WalletFit, table):
    """(wallet, error) of every row: the calibrated q-quantile, never below the customer's own annual spend,
    and the leave-survey-out MdAPE of the row's group (NaN: no surveys in it)."""
    import numpy as np
    import pyarrow.compute as pc

    # a handful of distinct groups: look each up once (Arrow's dictionary encoding), then index
    encoded = _group_column(table).combine_chunks().dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    index = np.asarray(pc.fill_null(encoded.indices, len(distinct)).to_numpy(zero_copy_only=False), dtype="int64")
    factor = np.array([model.factors.get(g, 1.0) for g in distinct] + [1.0], dtype="float64")[index]
    error = np.array([model.error(g) if model.error(g) is not None else np.nan for g in distinct] + [np.nan],
                     dtype="float64")[index]
    wallet = np.maximum(_raw(model, table) * factor, annual_spend(table))
    return wallet, error


def score_batch(batch, model: WalletFit | None):
    """Score one Arrow record batch of GRID_COLUMNS: a batch of SCORE_COLUMNS, the wallet rounded to the cent."""
    import numpy as np
    import pyarrow as pa

    from cvw.engines.base import arrow_schema

    table = pa.Table.from_batches([batch])
    wallet, error = predict(model, table)
    arrays = [table.column("customer_id").cast(pa.string()).combine_chunks(),
              table.column("category").cast(pa.string()).combine_chunks(),
              pa.array(np.round(wallet, 2), type=pa.float64()),
              pa.array(error, type=pa.float64(), from_pandas=True)]  # NaN -> null
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(SCORE_COLUMNS))


def fit_rows(model: WalletFit | None, quantile: float, iterations: int, as_of: str, message: str = "") -> list[dict]:
    """The rows of wallet_model.fit (FIT_COLUMNS); one overall row saying why when there is no model."""
    common = {"quantile": quantile, "iterations": iterations, "fitted_as_of": as_of}
    if model is None:
        return [{"category": ALL, "customer_type": ALL, "surveys": 0, "calibration_factor": None,
                 "mdape_leave_survey_out": None, "median_estimate_over_survey": None, "training_rows": 0,
                 "fitted": False, "message": message, **common}]
    rows = []
    for v in model.validation or [_validation_row(f"{ALL}|{ALL}", None, [], [])]:
        category, kind = v["group"].rsplit("|", 1)
        rows.append({"category": category, "customer_type": kind, "surveys": v["surveys"],
                     "calibration_factor": v["calibration_factor"],
                     "mdape_leave_survey_out": v["mdape_leave_survey_out"],
                     "median_estimate_over_survey": v["median_estimate_over_survey"],
                     "training_rows": model.n_train, "fitted": True, "message": "", **common})
    return rows
