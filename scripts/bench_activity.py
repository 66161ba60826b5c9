"""Benchmark (not a test): the activity summary of marts.analytics.customer_rfm (SPEC 4.1) in SQL against lifetimes'
summary_data_from_transaction_data on the same completed orders, side by side in one run, with equality
asserted customer for customer (frequency, recency, T exact; monetary value to 1e-9 relative).

The SQL side is the compiled code of int_customer_purchase_days + customer_rfm run as one bare DuckDB
query from marts.analytics.fct_orders, fetched into pandas like lifetimes' result: once cut at the activity summary
(the four lifetimes columns), once whole (windows, ranks, scores and segments too). `dbt run` of the two
models (dbt start-up and table writes included) is timed once as well.

    python scripts/bench_activity.py --customers 100000 --days 730
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

MODELS = ("int_customer_purchase_days", "customer_rfm")


#: the four lifetimes columns from the model's `activity` CTE (avg_repeat_value as in its final CTE)
ACTIVITY_ONLY = """select
    customer_id, frequency, recency_days, tenure_days,
    coalesce(cast(repeat_revenue as double precision) / nullif(frequency, 0), 0) as avg_repeat_value
from activity"""


def bare_sql(target_path: Path, activity_only: bool = False) -> str:
    """customer_rfm's compiled SQL with int_customer_purchase_days inlined as a subquery; with
    activity_only, its CTEs up to the activity summary (no windows, scores or segments)."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] in MODELS}
    inner, outer = nodes["int_customer_purchase_days"], nodes["customer_rfm"]
    code = outer["compiled_code"].rstrip()
    assert inner["relation_name"] in code, "customer_rfm no longer reads the purchase days"
    assert code.endswith("select * from final") and "\nactivity as (" in code, "customer_rfm changed its shape"
    if activity_only:
        code = code.removesuffix("select * from final") + ACTIVITY_ONLY
    return code.replace(inner["relation_name"], f"(\n{inner['compiled_code']}\n)")


def best_of(repeats: int, fn):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--end-date", type=date.fromisoformat, default=date(2025, 12, 31), help="last day = as-of date D")
    ap.add_argument("--repeats", type=int, default=3, help="runs per side; the best time is kept")
    ap.add_argument("--home", type=Path, help="working folder (default: a temp folder, removed afterwards)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("DBT_QUIET", "true")

    import pandas as pd
    from cvw import db, settings
    from cvw.dbt import run_dbt
    from cvw.generate import generate
    from cvw.pipeline import new_run_id, step_ingest
    from lifetimes.utils import summary_data_from_transaction_data

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_activity_"))
    s = settings.load(home=home, landing_dir=home / "landing", warehouse=home / "warehouse" / "cvw.duckdb",
                      target="duckdb")
    as_of = args.end_date
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    if not (s.landing_dir / "orders").exists():
        generate(s.landing_dir, customers=args.customers, days=args.days, seed=args.seed, end_date=as_of)
    step_ingest(s, new_run_id(as_of))
    run_dbt(s, ["build", "--select", "+customer_rfm", "--indirect-selection", "buildable"], as_of=as_of)
    seconds["setup_generate_ingest_build"] = time.perf_counter() - t
    seconds["dbt_run_two_models"] = run_dbt(s, ["run", "--select", *MODELS], as_of=as_of).seconds

    target = s.home / "dbt" / "target"
    full, activity = bare_sql(target), bare_sql(target, activity_only=True)
    with db.connect_warehouse(s.warehouse, read_only=True) as con:
        seconds["sql_activity"], ours = best_of(args.repeats, lambda: con.execute(activity).df())
        seconds["sql_customer_rfm"], rfm = best_of(args.repeats, lambda: con.execute(full).df())
        tx = con.execute(
            "select customer_id, order_date as date, cast(revenue as double) as amount "
            "from marts.analytics.fct_orders where is_completed"
        ).df()
    tx["date"] = pd.to_datetime(tx["date"])
    seconds["lifetimes"], theirs = best_of(args.repeats, lambda: summary_data_from_transaction_data(
        tx, "customer_id", "date", monetary_value_col="amount", freq="D", observation_period_end=as_of.isoformat()
    ))

    ours = ours.set_index("customer_id")
    rfm = rfm.set_index("customer_id").loc[ours.index]
    assert (rfm[["frequency", "recency_days", "tenure_days"]] == ours[["frequency", "recency_days", "tenure_days"]]).all().all()
    assert (rfm["avg_repeat_value"] == ours["avg_repeat_value"]).all()
    assert sorted(ours.index) == sorted(theirs.index), "different customers"
    ours = ours.loc[theirs.index]
    for a, b in [("frequency", "frequency"), ("recency_days", "recency"), ("tenure_days", "T")]:
        assert (ours[a].astype(float) == theirs[b]).all(), a
    rel = [abs(x - y) / max(abs(y), 1e-12) for x, y in zip(ours["avg_repeat_value"], theirs["monetary_value"], strict=True)
           if x != y]
    assert all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
               for x, y in zip(ours["avg_repeat_value"], theirs["monetary_value"], strict=True)), "monetary value"

    print(json.dumps({
        "customers_generated": args.customers,
        "days": args.days,
        "completed_orders": len(tx),
        "customers_with_purchase": len(theirs),
        "repeat_buyers": int((theirs["frequency"] > 0).sum()),
        "threads": os.cpu_count(),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "lifetimes_over_sql_activity": round(seconds["lifetimes"] / seconds["sql_activity"], 2),
        "lifetimes_over_sql_customer_rfm": round(seconds["lifetimes"] / seconds["sql_customer_rfm"], 2),
        "lifetimes_over_dbt_run": round(seconds["lifetimes"] / seconds["dbt_run_two_models"], 2),
        "equal": True,
        "max_relative_difference_monetary": max(rel, default=0.0),
    }, indent=2))
    if args.home is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
