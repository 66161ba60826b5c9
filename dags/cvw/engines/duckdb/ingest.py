"""DuckDB ingest: the reader's Arrow batches of a group of files are staged in a temp table, type-checked in SQL
(cvw.typecheck) and split into raw.<entity> and quarantine.rows, all in ONE transaction for the whole ingest
(with the drift and manifest rows): a failure anywhere loads nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

from cvw import db, failpoints
from cvw.bookkeeping import QUARANTINE_COLUMNS, schema_ddl
from cvw.engines.base import GroupCounts, IngestSession, read_group
from cvw.landing import KNOWN_FILES_SQL, LINEAGE_COLUMNS, KnownFile, LandingFile, known_from_rows
from cvw.reader import batch_schema
from cvw.typecheck import Dialect, Field, checked_select

DIALECT = Dialect()


def insert_rows(con, table: str, rows: list[dict]) -> None:
    """Insert dicts (same keys) into `table` by column name; values travel as one Arrow table, never as SQL
    (a full ingest writes thousands of manifest rows: row-by-row parameters took seconds)."""
    import pyarrow as pa

    if not rows:
        return
    names = list(rows[0])
    con.register("cvw_rows", pa.Table.from_pylist(rows))
    try:
        con.execute(f"insert into {table} ({', '.join(names)}) select {', '.join(names)} from cvw_rows")
    finally:
        con.unregister("cvw_rows")


class DuckDBIngest(IngestSession):
    """An ingest on one open connection, inside one transaction."""

    def __init__(self, con):
        self.con = con
        self.committed = False
        self.warnings: list[str] = []

    def known_files(self) -> dict[str, KnownFile]:
        return known_from_rows(self.con.execute(KNOWN_FILES_SQL).fetchall())

    def add_columns(self, entity: str, columns: list[str]) -> None:
        for c in columns:
            self.con.execute(f"alter table raw.{entity} add column if not exists {DIALECT.quote(c)} varchar")

    def load(self, group: list[LandingFile], fields: list[Field], loaded_at: datetime, run_id: str) -> GroupCounts:
        import pyarrow as pa

        con, entity = self.con, group[0].entity.name
        batches, stats = read_group(group)
        # type-checked as the batches stream in (the reader's threads parse the next files meanwhile): one
        # materialisation per group
        con.register("cvw_stage_src", pa.RecordBatchReader.from_batches(batch_schema(len(fields)), batches))
        try:
            con.execute(
                f"create or replace temp table cvw_checked as {checked_select(DIALECT, 'cvw_stage_src', fields)}"
            )
        finally:
            con.unregister("cvw_stage_src")
        stored = ", ".join(DIALECT.quote(f.stored) for f in fields)
        lineage = ", ".join(LINEAGE_COLUMNS)
        [(to_raw,)] = con.execute(
            f"insert into raw.{entity} ({stored}, {lineage}) "
            f"select {stored}, _file, _line, ?::timestamp, ? from cvw_checked where _kind is null",
            [loaded_at, run_id],
        ).fetchall()
        [(to_quarantine,)] = con.execute(
            f"insert into quarantine.rows ({', '.join(QUARANTINE_COLUMNS)}) "
            "select ?, _file, _line, _column, _kind, _reason, _raw_line, ?::timestamp, ? "
            "from cvw_checked where _kind is not null",
            [entity, loaded_at, run_id],
        ).fetchall()
        per_file = {
            name: (int(good), int(bad))
            for name, good, bad in con.execute(
                "select _file, count(*) filter (where _kind is null), count(*) filter (where _kind is not null) "
                "from cvw_checked group by _file"
            ).fetchall()
        }
        con.execute("drop table cvw_checked")
        if to_raw + to_quarantine != sum(good + bad for good, bad in per_file.values()):
            raise RuntimeError(f"ingest of {entity}: the rows inserted differ from the rows checked")
        return {f.name: (*per_file.get(f.name, (0, 0)), stats[f.name]) for f in group}

    def commit(self, drift: list[dict], manifest: list[dict]) -> None:
        insert_rows(self.con, "ingest.schema_drift", drift)
        insert_rows(self.con, "ingest.file_manifest", manifest)
        failpoints.hit("ingest.before_commit")
        self.con.execute("commit")
        self.committed = True


class DuckDBIngestSteps:
    """The ingest hook of the DuckDB engine (mixed into DuckDBEngine)."""

    @contextlib.contextmanager
    def ingest_session(self, run_id: str) -> Iterator[DuckDBIngest]:
        with db.connect(self.settings.warehouse) as con:
            con.execute("set TimeZone = 'UTC'")  # timestamps with an offset or zone name convert to UTC
            for statement in schema_ddl():
                con.execute(statement)
            con.execute("begin transaction")
            session = DuckDBIngest(con)
            try:
                yield session
            finally:
                if not session.committed:
                    con.execute("rollback")
