"""Publish: copy the gated audit marts into a new `customer_value.duckdb` and swap it in atomically.

BI tools open `$CVW_PUBLISH_DIR/customer_value.duckdb` read-only. DuckDB allows one writer or many readers per
file (PITFALLS 6), so the nightly run never writes that file in place: it writes a complete new file
next to it, closes it, then `os.replace()`s it over the old one. A reader that has the old file open keeps
a consistent old version; the next connection sees the new one; nobody blocks anybody. A crash before the
swap leaves the previous file untouched (the half-written temp file is removed by the next publish).

History (`customer_segments_history`) is not copied every night: each publish writes D's rows once, to
an immutable Parquet file `history/<table>/as_of_date=D/<run_id>.parquet` next to the published file, and
the new published file holds `analytics.history_files` (which file serves which date) and a view over
exactly those files. Swapping the published file therefore swaps the history with it: a reader never sees a
date whose publish did not finish. A re-run of D writes a new file; the replaced one is deleted after a
retention period (CVW_HISTORY_RETENTION_HOURS, default 24) so readers of the previous file can finish.

A backfill of a date older than the latest publish never replaces the current tables: its new published
file carries the current tables over unchanged, adds D's history file and appends D's row to
`publish_log` (with the row counts D built and gated).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from cvw import db, failpoints
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

# published as a view over one immutable Parquet file per as-of date (PITFALLS 6: a night only appends)
HISTORY_TABLES = ("customer_segments_history",)
HISTORY_FILES_DDL = """
    create table if not exists {name} (
        table_name varchar not null,
        as_of_date date not null,
        path varchar not null,
        row_count bigint not null,
        run_id varchar not null
    )
"""


class AuditAreaChanged(RuntimeError):
    """The audit tables hold another as-of date than this run's: another run rebuilt them in between."""


def check_built_for(query, tables: tuple[str, ...], as_of: date, schema: str = "marts") -> None:
    """Raise AuditAreaChanged unless every row of `schema.<table>` carries as_of_date = D. `query` runs SQL
    and returns rows (an engine's `query`, or a DuckDB connection's execute().fetchall()).

    Two runs must not interleave on one warehouse (Airflow keeps one active nightly run; run backfills with
    --max-active-runs 1). If they do anyway, this check turns a would-be wrong publish into a failed run."""
    sql = " union all ".join(
        f"select '{t}' as t, min(as_of_date) as lo, max(as_of_date) as hi from {schema}.{t}" for t in tables
    )
    wrong = [(t, lo, hi) for t, lo, hi in query(sql) if lo is not None and (str(lo) != str(as_of) or lo != hi)]
    if wrong:
        found = "; ".join(f"{t} holds {lo}..{hi}" for t, lo, hi in wrong)
        raise AuditAreaChanged(
            f"the audit area was rebuilt for another as-of date while this run (as of {as_of}) was going: "
            f"{found}. Nothing was published. Runs on one warehouse must not overlap (one active run; "
            f"`airflow backfill create ... --max-active-runs 1`). Re-run {as_of} (`cvw run --as-of {as_of}`)."
        )


@dataclass
class PublishResult:
    as_of: date
    run_id: str
    replaced_current: bool
    path: Path | str  # the published file (DuckDB) or schema (server engines)
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        what = "current tables replaced" if self.replaced_current else "older than current: history + log only"
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
        # this connection holds the warehouse: nothing can rebuild the audit tables until the copy is done
        check_built_for(lambda sql: con.execute(sql).fetchall(), tables, as_of)
        # history first: D's immutable Parquet file, named by run id, not yet referenced by any view
        history = {t: write_history_file(con, settings, t, as_of, run_id) for t in HISTORY_TABLES}
        failpoints.hit("publish.after_history_files")
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
                failpoints.hit("publish.copying_tables")
            con.execute(HISTORY_FILES_DDL.format(name="pub.analytics.history_files"))
            if old.exists() and _has_table(con, "old", "history_files"):
                con.execute(
                    "insert into pub.analytics.history_files select * from old.analytics.history_files "
                    "where not (as_of_date = ? and list_contains(?, table_name))",
                    [as_of, list(history)],
                )
            for table, (path, rows) in history.items():
                con.execute(
                    "insert into pub.analytics.history_files values (?, ?, ?, ?, ?)",
                    [table, as_of, path.relative_to(settings.publish_dir).as_posix(), rows, run_id],
                )
                row_counts[table] = rows
                files = [settings.publish_dir / r[0] for r in con.execute(
                    "select path from pub.analytics.history_files where table_name = ? order by as_of_date",
                    [table],
                ).fetchall()]
                # the view needs absolute paths (DuckDB resolves relative ones against the reader's working
                # folder); history_files keeps them relative, so a moved folder is repaired by the next publish
                con.execute(
                    f"create view pub.analytics.{table} as select * from read_parquet("
                    f"[{', '.join(_sql_path(f) for f in files)}])"
                )
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
            referenced = {
                settings.publish_dir / r[0]
                for r in con.execute("select path from pub.analytics.history_files").fetchall()
            }
        finally:
            con.execute("detach database if exists pub")
    failpoints.hit("publish.before_swap")
    os.replace(tmp, old)
    fsync(settings.publish_dir)
    failpoints.hit("publish.after_swap")
    remove_unreferenced_history(settings, referenced)
    result = PublishResult(
        as_of=as_of, run_id=run_id, replaced_current=replace_current, path=old, row_counts=row_counts,
        seconds=time.monotonic() - started,
    )
    log.info(result.summary())
    return result


def _has_table(con, catalog: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'analytics' "
        "and table_name = ?", [catalog, table],
    ).fetchone()[0])


def history_dir(settings: Settings) -> Path:
    return settings.publish_dir / "history"


def write_history_file(con, settings: Settings, table: str, as_of: date, run_id: str) -> tuple[Path, int]:
    """Write D's rows of `history.<table>` to `history/<table>/as_of_date=D/<run_id>.parquet` (written to a
    temp name, then renamed, so a file under its final name is always complete). Returns (path, rows)."""
    rows = con.execute(f"select count(*) from history.{table} where as_of_date = ?", [as_of]).fetchone()[0]
    folder = history_dir(settings) / table / f"as_of_date={as_of.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)  # Airflow run ids hold ':' and '+'
    final = folder / f"{name}.parquet"
    part = folder / f".{name}.parquet.tmp"
    con.execute(
        f"copy (select * from history.{table} where as_of_date = ? order by all) to {_sql_path(part)} "
        "(format parquet, compression zstd)",
        [as_of],
    )
    fsync(part)
    os.replace(part, final)
    return final, rows


def remove_unreferenced_history(settings: Settings, referenced: set[Path]) -> list[Path]:
    """Delete history files no publish references any more: temp files of a crashed publish at once, files
    of a replaced partition (a re-run of its date) after CVW_HISTORY_RETENTION_HOURS (default 24), so a BI
    connection still holding the previous published file can finish reading them."""
    retention = float(os.environ.get("CVW_HISTORY_RETENTION_HOURS", "24")) * 3600
    now = time.time()
    removed = []
    for path in history_dir(settings).glob("*/as_of_date=*/*"):
        temp = path.name.endswith(".tmp")
        if path in referenced or (not temp and now - path.stat().st_mtime < retention):
            continue
        path.unlink()
        removed.append(path)
    if removed:
        log.info("removed %d unreferenced history file(s)", len(removed))
    return removed


def fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries (a rename), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
