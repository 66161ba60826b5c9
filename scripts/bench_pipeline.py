"""Benchmark the pipeline stages at scale (not a test): seconds per stage, peak memory of the process, and
the dbt build against two floors measured in the same run:

* the compiled-SQL floor: the same compiled models (dbt's target/compiled, its table and view models in
  dependency order) run directly on one DuckDB connection as `create or replace table|view ... as <sql>`,
  without dbt (no parsing, tests, contracts or per-node overhead): what the SQL alone costs;
* a bare aggregate over fct_order_lines (one query; the smallest work any build must do).

The value-model build (issue 3) is dbt_core + clv + dbt_value + gate. The data is generated in a child
process, so the peak memory reported (ru_maxrss of this process) is the pipeline's own.

    python scripts/bench_pipeline.py --customers 100000 --days 730
"""

from __future__ import annotations

import argparse
import graphlib
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def compiled_sql_floor(s) -> tuple[float, int]:
    """(seconds, models): the build's table and view models run from their compiled SQL on one connection,
    in dependency order, replacing the relations dbt built (same inputs, same SQL, same outputs). The one
    incremental model (the segment history) is left out: it appends one date."""
    from cvw import db

    target = s.home / "dbt" / "target"
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    models = {
        uid: n for uid, n in nodes.items()
        if n["resource_type"] == "model" and n["config"]["materialized"] in ("table", "view")
    }
    graph = {uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()}
    order = list(graphlib.TopologicalSorter(graph).static_order())
    statements = []
    for uid in order:
        n = models[uid]
        sql = (target / "compiled" / n["package_name"] / n["original_file_path"]).read_text()
        kind = "view" if n["config"]["materialized"] == "view" else "table"
        statements.append(f"create or replace {kind} {n['relation_name']} as {sql}")
    with db.connect(s.warehouse) as con:
        started = time.perf_counter()
        for statement in statements:
            con.execute(statement)
        return time.perf_counter() - started, len(statements)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--end-date", type=date.fromisoformat, default=date(2025, 12, 31))
    p.add_argument("--home", type=Path, help="working folder (default: a temp folder, removed afterwards)")
    p.add_argument("--floor-repeats", type=int, default=3, help="runs of the floor query (best is kept)")
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
    )

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_"))
    s = settings.load(home=home)
    as_of = args.end_date
    run_id = new_run_id(as_of)
    seconds: dict[str, float] = {}

    def timed(name, fn, *a):
        t = time.perf_counter()
        out = fn(*a)
        seconds[name] = time.perf_counter() - t
        print(f"{name:>10}: {seconds[name]:8.1f} s", flush=True)
        return out

    if not (s.landing_dir / "orders").exists():
        cmd = [sys.executable, "-m", "cvw.cli", "generate", "--out", str(s.landing_dir), "--customers",
               str(args.customers), "--days", str(args.days), "--seed", str(args.seed), "--end-date", str(as_of)]
        timed("generate", lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL))
    timed("ingest", step_ingest, s, run_id)
    timed("dbt_core", step_build_core, s, as_of)
    clv = timed("clv", step_clv, s, as_of)
    timed("dbt_value", step_build_value, s, as_of)
    gate = timed("gate", step_gate, s, as_of, run_id)
    timed("publish", step_publish, s, as_of, run_id, gate)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    floor_sql = (
        "select customer_id, count(*), sum(line_revenue), sum(line_margin) "
        "from marts.fct_order_lines where is_completed group by 1"
    )
    with db.connect(s.warehouse, read_only=True) as con:
        best = float("inf")
        for _ in range(args.floor_repeats):
            t = time.perf_counter()
            con.sql(floor_sql).fetchall()
            best = min(best, time.perf_counter() - t)
        lines = con.sql("select count(*) from marts.fct_order_lines").fetchall()[0][0]
        orders = con.sql("select count(*) from marts.fct_orders").fetchall()[0][0]
    seconds["floor_aggregate"] = best
    seconds["floor_compiled_sql"], floor_models = compiled_sql_floor(s)
    print(f"compiled-SQL floor: {seconds['floor_compiled_sql']:.1f} s for {floor_models} models", flush=True)
    result = {
        "customers": args.customers,
        "days": args.days,
        "orders": orders,
        "order_lines": lines,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "value_model_build_seconds": round(sum(seconds[k] for k in ("dbt_core", "clv", "dbt_value", "gate")), 1),
        "peak_memory_gb": round(peak_gb, 2),
        "clv_fit_seconds": clv["fit_seconds"],
        "clv_params": {k: round(v, 4) for k, v in clv["params"].items()},
        "dbt_build_over_floor": round((seconds["dbt_core"] + seconds["dbt_value"]) / best, 1),
        "dbt_build_over_compiled_sql_floor": round(
            (seconds["dbt_core"] + seconds["dbt_value"]) / seconds["floor_compiled_sql"], 2
        ),
    }
    print(json.dumps(result, indent=2))
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
