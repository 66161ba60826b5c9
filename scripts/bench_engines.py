"""Benchmark (not a test): seconds per stage on DuckDB, PostgreSQL and Spark, side by side in one run on the
same generated landing data, with ratios to DuckDB.

    python scripts/bench_engines.py --customers 1000000 --days 730                       # duckdb,postgres,spark
    python scripts/bench_engines.py --customers 1000000 --engines duckdb,postgres,spark_cluster

PostgreSQL is started for the run with scripts/pg_local.sh (under the bench's CVW_HOME) and stopped after;
`spark_cluster` starts scripts/spark_cluster.sh (master, 2 workers, Thrift server, metastore on that
PostgreSQL) the same way and prints the CPU seconds of the run's Spark driver (this process and its JVM)
and of its executors per stage (scripts/spark_cpu.py). `spark` (in-process) and `spark_cluster` cannot share
one run: one Spark application per process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "dbt_core", "clv", "wallet", "dbt_value", "gate", "publish")


def _script_env(script: str, home: Path) -> dict[str, str]:
    """Start scripts/<script> under `home` and return the variables it exports."""
    out = subprocess.run(["bash", str(REPO / "scripts" / script), "start"], env={**os.environ, "CVW_HOME": str(home)},
                         capture_output=True, text=True, check=True).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value.strip("'\"")
    return env


def _cpu(target: str, s):
    """CPU snapshot of the run's Spark application on the cluster (None on other engines)."""
    if target != "spark_cluster":
        return None
    import spark_cpu
    from cvw.engines.spark import get_cluster_session

    sc = get_cluster_session(s).sparkContext
    return spark_cpu.snapshot(sc.applicationId, sc._gateway.proc.pid)


def _run_engine(target: str, home: Path, landing: Path, as_of: date, cpu: dict) -> dict[str, float]:
    from cvw import settings
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

    s = settings.load(home=home, target=target, landing_dir=landing)
    run_id = new_run_id(as_of)
    seconds = {}

    def timed(name, fn, *a):
        if target == "spark_cluster" and name == "ingest":
            from cvw.engines import get_engine

            get_engine(s).spark  # noqa: B018 - start the application first: its start is not ingest work
        before = _cpu(target, s)
        t = time.perf_counter()
        out = fn(*a)
        seconds[name] = round(time.perf_counter() - t, 2)
        extra = ""
        if before is not None:
            used = _cpu(target, s) - before
            cpu[name] = {"driver_cpu_s": round(used.driver, 1), "executor_cpu_s": round(used.executors, 1)}
            extra = f"  (CPU: driver {used.driver:.1f} s, executors {used.executors:.1f} s)"
        print(f"  {target:>13} {name:>10}: {seconds[name]:8.1f} s{extra}", flush=True)
        return out

    timed("ingest", step_ingest, s, run_id)
    timed("dbt_core", step_build_core, s, as_of)
    timed("clv", step_clv, s, as_of)
    timed("wallet", step_wallet, s, as_of)
    timed("dbt_value", step_build_value, s, as_of)
    gate = timed("gate", step_gate, s, as_of, run_id)
    timed("publish", step_publish, s, as_of, run_id, gate)
    seconds["total"] = round(sum(seconds[k] for k in STAGES), 2)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--engines", default="duckdb,postgres,spark")
    ap.add_argument("--home", type=Path, help="working folder (default: temp, removed afterwards)")
    ap.add_argument("--landing", type=Path, help="landing files to read (default: generated into HOME/landing)")
    args = ap.parse_args()
    targets = args.engines.split(",")
    if "spark" in targets and "spark_cluster" in targets:
        ap.error("spark and spark_cluster cannot share one run (one Spark application per process)")
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    os.environ.setdefault("DBT_QUIET", "true")
    import logging

    logging.basicConfig(level=logging.WARNING)
    from cvw.generate import generate

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_engines_"))
    as_of = date(2025, 12, 31)
    landing = args.landing or home / "landing"
    if not (landing / "orders").exists():
        t = time.perf_counter()
        generate(landing, customers=args.customers, days=args.days, seed=1, end_date=as_of)
        print(f"generate: {time.perf_counter() - t:.1f} s", flush=True)
    results, cpu = {}, {}
    started = []
    try:
        for target in targets:
            if target in ("postgres", "spark_cluster"):
                script = "pg_local.sh" if target == "postgres" else "spark_cluster.sh"
                env = _script_env(script, home)
                started.append(script)
                os.environ.update({k: v for k, v in env.items() if k != "CVW_TARGET"})
            results[target] = _run_engine(target, home / target, landing, as_of, cpu)
    finally:
        if "spark_cluster" in targets:
            from cvw.engines.spark import stop_session

            stop_session()  # end the application before its cluster goes
        for script in reversed(started):  # the cluster first: it stops the PostgreSQL it started
            subprocess.run(["bash", str(REPO / "scripts" / script), "stop"],
                           env={**os.environ, "CVW_HOME": str(home)}, capture_output=True)
    base = results.get("duckdb")
    ratios = {
        t: {k: round(v / base[k], 2) for k, v in r.items() if base and base.get(k)} for t, r in results.items()
    } if base else {}
    from cvw import db

    lines = None
    duck_wh = home / "duckdb" / "warehouse" / "cvw.duckdb"
    if duck_wh.exists():
        with db.connect_warehouse(duck_wh, read_only=True) as con:
            lines = con.sql("select count(*) from marts.analytics.fct_order_lines").fetchall()[0][0]
    print(json.dumps({"customers": args.customers, "days": args.days, "order_lines": lines,
                      "seconds": results, "ratio_to_duckdb": ratios, "spark_cluster_cpu": cpu}, indent=2))
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
