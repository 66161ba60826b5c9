"""Benchmark the pipeline stages at scale (not a test), side by side in one run:

* the full run: every generated file up to the day before --end-date, validated from raw (--full-refresh),
  seconds per stage and the peak memory of the process after it;
* the nightly run of --end-date: its new day of files, incremental (the default), seconds per stage;
* one backfilled date (--backfill-days-back before --end-date), after those nights: `cvw run` of it;
* the slowest nodes of each core dbt build (dbt's own seconds per model and test);
* the full run's dbt build against two floors:
  - the compiled-SQL floor: the same compiled models (dbt's target/compiled, its table and view models in
    dependency order) run directly on one DuckDB connection as `create or replace table|view ... as <sql>`,
    without dbt (no parsing, tests, contracts or per-node overhead): what the SQL alone costs;
  - a bare aggregate over fct_order_lines (one query; the smallest work any build must do).

The value-model build (issue 3) is dbt_core + clv + wallet + dbt_value + gate. The data is generated in a child
process, so the peak memory reported (ru_maxrss of this process) is the pipeline's own.

    python scripts/bench_pipeline.py --customers 1000000 --days 730
"""

from __future__ import annotations

import argparse
import graphlib
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def compiled_sql_floor(s) -> tuple[float, int]:
    """(seconds, models): the build's table and view models run from their compiled SQL on one connection,
    in dependency order, replacing the relations dbt built (same inputs, same SQL, same outputs). The
    incremental validated models count as tables (a full build's SQL, so call this right after a full
    refresh); the segment history (full_refresh=false) is left out: it appends one date."""
    from cvw import db

    target = s.home / "dbt" / "target"
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    models = {
        uid: n for uid, n in nodes.items()
        if n["resource_type"] == "model" and n["config"]["materialized"] in ("table", "view", "incremental")
        and n["config"].get("full_refresh") is not False
    }
    graph = {uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()}
    order = list(graphlib.TopologicalSorter(graph).static_order())
    statements = []
    for uid in order:
        n = models[uid]
        sql = (target / "compiled" / n["package_name"] / n["original_file_path"]).read_text()
        kind = "view" if n["config"]["materialized"] == "view" else "table"
        statements.append(f"create or replace {kind} {n['relation_name']} as {sql}")
    with db.connect_warehouse(s.warehouse) as con:
        started = time.perf_counter()
        for statement in statements:
            con.execute(statement)
        return time.perf_counter() - started, len(statements)


def slowest_nodes(s, count: int = 8) -> list[dict]:
    """The dbt build's slowest nodes (run_results.json of the last invocation): seconds each, as dbt timed them
    (with two threads, two nodes share the two cores, so a node's seconds include waiting for the other)."""
    results = json.loads((s.home / "dbt" / "target" / "run_results.json").read_text())["results"]
    ranked = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:count]
    return [{"node": r["unique_id"].split(".", 2)[-1], "seconds": round(r["execution_time"], 2)} for r in ranked]


