"""Publish: copy the gated audit marts into a new `customer_value.duckdb` and swap it in atomically.

BI tools open `$CVW_PUBLISH_DIR/customer_value.duckdb` read-only. DuckDB allows one writer or many readers per
file (PITFALLS 6), so the nightly run never writes that file in place: it writes a complete new file
next to it, closes it, then `os.replace()`s it over the old one. A reader that has the old file open keeps
a consistent old version; the next connection sees the new one; nobody blocks anybody. A crash before the
swap leaves the previous file untouched (the half-written temp file is removed by the next publish).

A backfill of a date older than the latest publish never replaces the current tables: it only appends
its row to `publish_log` (with the row counts it built and gated; history per date comes with the
history tables).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from cvw import db
from cvw.settings import Settings

log = logging.getLogger(__name__)

PUBLISH_LOG_DDL = """
    create table if not exists {name} (
        as_of_date date not null,
        run_id varchar not null,
        published_at timestamp not null,
        is_current boolean not null,
        gate_result varchar not null,
        gate_checks integer not null,
        gate_failed integer not null,
        total_rows bigint not null,
        row_counts varchar not null,
        run_summary varchar
    )
"""


@dataclass
class PublishResult:
    as_of: date
    run_id: str
    replaced_current: bool
    path: Path | str  # the published file (DuckDB) or schema (server engines)
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        what = "current tables replaced" if self.replaced_current else "older than current: publish_log only"
        return (
            f"publish {self.as_of} ({self.run_id}): {what}; {sum(self.row_counts.values())} rows in "
            f"{len(self.row_counts)} tables -> {self.path} in {self.seconds:.1f}s"
        )


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def publish_duckdb(
    settings: Settings,
    as_of: date,
    run_id: str,
    tables: tuple[str, ...],
    gate_checks: int,
    run_summary: dict | None = None,
    schema: str = "marts",
) -> PublishResult:
    """Write a new published file from the audit tables and swap it in; see the module docstring."""
    from cvw.engines.duckdb import DuckDBEngine

    started = time.monotonic()
    settings.publish_dir.mkdir(parents=True, exist_ok=True)
    for stale in settings.publish_dir.glob(".analytics.*.tmp*"):
        stale.unlink()  # left by a crashed publish; never read by anyone
    current_as_of, _ = DuckDBEngine(settings).published_state()
    replace_current = current_as_of is None or as_of >= current_as_of
    tmp = settings.publish_dir / f".analytics.{uuid.uuid4().hex[:8]}.tmp.duckdb"
    old = settings.analytics_db
    published_at = datetime.now(timezone.utc).replace(tzinfo=None)
    with db.connect(settings.warehouse) as con:
        con.execute(f"attach {_sql_path(tmp)} as pub")
        try:
            con.execute("create schema pub.analytics")
            if old.exists():
                con.execute(f"attach {_sql_path(old)} as old (read_only)")
            source = schema if replace_current else "old.analytics"
            row_counts = {}
            for table in tables:
                con.execute(f"create table pub.analytics.{table} as select * from {source}.{table}")
                # what this run built and gated (for an older date: not what stays current)
                row_counts[table] = con.execute(f"select count(*) from {schema}.{table}").fetchall()[0][0]
            con.execute(PUBLISH_LOG_DDL.format(name="pub.analytics.publish_log"))
            if old.exists():
                con.execute(
                    "insert into pub.analytics.publish_log "
                    "select * replace (is_current and not ? as is_current) from old.analytics.publish_log",
                    [replace_current],
                )
                con.execute("detach old")
            con.execute(
                "insert into pub.analytics.publish_log values (?, ?, ?, ?, 'passed', ?, 0, ?, ?, ?)",
                [
                    as_of, run_id, published_at, replace_current, gate_checks,
                    sum(row_counts.values()), json.dumps(row_counts, sort_keys=True),
                    json.dumps(run_summary or {}, sort_keys=True, default=str),
                ],
            )
        finally:
            con.execute("detach database if exists pub")
    os.replace(tmp, old)
    _fsync_dir(settings.publish_dir)
    result = PublishResult(
        as_of=as_of, run_id=run_id, replaced_current=replace_current, path=old, row_counts=row_counts,
        seconds=time.monotonic() - started,
    )
    log.info(result.summary())
    return result


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
