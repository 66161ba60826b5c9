"""DuckDB engine (default): a working warehouse file and a separate published file swapped atomically.

Ingest: the reader's Arrow batches of a group of files are staged in a temp table, type-checked in SQL
(cvw.typecheck) and split into raw.<entity> and quarantine.rows, all in ONE transaction for the whole
ingest (with the drift and manifest rows): a failure anywhere loads nothing. See cvw.publish for the file
swap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from cvw import db, failpoints
from cvw.db import NotReadyError
from cvw.engines.base import Engine, GroupCounts, IngestSession, read_group
from cvw.landing import LINEAGE_COLUMNS, QUARANTINE_COLUMNS, LandingFile, schema_ddl
from cvw.reader import batch_schema
from cvw.typecheck import Dialect, Field, checked_select

DIALECT = Dialect()


def insert_rows(con, table: str, rows: list[dict]) -> None:
    """Insert dicts (same keys) into `table` by column name; values travel as parameters, never as SQL."""
    if not rows:
        return
    names = list(rows[0])
    con.executemany(
        f"insert into {table} ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
        [[r[n] for n in names] for r in rows],
    )


class DuckDBIngest(IngestSession):
    """An ingest on one open connection, inside one transaction."""

    def __init__(self, con):
        self.con = con
        self.committed = False
        self.warnings: list[str] = []

    def known_files(self) -> dict[str, str]:
        return dict(self.con.execute("select file_name, sha256 from ingest.file_manifest").fetchall())

    def add_columns(self, entity: str, columns: list[str]) -> None:
        for c in columns:
            self.con.execute(f"alter table raw.{entity} add column if not exists {DIALECT.quote(c)} varchar")

    def load(self, group: list[LandingFile], fields: list[Field], loaded_at: datetime, run_id: str) -> GroupCounts:
        import pyarrow as pa

        con, entity = self.con, group[0].entity.name
        batches, stats = read_group(group)
        con.register("cvw_stage_src", pa.RecordBatchReader.from_batches(batch_schema(len(fields)), batches))
        try:
            con.execute("create or replace temp table cvw_stage as select * from cvw_stage_src")
        finally:
            con.unregister("cvw_stage_src")
        con.execute(f"create or replace temp table cvw_checked as {checked_select(DIALECT, 'cvw_stage', fields)}")
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
        con.execute("drop table cvw_stage")
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


class DuckDBEngine(Engine):
    name = "duckdb"
    dialect = DIALECT

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

    def execute(self, sql: str) -> None:
        with db.connect(self.settings.warehouse) as con:
            con.execute(sql)

    def published_history_source(self) -> str | None:
        """The Parquet files of the published customer_segments_history, as the current published file lists
        them (absolute paths: the view is read from the warehouse's process)."""
        if not self.settings.analytics_db.exists():
            return None
        with db.connect(self.settings.analytics_db, read_only=True) as con:
            if not con.execute("select count(*) from information_schema.tables where table_schema = 'analytics' "
                               "and table_name = 'history_files'").fetchall()[0][0]:
                return None
            paths = [r[0] for r in con.execute(
                "select path from analytics.history_files where table_name = 'customer_segments_history' "
                "order by as_of_date").fetchall()]
        if not paths:
            return None
        files = ", ".join(DIALECT.lit(str(self.settings.publish_dir / p)) for p in paths)
        return f"read_parquet([{files}])"

    def gx_batch(
        self, context: Any, schema: str, table: str, columns: list[str] | None = None
    ) -> tuple[Any, dict, int]:
        """GX's SQL datasource does not work on DuckDB (PITFALLS 3): DuckDB -> Arrow -> pandas, with only the
        columns the suite reads, decimals as doubles, booleans as 0/1 (as on every engine) and text as
        Arrow-backed strings (an 8M-row table then costs hundreds of MB, not GBs of Python objects)."""
        import pandas as pd
        import pyarrow as pa

        with db.connect(self.settings.warehouse, read_only=True) as con:
            types = dict(con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table],
            ).fetchall())
            if not types:
                raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                    "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
            names = [c for c in (columns or types) if c in types]
            select = ", ".join(
                f'cast("{c}" as double) as "{c}"' if types[c].upper().startswith("DECIMAL")
                else f'cast("{c}" as integer) as "{c}"' if types[c].upper() == "BOOLEAN" else f'"{c}"'
                for c in names
            )
            arrow = con.sql(f"select {select} from {schema}.{table}").to_arrow_table()
        string = pd.StringDtype("pyarrow")
        df = arrow.to_pandas(types_mapper=lambda t: string if t in (pa.string(), pa.large_string()) else None)
        del arrow
        source = context.data_sources.add_or_update_pandas("audit_marts")
        names = [a.name for a in source.assets]
        asset = source.get_asset(table) if table in names else source.add_dataframe_asset(table)
        batches = [b.name for b in asset.batch_definitions]
        batch = asset.get_batch_definition("whole") if "whole" in batches else (
            asset.add_batch_definition_whole_dataframe("whole")
        )
        return batch, {"dataframe": df}, len(df)

    def publish(self, as_of: date, run_id: str, tables: tuple[str, ...], gate_checks: int, run_summary: dict | None):
        from cvw.publish import publish_duckdb

        return publish_duckdb(self.settings, as_of, run_id, tables, gate_checks, run_summary)

    def published_log(self) -> list[dict]:
        if not self.settings.analytics_db.exists():
            return []
        with db.connect(self.settings.analytics_db, read_only=True) as con:
            cur = con.execute("select * from analytics.publish_log order by published_at desc")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]

    def read_arrow(self, sql: str) -> Any:
        with db.connect(self.settings.warehouse, read_only=True) as con:
            return con.sql(sql).to_arrow_table()

    def write_arrow(self, table: Any, schema: str, name: str) -> None:
        with db.connect(self.settings.warehouse) as con:
            con.execute(f"create schema if not exists {schema}")
            con.register("cvw_arrow_input", table)
            con.execute(f"create or replace table {schema}.{name} as select * from cvw_arrow_input")
            con.unregister("cvw_arrow_input")

    def map_batches(self, source_sql: str, fn: Any, schema: str, name: str, columns: tuple,
                    batch_rows: int = 131_072) -> int:
        """One connection reads record batches of `source_sql` (a second cursor) while the other writes the
        scored stream: DuckDB pulls from the RecordBatchReader as it inserts, so memory stays one batch."""
        import pyarrow as pa

        from cvw.scoring import arrow_schema

        out_schema = arrow_schema(columns)
        with db.connect(self.settings.warehouse) as con:
            con.execute(f"create schema if not exists {schema}")
            reader = con.cursor().sql(source_sql).to_arrow_reader(batch_rows)
            stream = pa.RecordBatchReader.from_batches(out_schema, (fn(b) for b in reader))
            con.register("cvw_batch_stream", stream)
            con.execute(f"create or replace table {schema}.{name} as select * from cvw_batch_stream")
            con.unregister("cvw_batch_stream")
            return con.execute(f"select count(*) from {schema}.{name}").fetchone()[0]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with db.connect(self.settings.warehouse, read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def query_published(self, sql: str, params: list | None = None) -> list[tuple]:
        with db.connect(self.settings.analytics_db, read_only=True) as con:
            return con.execute(sql, params or []).fetchall()