def land_until(source: Path, landing: Path, as_of: date) -> None:
    """Hard-link the generated files named after a date on or before `as_of` into the landing folder (what had
    landed by the night of `as_of`); files without a date in their name land on the first night."""
    for path in source.rglob("*"):
        if not path.is_file() or path.parts[len(source.parts)].startswith("_"):
            continue
        named = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
        target = landing / path.relative_to(source)
        if (named is None or date.fromisoformat(named.group(1)) <= as_of) and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--end-date", type=date.fromisoformat, default=date(2025, 12, 31))
    p.add_argument("--home", type=Path, help="working folder (default: a temp folder, removed afterwards)")
    p.add_argument("--floor-repeats", type=int, default=3, help="runs of the floor query (best is kept)")
    p.add_argument("--backfill-days-back", type=int, default=30,
                   help="the backfilled date is this many days before --end-date (default 30)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("DBT_QUIET", "true")  # dbt prints every node otherwise

    from cvw import db, settings
    from cvw.pipeline import (
        new_run_id,
        step_build_core,
        step_build_value,
        step_clv,
        step_gate,
        step_ingest,
        step_publish,
        step_wallet,
    )
    from cvw.pipeline import run as pipeline_run

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_"))
    s = settings.load(home=home)
    as_of = args.end_date
    day_before, backfilled = as_of - timedelta(days=1), as_of - timedelta(days=args.backfill_days_back)
    seconds: dict[str, float] = {}
    nodes: dict[str, list[dict]] = {}  # per run (full, nightly): the core build's slowest dbt nodes

    def timed(name, fn, *a, **kw):
        t = time.perf_counter()
        out = fn(*a, **kw)
        seconds[name] = time.perf_counter() - t
        print(f"{name:>18}: {seconds[name]:8.1f} s", flush=True)
        return out

    def stages(prefix: str, night: date, full_refresh: bool) -> dict:
        run_id = new_run_id(night)
        timed(f"{prefix}.ingest", step_ingest, s, run_id)
        timed(f"{prefix}.dbt_core", step_build_core, s, night, full_refresh=full_refresh)
        nodes[prefix] = slowest_nodes(s)
        print("  slowest dbt nodes: " + ", ".join(f"{n['node']} {n['seconds']} s" for n in nodes[prefix]), flush=True)
        clv = timed(f"{prefix}.clv", step_clv, s, night)
        wallet = timed(f"{prefix}.wallet", step_wallet, s, night)
        print(f"  wallet step: read {wallet['read_seconds']} s, fit {wallet['fit_seconds']} s on "
              f"{wallet['training_rows']} rows, {wallet['rows_scored']} rows scored", flush=True)
        timed(f"{prefix}.dbt_value", step_build_value, s, night)
        gate = timed(f"{prefix}.gate", step_gate, s, night, run_id)
        timed(f"{prefix}.publish", step_publish, s, night, run_id, gate)
        seconds[f"{prefix}.total"] = sum(v for k, v in seconds.items() if k.startswith(prefix + "."))
        return clv

    source = home / "source"
    if not (source / "orders").exists():
        cmd = [sys.executable, "-m", "cvw.cli", "generate", "--out", str(source), "--customers",
               str(args.customers), "--days", str(args.days), "--seed", str(args.seed), "--end-date", str(as_of)]
        timed("generate", lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))

    # the full run: every file up to the day before D, validated from raw (--full-refresh)
    land_until(source, s.landing_dir, day_before)
    clv = stages("full", day_before, full_refresh=True)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    floor_sql = (
        "select customer_id, count(*), sum(line_revenue), sum(line_margin) "
        "from marts.analytics.fct_order_lines where is_completed group by 1"
    )
    with db.connect_warehouse(s.warehouse, read_only=True) as con:
        best = float("inf")
        for _ in range(args.floor_repeats):
            t = time.perf_counter()
            con.sql(floor_sql).fetchall()
            best = min(best, time.perf_counter() - t)
        lines = con.sql("select count(*) from marts.analytics.fct_order_lines").fetchall()[0][0]
        orders = con.sql("select count(*) from marts.analytics.fct_orders").fetchall()[0][0]
    seconds["floor_aggregate"] = best
    # the floor of the full build: measured now, while target/compiled holds the full (not incremental) SQL
    seconds["floor_compiled_sql"], floor_models = compiled_sql_floor(s)
    print(f"compiled-SQL floor: {seconds['floor_compiled_sql']:.1f} s for {floor_models} models", flush=True)

    # the next night: D's files land, the default (incremental) run
    land_until(source, s.landing_dir, as_of)
    stages("nightly", as_of, full_refresh=False)
    # a backfilled older date, after the nightly runs (nothing new to ingest or validate)
    timed("backfilled_date", pipeline_run, s, backfilled)

    full = seconds["full.total"]
    dbt_full = seconds["full.dbt_core"] + seconds["full.dbt_value"]
    result = {
        "customers": args.customers,
        "days": args.days,
        "orders": orders,
        "order_lines": lines,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "nightly_over_full": round(seconds["nightly.total"] / full, 3),
        "backfilled_date_over_full": round(seconds["backfilled_date"] / full, 3),
        "peak_memory_gb_full_run": round(peak_gb, 2),
        "peak_memory_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "clv_fit_seconds": clv["fit_seconds"],
        "clv_params": {k: round(v, 4) for k, v in clv["params"].items()},
        "dbt_build_over_floor": round(dbt_full / best, 1),
        "dbt_build_over_compiled_sql_floor": round(dbt_full / seconds["floor_compiled_sql"], 2),
        "slowest_dbt_core_nodes": nodes,
    }
    print(json.dumps(result, indent=2))
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
