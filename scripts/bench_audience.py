"""Benchmark the campaign audience build at scale (not a test; issue 7): seconds of the audience models under
dbt against the same compiled SQL run directly in DuckDB (the bare floor), measured side by side in one run.

The audience models: category_affinity, int_customer_next_best_offer, int_customer_channel_consent,
int_campaign_response_rates, customer_events, campaign_audience. Their inputs (facts, segments, history) are
built first by the normal pipeline steps, for the day before D and then D (so the change events have a previous
date in the history); that part is not timed here (bench_pipeline.py times it).

    python scripts/bench_audience.py --customers 1000000 --days 730 --home /tmp/cvw_bench_1m

With --home pointing at a folder that already holds a built warehouse for --end-date (e.g. left by an earlier
run of this script or of bench_pipeline.py --home), the generate/ingest/build part is skipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

AUDIENCE_MODELS = (
    "category_affinity",
    "int_customer_next_best_offer",
    "int_customer_channel_consent",
    "int_campaign_response_rates",
    "customer_events",
    "campaign_audience",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--end-date", type=date.fromisoformat, default=date(2025, 12, 31))
    p.add_argument("--home", type=Path, help="working folder (default: a temp folder, removed afterwards)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each side (best is kept)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("DBT_QUIET", "true")

    from cvw import db, settings
    from cvw.dbt import run_dbt
    from cvw.pipeline import new_run_id, step_build_core, step_build_value, step_clv, step_ingest

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_audience_"))
    s = settings.load(home=home)
    as_of = args.end_date

    def built() -> bool:
        if not s.warehouse.exists():
            return False
        with db.connect_warehouse(s.warehouse, read_only=True) as con:
            try:
                return (
                    con.sql("select max(as_of_date) from marts.analytics.campaign_audience").fetchall()[0][0] == as_of
                    and con.sql("select count(*) from history.customer_segments_history where as_of_date = "
                                f"date '{as_of}' - 1").fetchall()[0][0] > 0
                )
            except Exception:  # noqa: BLE001 - not built yet
                return False

    setup = time.perf_counter()
    if not built():
        if not (s.landing_dir / "orders").exists():
            cmd = [sys.executable, "-m", "cvw.cli", "generate", "--out", str(s.landing_dir), "--customers",
                   str(args.customers), "--days", str(args.days), "--seed", str(args.seed), "--end-date", str(as_of)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        step_ingest(s, new_run_id(as_of))
        # the day before first, so the history holds a previous date and the change events (stage, wallet,
        # churn risk) are computed as on any night after the first
        for d in (as_of - timedelta(days=1), as_of):
            step_build_core(s, d)
            step_clv(s, d)
            step_build_value(s, d)
    print(f"setup (generate/ingest/build, not timed): {time.perf_counter() - setup:.0f} s", flush=True)

    select = ["--select", *AUDIENCE_MODELS]
    run_dbt(s, ["parse"], as_of=as_of)  # not timed: the project parse, which every dbt command shares
    dbt_run, dbt_build = float("inf"), float("inf")
    for _ in range(args.repeats):
        t = time.perf_counter()
        run_dbt(s, ["run", *select], as_of=as_of)
        dbt_run = min(dbt_run, time.perf_counter() - t)
        t = time.perf_counter()
        run_dbt(s, ["build", *select, "--exclude", "test_type:unit"], as_of=as_of)
        dbt_build = min(dbt_build, time.perf_counter() - t)
        print(f"dbt run {dbt_run:.1f} s, dbt build (with tests) {dbt_build:.1f} s", flush=True)

    # the floor: the SQL dbt compiled for these models, as plain CTAS statements in one DuckDB connection
    compiled = {}
    for model in AUDIENCE_MODELS:
        (path,) = (s.home / "dbt" / "target" / "compiled").rglob(f"{model}.sql")
        compiled[model] = path.read_text()
    bare, per_model = float("inf"), {}
    with db.connect_warehouse(s.warehouse) as con:
        con.execute("create schema if not exists bench_floor")
        for _ in range(args.repeats):
            laps = {}
            for model, sql in compiled.items():
                t = time.perf_counter()
                con.execute(f"create or replace table bench_floor.{model} as {sql}")
                laps[model] = round(time.perf_counter() - t, 2)
            if sum(laps.values()) < bare:
                bare, per_model = sum(laps.values()), laps
        same = all(
            con.sql(
                f"select count(*) from (select * from bench_floor.{m} except all select * from "
                f"{'marts' if m in ('category_affinity', 'customer_events', 'campaign_audience') else 'intermediate'}.{m})"
            ).fetchall()[0][0] == 0
            for m in AUDIENCE_MODELS
        )
        rows = {m: con.sql(f"select count(*) from bench_floor.{m}").fetchall()[0][0] for m in AUDIENCE_MODELS}
        con.execute("drop schema bench_floor cascade")
        customers = con.sql("select count(*) from marts.analytics.dim_customers").fetchall()[0][0]
        contacts = con.sql("select count(*) from marts.analytics.fct_marketing_contacts").fetchall()[0][0]
    print(f"bare DuckDB (same compiled SQL) {bare:.1f} s", flush=True)
    result = {
        "customers": customers,
        "marketing_contacts": contacts,
        "rows": rows,
        "bare_equals_dbt": same,
        "seconds": {"dbt_run": round(dbt_run, 2), "dbt_build_with_tests": round(dbt_build, 2),
                    "bare_duckdb": round(bare, 2), "bare_duckdb_per_model": per_model},
        "dbt_run_over_bare": round(dbt_run / bare, 2),
        "dbt_build_over_bare": round(dbt_build / bare, 2),
    }
    print(json.dumps(result, indent=2))
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
