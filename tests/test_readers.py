"""BI readers (SPEC §6, PITFALLS 6): read-only readers querying `analytics` while runs publish never fail,
never block the run, and every read sees exactly one as-of date.

Readers run in their own processes, as BI tools do: two open a new DuckDB connection per query (one through
SQLAlchemy + duckdb_engine, the way BI tools and notebooks connect, one through DuckDB's Python client),
and one holds a single connection open for the whole test (a dashboard that never reconnects: it keeps
seeing the publish it opened, consistently).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from datetime import date
from pathlib import Path

import pytest
from cvw.catalog import PUBLISHED_TABLES
from cvw.pipeline import run, step_publish

from tests.helpers import SMALL_AS_OF

pytestmark = [pytest.mark.dbt, pytest.mark.slow, pytest.mark.extended]

# one statement over every current table: how many as-of dates does one read see?
READ_SQL = (
    "select count(distinct as_of_date), min(as_of_date), "
    "(select max(as_of_date) from analytics.publish_log where is_current), "
    "(select count(*) from analytics.customer_segments_history) from ("
    + " union all ".join(f"select as_of_date from analytics.{t}" for t in PUBLISHED_TABLES)
    + ")"
)


def _read_loop(kind: str, db_path: str, stop_file: str, out_file: str) -> None:
    import duckdb
    import sqlalchemy

    reads, errors, dates, mixed = 0, [], set(), []
    held = duckdb.connect(db_path, read_only=True) if kind == "held" else None
    engine = sqlalchemy.create_engine(f"duckdb:///{db_path}", connect_args={"read_only": True}, poolclass=(
        sqlalchemy.pool.NullPool)) if kind == "sqlalchemy" else None
    while not os.path.exists(stop_file):
        try:
            if kind == "sqlalchemy":
                with engine.connect() as con:
                    row = tuple(con.execute(sqlalchemy.text(READ_SQL)).fetchone())
            elif kind == "duckdb":
                with duckdb.connect(db_path, read_only=True) as con:
                    row = con.execute(READ_SQL).fetchone()
            else:
                row = held.execute(READ_SQL).fetchone()
            n_dates, as_of, current, _history_rows = row
            reads += 1
            dates.add(str(as_of))
            if n_dates != 1 or as_of != current:
                mixed.append([n_dates, str(as_of), str(current)])
        except Exception as exc:  # noqa: BLE001 - every error is a failure the test reports
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.02)
    Path(out_file).write_text(json.dumps({"reads": reads, "errors": errors[:5], "n_errors": len(errors),
                                          "dates": sorted(dates), "mixed": mixed[:5]}))


def test_readers_never_fail_and_see_one_as_of_date_while_runs_publish(workspace, tmp_path):
    d_old, d1, d2 = date(2025, 1, 2), SMALL_AS_OF, date(2025, 1, 4)
    run(workspace, d1)
    stop = tmp_path / "stop"
    ctx = multiprocessing.get_context("spawn")
    readers = {}
    for kind in ("sqlalchemy", "duckdb", "held"):
        out = tmp_path / f"{kind}.json"
        readers[kind] = (ctx.Process(target=_read_loop, args=(kind, str(workspace.analytics_db), str(stop),
                                                               str(out))), out)
        readers[kind][0].start()
    time.sleep(3)  # the readers are up and reading D1

    publishes = [run(workspace, d2)["publish"], run(workspace, d_old)["publish"]]  # a nightly, a backfill
    gate = {"failed": 0, "checks": 0}
    for i in range(5):  # more swaps while they read (the audit area holds d_old: history-only publishes)
        publishes.append(step_publish(workspace, d_old, f"again-{i}", gate))
        time.sleep(0.5)
    time.sleep(2)
    stop.touch()
    results = {}
    for kind, (proc, out) in readers.items():
        proc.join(timeout=60)
        results[kind] = json.loads(out.read_text())

    assert [p["replaced_current"] for p in publishes] == [True] + [False] * 6
    for kind, r in results.items():
        assert r["n_errors"] == 0, (kind, r["errors"])
        assert r["mixed"] == [], (kind, r["mixed"])
        assert r["reads"] >= 20, (kind, r)
    # reconnecting readers moved on to the new publish; the held connection kept its consistent old one
    assert results["sqlalchemy"]["dates"] == results["duckdb"]["dates"] == [str(d1), str(d2)]
    assert results["held"]["dates"] == [str(d1)]
