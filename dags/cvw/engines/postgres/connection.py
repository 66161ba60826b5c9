"""PostgreSQL connection and warehouse access: connection parameters from CVW_PG_* (the variables
`dbt_project/profiles.yml` reads), queries, DDL, and the Arrow input and output of the Python steps (COPY in
batches; a server-side cursor out). Mixed into PostgresEngine."""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Any

# contract (DuckDB) type -> PostgreSQL type
PG_TYPES = {
    "VARCHAR": "varchar",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "DECIMAL(18,2)": "numeric(18,2)",
}


def _arrow_to_contract(arrow_type) -> str:
    """The contract (DuckDB-spelled) type of an Arrow type, for tables the Python steps write."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "varchar"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int32(arrow_type):
        return "integer"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    raise TypeError(f"no warehouse type for Arrow type {arrow_type}")


def pg_type(contract_type: str) -> str:
    return PG_TYPES.get(contract_type.upper(), contract_type)


def connection_params() -> dict[str, Any]:
    """psycopg2 connection keywords from CVW_PG_* (defaults as in dbt_project/profiles.yml)."""
    return {
        "host": os.environ.get("CVW_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("CVW_PG_PORT", "5432")),
        "user": os.environ.get("CVW_PG_USER", "cvw"),
        "password": os.environ.get("CVW_PG_PASSWORD", ""),
        "dbname": os.environ.get("CVW_PG_DATABASE", "cvw"),
    }


def sqlalchemy_url() -> str:
    from urllib.parse import quote

    p = connection_params()
    return (
        f"postgresql+psycopg2://{quote(p['user'], safe='')}:{quote(p['password'], safe='')}"
        f"@{p['host']}:{p['port']}/{quote(p['dbname'], safe='')}"
    )


def reader_role() -> str:
    return os.environ.get("CVW_PG_READER_ROLE", "cvw_reader")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_csv(cur, table: str, batch) -> None:
    """COPY one Arrow batch into `table` as CSV: a null is an unquoted empty field (NULL), text is quoted, a
    double is written in its shortest round-trip form."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = io.BytesIO()
    pacsv.write_csv(pa.Table.from_batches([batch]), sink, pacsv.WriteOptions(include_header=False))
    sink.seek(0)
    cur.copy_expert(f"copy {table} from stdin with (format csv)", sink)


class PostgresWarehouse:
    """Reads and writes of the PostgreSQL engine."""

    @contextlib.contextmanager
    def connect(self, autocommit: bool = False, read_only: bool = False):
        """A psycopg2 connection (session time zone UTC), closed on exit."""
        import psycopg2

        options = "-c TimeZone=UTC -c DateStyle=ISO,YMD"
        if read_only:
            options += " -c default_transaction_read_only=on"
        params = connection_params()
        try:
            con = psycopg2.connect(**params, options=options, application_name="cvw", connect_timeout=15)
        except psycopg2.OperationalError as exc:
            raise RuntimeError(
                f"cannot connect to PostgreSQL {params['user']}@{params['host']}:{params['port']}/"
                f"{params['dbname']} ({str(exc).strip()}). Set CVW_PG_HOST/PORT/USER/PASSWORD/DATABASE "
                "(scripts/pg_local.sh start prints them for a local server)."
            ) from exc
        con.autocommit = autocommit
        try:
            yield con
        finally:
            con.close()

    def _fetch(self, sql: str, params: list | None, read_only: bool) -> list[tuple]:
        with self.connect(autocommit=True, read_only=read_only) as con, con.cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall() if cur.description is not None else []

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        return self._fetch(sql, params, read_only=False)

    def query_published(self, sql: str, params: list | None = None) -> list[tuple]:
        return self._fetch(sql, params, read_only=True)

    def execute(self, sql: str) -> None:
        self._fetch(sql, None, read_only=False)

    def published_location(self) -> str:
        p = connection_params()
        return f"schema analytics of postgresql://{p['host']}:{p['port']}/{p['dbname']}"

    def published_log(self) -> list[dict]:
        with self.connect(autocommit=True, read_only=True) as con, con.cursor() as cur:
            cur.execute("select to_regclass('analytics.publish_log') is not null")
            if not cur.fetchone()[0]:
                return []
            cur.execute("select * from analytics.publish_log order by published_at desc")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def read_arrow(self, sql: str) -> Any:
        import pyarrow as pa

        with self.connect(read_only=True) as con, con.cursor() as cur:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    @staticmethod
    def _create_and_copy(con, schema: str, name: str, columns: tuple) -> None:
        cols = ", ".join(f"{_ident(c)} {pg_type(t)}" for c, t in columns)
        with con.cursor() as cur:
            cur.execute(f"create schema if not exists {_ident(schema)}")
            cur.execute(f"drop table if exists {_ident(schema)}.{_ident(name)}")
            cur.execute(f"create table {_ident(schema)}.{_ident(name)} ({cols})")

    @staticmethod
    def _copy_batch(con, schema: str, name: str, batch) -> None:
        with con.cursor() as cur:
            _copy_csv(cur, f"{_ident(schema)}.{_ident(name)}", batch)

    def write_arrow(self, table: Any, schema: str, name: str) -> None:
        columns = tuple((f.name, _arrow_to_contract(f.type)) for f in table.schema)
        with self.connect() as con:
            self._create_and_copy(con, schema, name, columns)
            for batch in table.to_batches():
                self._copy_batch(con, schema, name, batch)
            con.commit()

    def map_batches(self, source_sql: str, fn: Any, schema: str, name: str, columns: tuple,
                    batch_rows: int = 100_000) -> int:
        """A server-side cursor hands out `batch_rows` rows at a time; each scored batch is COPYed back in the
        same transaction (the new table appears whole at commit)."""
        import pyarrow as pa

        total = 0
        with self.connect() as con:
            self._create_and_copy(con, schema, name, columns)
            with con.cursor(name=f"cvw_batches_{uuid.uuid4().hex[:8]}") as src:
                src.itersize = batch_rows
                src.execute(source_sql)
                while rows := src.fetchmany(batch_rows):
                    names = [d[0] for d in src.description]
                    batch = pa.RecordBatch.from_pydict({n: [r[i] for r in rows] for i, n in enumerate(names)})
                    out = fn(batch)
                    self._copy_batch(con, schema, name, out)
                    total += out.num_rows
            con.commit()
        return total
