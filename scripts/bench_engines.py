"""Benchmark (not a test): seconds per stage on DuckDB, PostgreSQL and Spark local[2], side by side in one
run on the same generated landing data, with ratios to DuckDB.

    python scripts/bench_engines.py --customers 1000000 --days 730

PostgreSQL is started for the run with scripts/pg_local.sh (under the bench's CVW_HOME) and stopped after.
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
STAGES = ("ingest", "dbt_core", "clv", "dbt_value", "gate", "publish")


def _pg_env(home: Path) -> dict[str, str]:
    out = subprocess.run(["bash", str(REPO / "scripts" / "pg_local.sh"), "start"], env={**os.environ, "CVW_HOME": str(home)},
                         capture_output=True, text=True, check=True).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value.strip("'\"")
    return env


def _run_engine(target: str, home: Path, landing: Path, as_of: date) -> dict[str, float]:
    from cvw import settings
    from cvw.pipeline import (
        new_run_id,
        step_build_core,
        step_build_value,
        step_clv,
        step_gate,
        step_ingest,
        step_publish,
    )

    s = settings.load(home=home, target=target, landing_dir=landing, dbt_threads=4 if target == "spark" else 2)
    run_id = new_run_id(as_of)
    seconds = {}

    def timed(name, fn, *a):
        t = time.perf_counter()
        out = fn(*a)
        seconds[name] = round(time.perf_counter() - t, 2)
        print(f"  {target:>8} {name:>10}: {seconds[name]:8.1f} s", flush=True)
        return out

    timed("ingest", step_ingest, s, run_id)
    timed("dbt_core", step_build_core, s, as_of)
    timed("clv", step_clv, s, as_of)
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
    args = ap.parse_args()
    os.environ.setdefault("DBT_QUIET", "true")
    import logging

    logging.basicConfig(level=logging.WARNING)
    from cvw.generate import generate

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_engines_"))
    as_of = date(2025, 12, 31)
    landing = home / "landing"
    if not (landing / "orders").exists():
        t = time.perf_counter()
        generate(landing, customers=args.customers, days=args.days, seed=1, end_date=as_of)
        print(f"generate: {time.perf_counter() - t:.1f} s", flush=True)
    results = {}
    try:
        for target in args.engines.split(","):
            if target == "postgres":
                for key, value in _pg_env(home).items():
                    os.environ[key] = value
            results[target] = _run_engine(target, home / target, landing, as_of)
    finally:
        if "postgres" in args.engines:
            subprocess.run(["bash", str(REPO / "scripts" / "pg_local.sh"), "stop"],
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
                      "seconds": results, "ratio_to_duckdb": ratios}, indent=2))
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
