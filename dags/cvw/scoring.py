"""The Python steps between the two dbt phases: the CLV step (fit BG/NBD + Gamma-Gamma, score every customer)
and the wallet step (fit the high-quantile wallet model, score every customer x category: `step_wallet`).

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
    from cvw.config import flag, project_vars
    from cvw.engines import get_engine
    from cvw.publish import check_built_for

    v = project_vars()
    required = flag(v.get("clv_fit_required", True))
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


def step_wallet(settings: Settings, as_of: date) -> dict:
    """Fit the wallet model (cvw.wallet_model) on int_wallet_grid as of D, validate it leave-survey-out and
    score every customer x category into the tables the value build reads as `source('wallet_model', ...)`:

    * `wallet_model.fit` — per validation group (category x customer type, category, all) the surveys, the
      calibration factor and the leave-survey-out error, with the model's settings (FIT_COLUMNS);
    * `wallet_model.scores` — per customer x category the model's wallet and its group's error (SCORE_COLUMNS).

    The fit reads the rows with spend and the surveyed rows; scoring streams the whole grid through
    `score_batch` in Arrow batches on every engine. With too little data it raises, or, with the dbt var
    wallet_model_required false, writes no scores (customer_wallet then falls back to the peer quantile)."""
    import pyarrow as pa
    from threadpoolctl import threadpool_limits

    from cvw import failpoints, wallet_model
    from cvw.config import flag, project_vars
    from cvw.engines import get_engine
    from cvw.publish import check_built_for

    v = project_vars()
    quantile = float(v.get("wallet_model_quantile", 0.9))
    iterations = int(v.get("wallet_model_iterations", 100))
    max_rows = int(v.get("wallet_model_max_train_rows", 500_000))
    started = time.monotonic()
    engine = get_engine(settings)
    try:
        check_built_for(engine.query, ("int_wallet_grid",), as_of, "intermediate")
        train = engine.read_arrow(wallet_model.train_sql())
        surveys = engine.read_arrow(wallet_model.survey_sql())
        read = time.monotonic()
        # the model's OpenMP threads: no more than dbt's (measured at 1M: oversubscribed threads fit 4x slower)
        with threadpool_limits(limits=max(1, settings.dbt_threads), user_api="openmp"):
            try:
                model = wallet_model.fit(train, surveys, quantile=quantile, max_train_rows=max_rows,
                                         max_iter=iterations)
                why = ""
            except wallet_model.WalletFitError as exc:
                if flag(v.get("wallet_model_required", True)):
                    raise wallet_model.WalletFitError(
                        f"cannot fit the wallet model: {exc}. Nothing was published. To publish with the peer "
                        "quantile instead (wallet_model_fit says why), set the dbt var wallet_model_required: "
                        "false, e.g. CVW_DBT_VARS='{\"wallet_model_required\": false}'.") from exc
                log.warning("wallet model not fitted (wallet_model_required is false): %s", exc)
                model, why = None, f"not fitted: {exc}"
            del train
            fitted = time.monotonic()
            failpoints.hit("wallet.after_fit")
            rows = wallet_model.fit_rows(model, quantile, iterations, as_of.isoformat(), why)
            engine.write_arrow(pa.Table.from_pylist(rows, schema=arrow_schema(wallet_model.FIT_COLUMNS)),
                               "wallet_model", "fit")
            if model is None:
                engine.write_arrow(arrow_schema(wallet_model.SCORE_COLUMNS).empty_table(), "wallet_model", "scores")
                scored = 0
            else:
                fn = functools.partial(wallet_model.score_batch, model=model)
                scored = engine.map_batches(wallet_model.score_sql(), fn, "wallet_model", "scores",
                                            wallet_model.SCORE_COLUMNS)
    finally:
        engine.close()
    overall = next((r for r in rows if r["category"] == wallet_model.ALL and r["customer_type"] == wallet_model.ALL),
                   {})
    result = {
        "fitted": model is not None,
        "training_rows": model.n_train if model else 0,
        "surveys": overall.get("surveys", 0),
        "mdape_leave_survey_out": overall.get("mdape_leave_survey_out"),
        "rows_scored": scored,
        "read_seconds": round(read - started, 3),
        "fit_seconds": round(fitted - read, 3),
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("wallet step as of %s: fitted on %d rows in %.1fs, leave-survey-out MdAPE %s over %d surveys, "
             "%d customer x category rows scored in %.1fs", as_of, result["training_rows"], result["fit_seconds"],
             f"{result['mdape_leave_survey_out']:.1%}" if result["mdape_leave_survey_out"] is not None else "n/a",
             result["surveys"], scored, result["seconds"])
    return result
