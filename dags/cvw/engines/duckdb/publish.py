"""DuckDB publish: Publish: copy the gated audit marts into a new `customer_value.duckdb` and swap it in atomically.

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
file is a byte copy of the current one (no table is re-encoded) to which it adds D's history file and D's
row in `publish_log` (with the row counts D built and gated).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

from cvw import db, failpoints
from cvw.catalog import HISTORY_TABLES
from cvw.publish import (
    PUBLISH_LOG_COLUMNS,
    PublishResult,
    carried_over_log,
    check_built_for,
    fsync,
    log_row,
    publish_log_ddl,
    replaces_current,
)
from cvw.settings import Settings

log = logging.getLogger(__name__)

HISTORY_FILES_DDL = """
    create table if not exists {name} (
        table_name varchar not null,
        as_of_date date not null,
        path varchar not null,
        row_count bigint not null,
        run_id varchar not null
    )
"""


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class DuckDBPublish:
    """The publish hook of the DuckDB engine (mixed into DuckDBEngine)."""

    def publish(self, as_of: date, run_id: str, tables: tuple[str, ...], gate_checks: int,
                run_summary: dict | None = None, schema: str = "marts") -> PublishResult:
        """Write a new published file from the audit tables and swap it in; see the module docstring."""
        settings = self.settings
        started = time.monotonic()
        settings.publish_dir.mkdir(parents=True, exist_ok=True)
        for stale in settings.publish_dir.glob(".analytics.*.tmp*"):
            stale.unlink()  # left by a crashed publish; never read by anyone
        replace_current = replaces_current(self.published_state()[0], as_of)
        tmp = settings.publish_dir / f".analytics.{uuid.uuid4().hex[:8]}.tmp.duckdb"
        old = settings.analytics_db
        published_at = datetime.now(timezone.utc).replace(tzinfo=None)
        with db.connect(settings.warehouse) as con:
            # this connection holds the warehouse: nothing can rebuild the audit tables until the copy is done
            check_built_for(lambda sql: con.execute(sql).fetchall(), tables, as_of)
            # history first: D's immutable Parquet file, named by run id, not yet referenced by any view
            history = {t: write_history_file(con, settings, t, as_of, run_id) for t in HISTORY_TABLES}
            failpoints.hit("publish.after_history_files")
            carry_over = not replace_current and old.exists()
            if carry_over:  # an older date: the current tables stay as they are, so the file is copied whole
                # (bytes, not rows: no table is re-encoded) and only its history and log are changed below
                shutil.copyfile(old, tmp)
            con.execute(f"attach {_sql_path(tmp)} as pub")
            try:
                row_counts = {}
                if carry_over:
                    for table in tables:
                        row_counts[table] = con.execute(f"select count(*) from {schema}.{table}").fetchall()[0][0]
                    con.execute(HISTORY_FILES_DDL.format(name="pub.analytics.history_files"))
                    con.execute(
                        "delete from pub.analytics.history_files where as_of_date = ? and list_contains(?, table_name)",
                        [as_of, list(history)],
                    )
                else:
                    con.execute("create schema pub.analytics")
                    if old.exists():
                        con.execute(f"attach {_sql_path(old)} as old (read_only)")
                    for table in tables:
                        con.execute(f"create table pub.analytics.{table} as select * from {schema}.{table}")
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
                        f"create or replace view pub.analytics.{table} as select * from read_parquet("
                        f"[{', '.join(_sql_path(f) for f in files)}])"
                    )
                if not carry_over:
                    con.execute(publish_log_ddl("pub.analytics.publish_log"))
                    if old.exists():
                        con.execute("insert into pub.analytics.publish_log "
                                    + carried_over_log("old.analytics.publish_log", replace_current))
                        con.execute("detach old")
                elif not _has_table(con, "pub", "publish_log"):  # a file published before the log existed
                    con.execute(publish_log_ddl("pub.analytics.publish_log"))
                con.execute(
                    f"insert into pub.analytics.publish_log values ({', '.join('?' for _ in PUBLISH_LOG_COLUMNS)})",
                    log_row(as_of, run_id, published_at, replace_current, gate_checks, row_counts, run_summary),
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

    def published_history_source(self) -> str | None:
        """The Parquet files of the published customer_segments_history, as the current published file lists
        them (absolute paths: the view is read from the warehouse's process)."""
        if not self.settings.analytics_db.exists():
            return None
        with db.connect(self.settings.analytics_db, read_only=True) as con:
            if not _has_table(con, "customer_value", "history_files"):
                return None
            paths = [r[0] for r in con.execute(
                "select path from analytics.history_files where table_name = 'customer_segments_history' "
                "order by as_of_date").fetchall()]
        if not paths:
            return None
        return f"read_parquet([{', '.join(_sql_path(self.settings.publish_dir / p) for p in paths)}])"


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


