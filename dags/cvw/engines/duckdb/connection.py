"""DuckDB warehouse access: queries on the working warehouse and on the published file, and the Arrow input and
output of the Python steps (mixed into DuckDBEngine). Connections come from cvw.db (one writer, clear errors);
a warehouse connection has the audit-marts file attached as `marts` (cvw.db.connect_warehouse)."""

from __future__ import annotations

from typing import Any

from cvw import db
from cvw.engines.base import arrow_schema


class DuckDBWarehouse:
    """Reads and writes of the DuckDB engine."""

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with db.connect_warehouse(self.settings.warehouse, read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def prepare_build(self) -> None:
        """Before the core build: a new, empty audit-marts file, and no `marts` schema in the warehouse.

        Every audit mart is rebuilt by the run's two dbt builds, and the publish copies the file whole: a file
        kept from night to night would carry the space its replaced tables freed (at 1M customers it grew from
        0.8 to 1.6 GB in three builds), and the copy with it. A warehouse from before the audit-marts file kept
        the marts in a schema `marts`: dropped, so that stale tables cannot be mistaken for the audit marts."""
        marts = self.settings.marts_db
        with db.connect(self.settings.warehouse) as con:
            found = con.execute("select database_name from duckdb_schemas() where database_name = current_database() "
                                "and schema_name = 'marts'").fetchall()
            for (catalog,) in found:  # qualified: where dbt's database is open, `marts` alone is also the catalog
                con.execute(f'drop schema "{catalog}".marts cascade')
            if db.marts_attached(con):
                con.execute(f"detach {db.MARTS_CATALOG}")
            for path in (marts, marts.with_name(marts.name + ".wal")):
                path.unlink(missing_ok=True)
            # attached again at once: dbt-duckdb's database, when a build of this process left it open, does not
            # attach its files a second time
            con.execute(f"attach {db.sql_string(marts)} as {db.MARTS_CATALOG}")
        super().prepare_build()

    def query_published(self, sql: str, params: list | None = None) -> list[tuple]:
        with db.connect(self.settings.analytics_db, read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def execute(self, sql: str) -> None:
        with db.connect_warehouse(self.settings.warehouse) as con:
            con.execute(sql)

    def published_location(self) -> str:
        return f"{self.settings.analytics_db} (schema analytics)"

    def reader_hint(self) -> list[str]:
        db = self.settings.analytics_db
        return ["-- open the published file read-only (what a BI tool does):",
                f"--   duckdb -readonly {db}      or   duckdb.connect('{db}', read_only=True)"]

    def published_log(self) -> list[dict]:
        if not self.settings.analytics_db.exists():
            return []
        with db.connect(self.settings.analytics_db, read_only=True) as con:
            cur = con.execute("select * from analytics.publish_log order by published_at desc")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]

    def read_arrow(self, sql: str) -> Any:
        with db.connect_warehouse(self.settings.warehouse, read_only=True) as con:
            return con.sql(sql).to_arrow_table()

    def write_arrow(self, table: Any, schema: str, name: str) -> None:
        with db.connect_warehouse(self.settings.warehouse) as con:
            con.execute(f"create schema if not exists {schema}")
            con.register("cvw_arrow_input", table)
            con.execute(f"create or replace table {schema}.{name} as select * from cvw_arrow_input")
            con.unregister("cvw_arrow_input")

    def map_batches(self, source_sql: str, fn: Any, schema: str, name: str, columns: tuple,
                    batch_rows: int = 131_072) -> int:
        """One connection reads record batches of `source_sql` (a second cursor) while the other writes the
        scored stream: DuckDB pulls from the RecordBatchReader as it inserts, so memory stays one batch."""
        import pyarrow as pa

        out_schema = arrow_schema(columns)
        with db.connect_warehouse(self.settings.warehouse) as con:
            con.execute(f"create schema if not exists {schema}")
            reader = con.cursor().sql(source_sql).to_arrow_reader(batch_rows)
            stream = pa.RecordBatchReader.from_batches(out_schema, (fn(b) for b in reader))
            con.register("cvw_batch_stream", stream)
            con.execute(f"create or replace table {schema}.{name} as select * from cvw_batch_stream")
            con.unregister("cvw_batch_stream")
            return con.execute(f"select count(*) from {schema}.{name}").fetchone()[0]
