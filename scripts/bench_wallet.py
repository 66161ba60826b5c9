"""Benchmark (not a test): the run's wallet estimates (SPEC 4.6, issue 18) against the generator's true wallets.

Generates a data set (cvw.generate writes the true wallet of every customer x category, bought from us or not,
to <landing>/_ground_truth/wallets.parquet), ingests it and runs the build of D = the last day on DuckDB as the
nightly run does (dbt core, CLV step, wallet step, dbt value), then builds the value models a second time with
the wallet model's scores emptied: customer_wallet then falls back to what it gave before issue 18 (survey,
installed base, peer quantile, none). Side by side, on the same rows:

* MdAPE (median of |estimate - true| / true) per wallet_method and on the rows without a survey or installed base
  (with and without our 365-day spend): the run's wallet, the peer quantile (before), naive "wallet = own
  365-day spend"; a row without an estimate counts as 0 (error 100%), as naive does for a customer who did not
  buy; coverage = true wallets that get an estimate;
* the leave-survey-out error the run published (wallet_model_fit) beside the model's error against the true
  wallets on the same surveyed rows;
* how RAD strategies (customer_segments.rad_strategy) moved between the two wallets, customer by customer;
* seconds of the wallet step (read, fit, scoring).

    python scripts/bench_wallet.py --customers 20000 --days 730
    python scripts/bench_wallet.py --customers 20000 --quantiles 0.9 0.95 0.97 0.99   # wallet_model_quantile
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from datetime import date
from pathlib import Path

WALLET_SQL = """
select customer_id, category, wallet_method, cast(wallet_estimate as double) as wallet_estimate,
       cast(own_spend_365d as double) as own_spend_365d
