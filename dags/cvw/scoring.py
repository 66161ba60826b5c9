"""The CLV step between the two dbt phases: fit BG/NBD + Gamma-Gamma, score every customer.

Reads the activity summary `customer_rfm` (the audit marts) built by the first dbt phase and writes two tables the
second phase reads as `source('clv', ...)`:

* `clv.model_fit` — one row per parameter (model, parameter, value, n_customers, log_likelihood,
  converged, iterations, message);
* `clv.customer_scores` — per customer p_alive, expected purchases over `clv_horizon_days` and the
  expected value of a purchase (clv_12m = their product x the margin rate is SQL, in `customer_clv`).

The fit moves the likelihood's sufficient statistic, not the customers: BG/NBD gets
`count(*) group by frequency, recency_days, tenure_days`, Gamma-Gamma the repeat buyers' (frequency,
avg_repeat_value). Scoring streams the customers through `score_batch` in Arrow record batches on every
engine (DuckDB: a RecordBatchReader; PostgreSQL: a server-side cursor + COPY; Spark: mapInArrow), so no
process ever holds every customer.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import date

from cvw.engines.base import arrow_schema
from cvw.settings import Settings

log = logging.getLogger(__name__)

SUMMARY_SQL = (
    "select frequency, recency_days, tenure_days, count(*) as customers from {marts}.customer_rfm "
    "group by frequency, recency_days, tenure_days order by frequency, recency_days, tenure_days"
)
REPEAT_SQL = (
    "select frequency, avg_repeat_value from {marts}.customer_rfm where frequency > 0 "
    "order by frequency, avg_repeat_value"
)
SCORE_SOURCE_SQL = (
    "select customer_id, frequency, recency_days, tenure_days, avg_repeat_value from {marts}.customer_rfm"
)
# (name, type in the DuckDB/PostgreSQL spelling); engines map the types
SCORE_COLUMNS = (
    ("customer_id", "varchar"),
    ("p_alive", "double"),
    ("expected_purchases", "double"),
    ("expected_avg_value", "double"),
)
FIT_COLUMNS = (
    ("model", "varchar"),
    ("parameter", "varchar"),
    ("value", "double"),
    ("time_unit", "varchar"),
    ("n_customers", "bigint"),
    ("log_likelihood", "double"),
    ("converged", "boolean"),
    ("iterations", "integer"),
    ("message", "varchar"),
    ("fitted_as_of", "varchar"),  # the run's as-of date D (YYYY-MM-DD)
)
PARAMETERS = {"bg_nbd": ("r", "alpha", "a", "b"), "gamma_gamma": ("p", "q", "gamma")}


def score_batch(batch, bg: dict | None, gg: dict | None, horizon_days: float):
    """Score one Arrow record batch of the activity summary; returns a batch of SCORE_COLUMNS."""
    import numpy as np
    import pyarrow as pa

    from cvw.clv import score

    def col(name):
        return batch.column(name).to_numpy(zero_copy_only=False).astype("float64")

    out = score(bg, gg, horizon_days, col("frequency"), col("recency_days"), col("tenure_days"),
                col("avg_repeat_value"))
    arrays = [batch.column("customer_id").cast(pa.string())]
    arrays += [pa.array(np.asarray(out[k], dtype="float64"), from_pandas=True)  # NaN (no fit) -> null
               for k in ("p_alive", "expected_purchases", "expected_avg_value")]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema(SCORE_COLUMNS))


def _fit_rows(fits: dict, message: str | None = None) -> list[dict]:
    rows = []
    for model, names in PARAMETERS.items():
        fit = fits.get(model)
        for name in names:
            rows.append({
                "model": model,
                "parameter": name,
                "value": fit.params[name] if fit else None,
                "time_unit": "day",
                "n_customers": fit.n_customers if fit else 0,
                "log_likelihood": fit.log_likelihood if fit else None,
                "converged": bool(fit.converged) if fit else False,
                "iterations": fit.iterations if fit else 0,
                "message": (fit.message if fit else message) or "",
            })
    return rows


def fit(engine, fit_required: bool = True) -> tuple[dict | None, dict | None, list[dict]]:
    """Fit both models on the warehouse's activity summary: (bg params, gg params, clv.model_fit rows)."""
    from cvw.clv import FitError, fit_bgnbd, fit_gamma_gamma

    summary = engine.read_arrow(SUMMARY_SQL.format(marts=engine.audit_schema))
    repeat = engine.read_arrow(REPEAT_SQL.format(marts=engine.audit_schema))
    try:
        bg = fit_bgnbd(summary.column("frequency"), summary.column("recency_days"), summary.column("tenure_days"),
                       weights=summary.column("customers"))
        gg = fit_gamma_gamma(repeat.column("frequency"), repeat.column("avg_repeat_value"))
    except FitError as exc:
        why = str(exc)
        if summary.num_rows == 0:  # e.g. an as-of date before the first order
            why = ("no customer has a completed order on or before the as-of date (is the date before the data? "
                   "`cvw status` shows what was loaded)")
        if fit_required:
            raise FitError(
                f"cannot fit the CLV models: {why}. Nothing was published. To publish without CLV "
                "(clv columns null, clv_model_fit says why), set the dbt var clv_fit_required: false, e.g. "
                "CVW_DBT_VARS='{\"clv_fit_required\": false}'."
            ) from exc
        log.warning("CLV not fitted (clv_fit_required is false): %s", why)
        return None, None, _fit_rows({}, f"not fitted: {why}")
    for f in (bg, gg):
        log.info("CLV fit %s: %s, log-likelihood %.3f over %d customers, converged=%s (%d iterations)",
                 f.model, {k: round(v, 6) for k, v in f.params.items()}, f.log_likelihood, f.n_customers,
                 f.converged, f.iterations)
        if not f.converged:
            log.warning("CLV fit %s did not converge: %s", f.model, f.message)
    return bg.params, gg.params, _fit_rows({"bg_nbd": bg, "gamma_gamma": gg})


