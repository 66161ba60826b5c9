"""Airflow itself on a PostgreSQL metadata DB with the LocalExecutor: scheduler, DAG processor and API
server run the real DAG for one date and it publishes (SPEC §1: a real executor and metadata DB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.helpers import TINY_VARS, query

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow, pytest.mark.extended]

BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_executor_on_postgres_runs_the_nightly_dag(tmp_path, pg_server):
    from cvw.airflow_env import airflow_postgres_env
    from cvw.generate import generate
    from cvw.settings import load

    # the latest interval: unpausing creates its run, so the data must end on that day
    as_of = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    generate(tmp_path / "landing", customers=200, days=120, seed=5, end_date=as_of)
    pg_server.create_database("airflow")
    env = {
        **os.environ,
        **airflow_postgres_env(tmp_path / "airflow", pg_server.host, pg_server.port, pg_server.user,
                               api_port=_free_port()),
        "CVW_HOME": str(tmp_path),
        "CVW_TARGET": "duckdb",
        # this test is about the executor and the metadata DB: its data must end yesterday, so it changes every
        # day, and 200 customers x 120 days do not always let BG/NBD converge (which blocks the publish by
        # default); publish without CLV rather than depend on the calendar
        "CVW_DBT_VARS": TINY_VARS,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }

    def airflow(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)

    def wait_for_runs(n: int, timeout: int = 600) -> list[tuple[str, str]]:
        """(logical date, state) of the DAG's runs once `n` of them have finished (or the timeout)."""
        deadline = time.monotonic() + timeout
        states: list = []
        while time.monotonic() < deadline:
            out = airflow("dags", "list-runs", "customer_value_nightly", "-o", "json").stdout
            lines = [line for line in out.splitlines() if line.startswith(("[{", "[]"))]
            runs = json.loads(lines[-1]) if lines else []
            states = [(r["logical_date"][:10], r["state"]) for r in runs]
            if sum(state in ("success", "failed") for _, state in states) >= n:
                break
            time.sleep(5)
        return states

    migrated = airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("api-server", "scheduler", "dag-processor")}
    procs = [subprocess.Popen([str(BIN / "airflow"), name], env=env, stdout=log, stderr=subprocess.STDOUT)
             for name, log in logs.items()]
    try:
        deadline = time.monotonic() + 120
        while "customer_value_nightly" not in airflow("dags", "list", "-o", "plain").stdout:
            assert time.monotonic() < deadline, "the DAG processor did not register the DAG"
            time.sleep(3)
        triggered = airflow("dags", "trigger", "customer_value_nightly", "--logical-date",
                            f"{as_of.isoformat()}T00:00:00+00:00")
        assert triggered.returncode == 0, triggered.stderr[-2000:]
        assert airflow("dags", "unpause", "customer_value_nightly").returncode == 0
        states = wait_for_runs(1)
        assert (as_of.isoformat(), "success") in states, (
            states, (tmp_path / "scheduler.log").read_text()[-4000:]
        )
        # Airflow's own backfill of two earlier dates, one run at a time (DuckDB has one writer)
        backfilled = [as_of - timedelta(days=3), as_of - timedelta(days=2)]
        created = airflow("backfill", "create", "--dag-id", "customer_value_nightly",
                          "--from-date", backfilled[0].isoformat(), "--to-date", backfilled[1].isoformat(),
                          "--max-active-runs", "1")
        assert created.returncode == 0, created.stderr[-2000:]
        states = wait_for_runs(3)
        assert sorted(states) == sorted([(d.isoformat(), "success") for d in [*backfilled, as_of]]), (
            states, (tmp_path / "scheduler.log").read_text()[-4000:]
        )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs.values():
            log.close()
    s = load(home=tmp_path)
    published = query(s.analytics_db, "select as_of_date, is_current, gate_result from analytics.publish_log "
                                      "order by published_at")
    # the backfilled dates filled their history and never replaced the current (newer) tables
    assert published == [(as_of, True, "passed")] + [(d, False, "passed") for d in backfilled]
    assert query(s.analytics_db, "select distinct as_of_date from analytics.customer_segments_history order by 1") == [
        (d,) for d in [*backfilled, as_of]
    ]
    assert query(s.analytics_db, "select distinct as_of_date from analytics.customer_segments") == [(as_of,)]
    # the metadata really lives in PostgreSQL
    con = pg_server.connect("airflow")
    with con.cursor() as cur:
        cur.execute("select count(*) from dag_run where dag_id = 'customer_value_nightly' and state = 'success'")
        assert cur.fetchone()[0] >= 1
    con.close()
