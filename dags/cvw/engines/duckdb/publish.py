"""DuckDB publish: a byte copy of the gated audit-marts file becomes the new `customer_value.duckdb`, swapped in
atomically.

dbt builds the published models into their own file (`cvw_marts.duckdb` beside the warehouse, attached as
`marts`), in the schema BI reads, `analytics`; the gate reads them there. Publishing D checkpoints that file
and copies its bytes (no table is re-encoded: at 1M customers 0.8 GB in ~2 s, where copying the tables row by
row took 17 s), drops anything in it that is not a gated table, and adds the history and the log.

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
from cvw.engines.duckdb.ingest import DIALECT
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


class DuckDBPublish:
    """The publish hook of the DuckDB engine (mixed into DuckDBEngine)."""

    def publish(self, as_of: date, run_id: str, tables: tuple[str, ...], gate_checks: int,
                run_summary: dict | None = None) -> PublishResult:
        """Write a new published file from the audit-marts file and swap it in; see the module docstring."""
        settings = self.settings
        started = time.monotonic()
        settings.publish_dir.mkdir(parents=True, exist_ok=True)
        for stale in settings.publish_dir.glob(".analytics.*.tmp*"):
            stale.unlink()  # left by a crashed publish; never read by anyone
        replace_current = replaces_current(self.published_state()[0], as_of)
        tmp = settings.publish_dir / f".analytics.{uuid.uuid4().hex[:8]}.tmp.duckdb"
        old = settings.analytics_db
        carry_over = not replace_current and old.exists()
        published_at = datetime.now(timezone.utc).replace(tzinfo=None)
        with db.connect_warehouse(settings.warehouse) as con:
            # this connection holds the warehouse: nothing can rebuild the audit tables until the copy is done
            check_built_for(lambda sql: con.execute(sql).fetchall(), tables, as_of, self.audit_schema)
            row_counts = {
                t: n for t, n in con.execute(" union all ".join(
                    f"select '{t}', count(*) from {self.audit_schema}.{t}" for t in tables)).fetchall()
            }
            # history first: D's immutable Parquet file, named by run id, not yet referenced by any view
            history = {t: write_history_file(con, settings, t, as_of, run_id) for t in HISTORY_TABLES}
            row_counts.update({t: rows for t, (_, rows) in history.items()})
            failpoints.hit("publish.after_history_files")
            # the new file starts as a byte copy (no table is re-encoded): of the audit-marts file, whose schema
            # `analytics` holds exactly the gated tables, or, for an older date, of the current published file,
            # whose tables stay; then only its history and log are changed below
            if carry_over:
                shutil.copyfile(old, tmp)
            else:
                con.execute(f"checkpoint {db.MARTS_CATALOG}")  # everything dbt wrote is in the file, not its WAL
                shutil.copyfile(settings.marts_db, tmp)
            failpoints.hit("publish.copying_tables")
        entry = log_row(as_of, run_id, published_at, replace_current, gate_checks, row_counts, run_summary)
        referenced = self._finish_copy(tmp, old, as_of, run_id, history, tables, carry_over, entry)
        fsync(tmp)
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

    def _finish_copy(self, tmp: Path, old: Path, as_of: date, run_id: str, history: dict[str, tuple[Path, int]],
                     tables: tuple[str, ...], carry_over: bool, log_values: list) -> set[Path]:
        """Turn the byte copy `tmp` into the file to publish: drop what was not gated, add the history and the
        log. Done on a private in-memory DuckDB instance with `tmp` attached: closing that instance closes
        `tmp` for certain (checkpointed, its WAL gone) before the file is swapped in. On the warehouse's
        instance (which dbt-duckdb may keep open in this process) a detach can be deferred while anything
        still holds the database, and a late checkpoint into the already swapped file broke readers."""
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            con.execute(f"attach {db.sql_string(tmp)} as pub")
            if not carry_over:
                leftovers = con.execute(
                    "select schema_name, table_name from duckdb_tables() where database_name = 'pub' "
                    "and not (schema_name = 'analytics' and list_contains(?, table_name))", [list(tables)],
                ).fetchall()
                for schema, name in leftovers:  # e.g. a dbt temp table of a failed build: not gated
                    con.execute(f"drop table pub.{DIALECT.quote(schema)}.{DIALECT.quote(name)}")
            replaced = old.exists() and not carry_over
            if replaced:
                con.execute(f"attach {db.sql_string(old)} as old (read_only)")
            self._add_history_and_log(con, as_of, run_id, history, old_catalog="old" if replaced else None)
            con.execute(
                f"insert into pub.analytics.publish_log values ({', '.join('?' for _ in PUBLISH_LOG_COLUMNS)})",
                log_values,
            )
            referenced = {
                self.settings.publish_dir / r[0]
                for r in con.execute("select path from pub.analytics.history_files").fetchall()
            }
            con.execute("detach database if exists old")
            con.execute("detach database pub")
        finally:
            con.close()
        wal = tmp.with_name(tmp.name + ".wal")
        if wal.exists():  # never swap in a file whose last changes are only in a WAL the readers will not see
            raise RuntimeError(f"{tmp} was not checkpointed when it was closed ({wal} remains); not published")
        return referenced

    def _add_history_and_log(self, con, as_of: date, run_id: str, history: dict[str, tuple[Path, int]],
                             old_catalog: str | None) -> None:
        """In the new file (`pub`): D's history files listed in `history_files` and the history views over
        them, and a `publish_log` table; `old_catalog` (the current published file, when the new one replaces
        it) supplies the other dates' history files and the earlier log rows."""
        settings = self.settings
        if not _has_table(con, "pub", "history_files"):
            con.execute("create schema if not exists pub.analytics")
            con.execute(HISTORY_FILES_DDL.format(name="pub.analytics.history_files"))
            if old_catalog and _has_table(con, old_catalog, "history_files"):
                con.execute("insert into pub.analytics.history_files "
                            f"select * from {old_catalog}.analytics.history_files")
        con.execute(
            "delete from pub.analytics.history_files where as_of_date = ? and list_contains(?, table_name)",
            [as_of, list(history)],
        )
        for table, (path, rows) in history.items():
            con.execute(
                "insert into pub.analytics.history_files values (?, ?, ?, ?, ?)",
                [table, as_of, path.relative_to(settings.publish_dir).as_posix(), rows, run_id],
            )
            files = [settings.publish_dir / r[0] for r in con.execute(
                "select path from pub.analytics.history_files where table_name = ? order by as_of_date", [table],
            ).fetchall()]
            # the view needs absolute paths (DuckDB resolves relative ones against the reader's working
            # folder); history_files keeps them relative, so a moved folder is repaired by the next publish
            con.execute(
                f"create or replace view pub.analytics.{table} as select * from read_parquet("
                f"[{', '.join(db.sql_string(f) for f in files)}])"
            )
        if not _has_table(con, "pub", "publish_log"):  # a new file, or one published before the log existed
            con.execute(publish_log_ddl("pub.analytics.publish_log"))
            if old_catalog and _has_table(con, old_catalog, "publish_log"):
                con.execute("insert into pub.analytics.publish_log "
                            + carried_over_log(f"{old_catalog}.analytics.publish_log", True))

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
        return f"read_parquet([{', '.join(db.sql_string(self.settings.publish_dir / p) for p in paths)}])"


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
        f"copy (select * from history.{table} where as_of_date = ? order by all) to {db.sql_string(part)} "
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