def step_clv(settings: Settings, as_of: date) -> dict:
    """Fit on the activity summary as of D and score every customer into `clv.*` (see module doc)."""
    import pyarrow as pa

    from cvw import failpoints
    from cvw.config import project_vars
    from cvw.engines import get_engine
    from cvw.publish import check_built_for

    v = project_vars()
    required = str(v.get("clv_fit_required", True)).lower() not in ("false", "0", "no")
    horizon = float(v.get("clv_horizon_days", 365))
    started = time.monotonic()
    engine = get_engine(settings)
    try:
        check_built_for(engine.query, ("customer_rfm",), as_of, engine.audit_schema)
        bg, gg, rows = fit(engine, fit_required=required)
        fitted = time.monotonic()
        failpoints.hit("clv.after_fit")
        # stamped with D: a dbt test stops the value build if the CLV step ran for another date in between
        rows = [{**r, "fitted_as_of": as_of.isoformat()} for r in rows]
        schema = arrow_schema(FIT_COLUMNS)
        engine.write_arrow(pa.Table.from_pylist(rows, schema=schema), "clv", "model_fit")
        fn = functools.partial(score_batch, bg=bg, gg=gg, horizon_days=horizon)
        source = SCORE_SOURCE_SQL.format(marts=engine.audit_schema)
        scored = engine.map_batches(source, fn, "clv", "customer_scores", SCORE_COLUMNS)
    finally:
        engine.close()
    result = {
        "fitted": bg is not None,
        "params": {**(bg or {}), **(gg or {})},
        "converged": all(r["converged"] for r in rows),
        "customers_scored": scored,
        "fit_seconds": round(fitted - started, 3),
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("CLV step as of %s: %d customers scored in %.1fs (fit %.1fs)", as_of, scored, result["seconds"],
             result["fit_seconds"])
    return result
