"""The real DAG, run by Airflow (`airflow dags test`) on small generated data, publishes rows."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.helpers import query

pytestmark = [pytest.mark.airflow, pytest.mark.dbt, pytest.mark.slow]

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def _airflow(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=600)


def test_nightly_dag_runs_end_to_end_on_generated_data(tmp_path):
    from cvw.generate import generate
    from cvw.settings import load

    as_of = date(2025, 6, 30)
    generate(tmp_path / "landing", customers=300, days=180, seed=7, end_date=as_of, bad_rows_rate=0.01)
    env = {
        **os.environ,
        "CVW_HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    migrated = _airflow(["db", "migrate"], env)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    ran = _airflow(["dags", "test", "customer_value_nightly", as_of.isoformat()], env)
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-5000:]
    assert "state=success" in ran.stdout + ran.stderr

    s = load(home=tmp_path)
    published = dict(query(s.analytics_db, "select table_name, estimated_size from duckdb_tables()"))
    assert {"dim_customers", "fct_orders", "fct_order_lines", "publish_log"} <= set(published)
    orders, max_day, stamp = query(s.analytics_db, "select count(*), max(order_date), max(as_of_date) from analytics.fct_orders")[0]
    assert orders > 100 and max_day <= as_of and stamp == as_of
    log = query(s.analytics_db, "select as_of_date, is_current, gate_result, run_id from analytics.publish_log")
    assert len(log) == 1 and log[0][:3] == (as_of, True, "passed") and "manual__" in log[0][3]
    # nothing silently dropped: the generator's injected bad rows are all accounted for
    assert query(s.warehouse, "select bool_and(balanced), sum(quarantined_rows) > 0, sum(rejected_rows) > 0 from audit.row_accounting") == [
        (True, True, True)
    ]
    # the run summary is in publish_log: rows in / quarantined / rejected / published, gate, seconds per stage
    summary = json.loads(query(s.analytics_db, "select run_summary from analytics.publish_log")[0][0])
    assert summary["rows_loaded"] == summary["rows_accepted"] + summary["rows_quarantined"] + summary["rows_rejected"]
    assert summary["rows_quarantined"] > 0 and summary["rows_rejected"] > 0 and summary["rows_published"] > orders
    assert summary["gate_failed"] == 0 and summary["gate_checks"] > 50
    assert set(summary["seconds"]) == {"ingest", "dbt_core", "clv", "wallet", "dbt_value", "gate"}
    # the publish updated the Asset downstream DAGs schedule on, saying which date it published
    meta = sqlite3.connect(tmp_path / "airflow" / "airflow.db")
    events = meta.execute(
        "select a.name, a.uri, e.extra from asset_event e join asset a on a.id = e.asset_id"
    ).fetchall()
    meta.close()
    assert [(name, uri) for name, uri, _ in events] == [("customer_value_analytics", "cvw://analytics/")]
    extra = json.loads(events[0][2])
    assert extra["as_of_date"] == as_of.isoformat() and extra["replaced_current"] is True
    assert len(extra["activation_files"]) == 8 and set(extra["activation_rows"]) == {"email", "sms", "phone", "mail"}
