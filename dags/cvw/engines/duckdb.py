"""DuckDB engine (default): a working warehouse file and a separate published file swapped atomically.

See cvw.ingest (reject tables -> quarantine) and cvw.publish (file swap) for the mechanics.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cvw import db
from cvw.engines.base import Engine
from cvw.settings import Settings


class DuckDBEngine(Engine):
    name = "duckdb"

    def ingest(self, settings: Settings, run_id: str):
        from cvw.ingest import ingest_duckdb

        return ingest_duckdb(settings, run_id)

    def gx_batch(
        self, context: Any, schema: str, table: str, columns: list[str] | None = None
    ) -> tuple[Any, dict, int]:
        """GX's SQL datasource does not work on DuckDB (PITFALLS 3): DuckDB -> Arrow -> pandas, with only the
        columns the suite reads, decimals as doubles and text as Arrow-backed strings (an 8M-row table then
        costs hundreds of MB, not GBs of Python objects)."""
        import pandas as pd
        import pyarrow as pa

        with db.connect(self.settings.warehouse) as con:
            types = dict(con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table],
            ).fetchall())
            names = [c for c in (columns or types) if c in types]
            select = ", ".join(
                f'cast("{c}" as double) as "{c}"' if types[c].upper().startswith("DECIMAL") else f'"{c}"'
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