from marts.analytics.customer_wallet
"""
MODEL_SQL = "select customer_id, category, model_wallet from wallet_model.scores"
RAD_SQL = "select customer_id, rad_strategy from marts.analytics.customer_segments"
FIT_SQL = "select * from wallet_model.fit where category = 'all' and customer_type = 'all'"
# customers SPEC 4.7's acquire rule would pick if any wallet counted, the model's included, not only a known one
# (survey or installed base): no revenue in the window, a wallet >= the median wallet of active customers
ANY_WALLET_ACQUIRE_SQL = (
    "select count(*) from marts.analytics.customer_segments where coalesce(revenue_365d, 0) <= 0 "
    "and wallet_total >= median_wallet_active and rad_strategy in ('acquire', 'maintain')"
)


def build(home: Path, customers: int, days: int, seed: int, end: date):
    from cvw import settings as cvw_settings
    from cvw.generate import generate
    from cvw.pipeline import new_run_id, step_build_core, step_clv, step_ingest

    landing = home / "landing"
    t0 = time.perf_counter()
    generate(landing, customers=customers, days=days, seed=seed, end_date=end)
    t1 = time.perf_counter()
    s = cvw_settings.load(home=home, landing_dir=landing, warehouse=home / "warehouse" / "cvw.duckdb", target="duckdb")
    step_ingest(s, new_run_id(end))
    t2 = time.perf_counter()
    step_build_core(s, end)
    step_clv(s, end)
    t3 = time.perf_counter()
    print(f"generate {t1 - t0:.1f}s, ingest {t2 - t1:.1f}s, dbt core + CLV {t3 - t2:.1f}s")
    return s, landing


def read(s, sql: str):
    from cvw import db

    with db.connect_warehouse(s.warehouse, read_only=True) as con:
        return con.execute(sql).df()


def run_wallet(s, end: date, quantile: float | None) -> dict:
    """The wallet step (at `quantile`, else the default) and the value build; what the run gave."""
    from cvw.pipeline import step_build_value, step_wallet

    if quantile is not None:
        os.environ["CVW_DBT_VARS"] = json.dumps({"wallet_model_quantile": quantile})
    try:
        step = step_wallet(s, end)
        step_build_value(s, end)
    finally:
        os.environ.pop("CVW_DBT_VARS", None)
    return {"step": step, "wallet": read(s, WALLET_SQL), "model": read(s, MODEL_SQL), "rad": read(s, RAD_SQL),
            "fit": read(s, FIT_SQL).iloc[0].to_dict(), "any_wallet_acquire": int(read(s, ANY_WALLET_ACQUIRE_SQL).iloc[0, 0])}


def without_model(s, end: date) -> dict:
    """The value build with wallet_model.scores emptied: customer_wallet as before issue 18."""
    from cvw.engines import get_engine
    from cvw.engines.base import arrow_schema
    from cvw.pipeline import step_build_value
    from cvw.wallet_model import SCORE_COLUMNS

    engine = get_engine(s)
    try:
        engine.write_arrow(arrow_schema(SCORE_COLUMNS).empty_table(), "wallet_model", "scores")
    finally:
        engine.close()
    step_build_value(s, end)
    return {"wallet": read(s, WALLET_SQL), "rad": read(s, RAD_SQL)}


def compare(truth, new: dict, old: dict) -> dict:
    """MdAPE of the run's wallet, the peer quantile (before) and naive on the true wallets' rows."""
    import numpy as np

    df = truth.merge(new["wallet"], on=["customer_id", "category"], how="left")
    df = df.merge(old["wallet"][["customer_id", "category", "wallet_method", "wallet_estimate"]]
                  .rename(columns={"wallet_method": "method_before", "wallet_estimate": "before"}),
                  on=["customer_id", "category"], how="left")
    df = df.merge(new["model"], on=["customer_id", "category"], how="left")
    w = df["true_wallet"]
    own = df["own_spend_365d"].fillna(0.0)
    estimates = {"run": df["wallet_estimate"].fillna(0.0), "before": df["before"].fillna(0.0), "naive": own}

    def mdape(est, rows) -> float:
        return float(np.median((est[rows] - w[rows]).abs() / w[rows])) if rows.any() else float("nan")

    method = df["wallet_method"].fillna("none")
    rest = ~method.isin(("survey", "installed_base"))
    parts = [(m, method == m) for m in ("survey", "installed_base", "model_quantile", "peer_quantile", "none")
             if (method == m).any()]
    parts += [("no survey/IB, spend", rest & (own > 0)), ("no survey/IB, none", rest & (own <= 0)),
              ("no survey/IB, all", rest), ("all true wallets", method.notna())]
    table = [{"rows": name, "n": int(rows.sum()), **{k: mdape(e, rows) for k, e in estimates.items()}}
             for name, rows in parts]
    surveyed = method == "survey"
    return {
        "truth_rows": len(df),
        "coverage_run": float((method != "none").mean()),
        "coverage_before": float((df["method_before"].fillna("none") != "none").mean()),
        "leave_survey_out_mdape": new["fit"]["mdape_leave_survey_out"],
        "model_vs_truth_on_surveyed_rows": mdape(df["model_wallet"].astype(float), surveyed),
        "surveys": int(surveyed.sum()),
        "table": table,
    }


def rad_shift(new, old):
    """Customers per (RAD before, RAD with the model)."""
    import pandas as pd

    both = old.merge(new, on="customer_id", suffixes=("_before", "_now"))
    return pd.crosstab(both["rad_strategy_before"], both["rad_strategy_now"], margins=True, margins_name="total")


def show(title: str, result: dict, step: dict) -> None:
    print(f"\n{title}")
    print(f"{'rows':<22}{'n':>9}{'MdAPE run':>11}{'peers (before)':>16}{'naive':>8}{'vs naive':>10}{'vs before':>11}")
    for r in result["table"]:
        print(f"{r['rows']:<22}{r['n']:>9}{r['run']:>10.1%}{r['before']:>16.1%}{r['naive']:>8.1%}"
              f"{r['naive'] / r['run']:>9.2f}x{r['before'] / r['run']:>10.2f}x")
    print(f"coverage of the {result['truth_rows']} true wallets: {result['coverage_run']:.1%} "
          f"(before: {result['coverage_before']:.1%})")
    print(f"leave-survey-out MdAPE (published, wallet_model_fit): {result['leave_survey_out_mdape']:.1%}; the model "
          f"against the true wallets on the same {result['surveys']} surveyed rows: "
          f"{result['model_vs_truth_on_surveyed_rows']:.1%}")
    print(f"wallet step: read {step['read_seconds']:.1f}s, fit {step['fit_seconds']:.1f}s on {step['training_rows']} "
          f"rows, {step['rows_scored']} rows scored, {step['seconds']:.1f}s in all")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-date", type=date.fromisoformat, default=date(2025, 12, 31), help="last day = D")
    ap.add_argument("--quantiles", type=float, nargs="*", default=[],
                    help="also run the wallet step at these wallet_model_quantile values (default: the project's)")
    ap.add_argument("--home", type=Path, help="work folder (default: a new temp folder)")
    ap.add_argument("--reuse", action="store_true", help="reuse --home's build (same arguments) instead of a new one")
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("DBT_QUIET", "true")  # dbt prints every node otherwise
    import pandas as pd

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_wallet_"))
    print(f"{args.customers} customers x {args.days} days, seed {args.seed}, D = {args.end_date}, home {home}")
    if args.reuse and (home / "warehouse" / "cvw.duckdb").exists():
        from cvw import settings as cvw_settings

        landing = home / "landing"
        s = cvw_settings.load(home=home, landing_dir=landing, warehouse=home / "warehouse" / "cvw.duckdb",
                              target="duckdb")
        print("reusing the build in --home")
    else:
        s, landing = build(home, args.customers, args.days, args.seed, args.end_date)
    truth = pd.read_parquet(landing / "_ground_truth" / "wallets.parquet")
    assert (pd.to_datetime(truth["as_of_date"]).dt.date == args.end_date).all()
    truth = truth[["customer_id", "category", "true_wallet"]]

    first = run_wallet(s, args.end_date, None)  # the run's wallets (the project's defaults)
    old = without_model(s, args.end_date)  # then, on the same build, what the run gave before issue 18
    results = []
    for q in [None, *args.quantiles]:
        new = first if q is None else run_wallet(s, args.end_date, q)
        result = compare(truth, new, old)
        results.append({"wallet_model_quantile": q or "default", **result, "step": new["step"]})
        show(f"wallet_model_quantile = {q or 'the default'}", result, new["step"])
        if q is None:
            print("\nRAD strategy per customer: rows = with the peer quantile (before), columns = with the model")
            print(rad_shift(new["rad"], old["rad"]).to_string())
            print(f"acquire if a model wallet counted as known (SPEC 4.7 counts survey and installed base only): "
                  f"{new['any_wallet_acquire']} customers")
    if args.json:
        print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
