"""PostgreSQL engine (CVW_TARGET=postgres): warehouse and published `analytics` schema in one database.

Connection: CVW_PG_HOST, CVW_PG_PORT, CVW_PG_USER, CVW_PG_PASSWORD, CVW_PG_DATABASE (the same variables
`dbt_project/profiles.yml` reads). BI role: CVW_PG_READER_ROLE (default `cvw_reader`), a NOLOGIN group
role with USAGE on `analytics` and SELECT on its tables only; give BI logins membership in it.
`scripts/pg_local.sh` starts a local server for development.

Ingest (the template method Engine.ingest; the same reader and type rules as every engine): the reader's
Arrow batches of a group of files are COPYed (CSV) into a temp table of text columns, type-checked in SQL
(cvw.typecheck with the `ingest.cvw_try_cast_*` functions below: PostgreSQL 15 has no try_cast) and split
into raw.<entity> and quarantine.rows. The whole ingest is one transaction (drift and manifest rows
included); an advisory lock serialises concurrent ingests.

Publish (write-audit-publish, atomic for the whole set): the gated `marts` tables are copied into a new
schema `analytics_next` with the carried-over `publish_log`, SELECT is granted to the reader role, then
one short transaction renames `analytics` -> `analytics_prev_<id>` and `analytics_next` -> `analytics`.
Renaming a schema takes no lock on its tables, so a running BI query neither blocks the swap nor sees a
mix: every statement sees one publish (a statement that started before the swap finishes on the old
tables; in a multi-statement BI transaction each later statement sees the new publish). The old schema
is dropped right after with a short lock_timeout; while a long BI query still holds it, the drop is left
to the next publish, so BI readers never block the nightly run. An as-of date older than the current
publish only appends its publish_log row (the current tables stay), with the row counts of its own
gated marts.

Planner: ingest sets `enable_nestloop = off` for the pipeline's role in this database (see
PIPELINE_ROLE_SETTINGS); dbt's views-over-views otherwise get nested-loop plans that take minutes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any

from cvw import failpoints
from cvw.engines.base import Engine, IngestSession
from cvw.settings import Settings
from cvw.typecheck import Dialect, checked_select

log = logging.getLogger(__name__)

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
# contract type -> (checked-cast function, body of the function); each returns NULL where v does not convert.
# cvw.typecheck has already checked the value's shape (no rounding: `1.5` never reaches the integer cast)
_DATE_PREFIX = r"^\s*[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}"
_NUMBER = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
TRY_CASTS = {
    "INTEGER": ("cvw_try_cast_integer", "integer", """
        begin return v::integer;
        exception when others then return null;
        end"""),
    "BIGINT": ("cvw_try_cast_bigint", "bigint", """
        begin return v::bigint;
        exception when others then return null;
        end"""),
    "DECIMAL(18,2)": ("cvw_try_cast_numeric_18_2", "numeric", f"""
        begin
            if v !~ '{_NUMBER}' then return null; end if;
            return v::numeric(18,2);
        exception when others then return null;
        end"""),
    "DOUBLE": ("cvw_try_cast_double", "double precision", """
        begin return v::double precision;
        exception when others then return null;
        end"""),
    "BOOLEAN": ("cvw_try_cast_boolean", "boolean", """
        begin return v::boolean;
        exception when others then return null;
        end"""),
    "DATE": ("cvw_try_cast_date", "date", f"""
        begin
            if v !~ '{_DATE_PREFIX}' then return null; end if;
            return v::date;
        exception when others then return null;
        end"""),
    # read as timestamptz in UTC: '...Z' and '+02:00' are converted to UTC, values without offset are UTC
    "TIMESTAMP": ("cvw_try_cast_timestamp", "timestamp", f"""
        begin
            if v !~ '{_DATE_PREFIX}' then return null; end if;
            return v::timestamptz at time zone 'UTC';
        exception when others then return null;
        end"""),
}
# Session defaults for the pipeline's own role in the warehouse database (ALTER ROLE ... IN DATABASE ...
# SET, applied by ingest; dbt, GX and this engine then run with them, BI roles do not). The dbt models are
# views over views whose `rejection_reason is null` filters PostgreSQL estimates at 0.5% of the rows, which
# makes it pick nested loops over 100k x 100k rows: fct_order_lines took 440 s at 20k customers x 1 year,
# 0.8 s with hash joins.
PIPELINE_ROLE_SETTINGS = {"enable_nestloop": "off"}
HISTORY_SCHEMA = "analytics_history"  # published history tables, behind views in analytics
INGEST_LOCK = 741_100_001  # pg_advisory_lock keys: one ingest / one publish at a time per database
PUBLISH_LOCK = 741_100_002
DROP_LOCK_TIMEOUT = "3s"


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


class PostgresDialect(Dialect):
    """cvw.typecheck on PostgreSQL: `~` for the patterns, the checked-cast functions for the casts (a double
    out of range raises in the cast, so the function's NULL already covers `1e400`)."""

    name = "postgres"

    def matches(self, expr: str, pattern: str) -> str:
        return f"({expr} ~ {self.lit(pattern)})"

    def cast(self, expr: str, contract_type: str) -> str:
        return f"ingest.{TRY_CASTS[contract_type][0]}({expr})"

    def finite(self, expr: str) -> str:
        return "true"

    def type(self, contract_type: str) -> str:
        return pg_type(contract_type)


DIALECT = PostgresDialect()


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


class PostgresIngest(IngestSession):
    """An ingest on one connection, inside one transaction, holding the ingest advisory lock."""

    def __init__(self, con):
        self.con = con
        self.committed = False
        self.warnings: list[str] = []

    def known_files(self) -> dict[str, str]:
        with self.con.cursor() as cur:
            cur.execute("select file_name, sha256 from ingest.file_manifest")
            return dict(cur.fetchall())

    def add_columns(self, entity: str, columns: list[str]) -> None:
        with self.con.cursor() as cur:
            for c in columns:
                cur.execute(f"alter table raw.{entity} add column if not exists {_ident(c)} varchar")

    def load(self, group, fields, loaded_at, run_id):
        from cvw.engines.base import read_group
        from cvw.landing import LINEAGE_COLUMNS, QUARANTINE_COLUMNS

        entity = group[0].entity.name
        batches, stats = read_group(group)
        meta = "_file text, _line bigint, _record text, _error_kind text, _error_column text, _error_reason text"
        with self.con.cursor() as cur:
            cur.execute(f"create temp table cvw_stage ({meta}, {', '.join(f'{_ident(f.stage)} text' for f in fields)})")
            for batch in batches:
                _copy_csv(cur, "cvw_stage", batch)
            cur.execute(f"create temp table cvw_checked as {checked_select(DIALECT, 'cvw_stage', fields)}")
            stored = ", ".join(_ident(f.stored) for f in fields)
            cur.execute(
                f"insert into raw.{entity} ({stored}, {', '.join(LINEAGE_COLUMNS)}) "
                f"select {stored}, _file, _line, %s::timestamp, %s from cvw_checked where _kind is null "
                "order by _file, _line",
                [loaded_at, run_id],
            )
            cur.execute(
                f"insert into quarantine.rows ({', '.join(QUARANTINE_COLUMNS)}) "
                "select %s, _file, _line, _column, _kind, _reason, _raw_line, %s::timestamp, %s "
                "from cvw_checked where _kind is not null order by _file, _line",
                [entity, loaded_at, run_id],
            )
            cur.execute(
                "select _file, count(*) filter (where _kind is null), count(*) filter (where _kind is not null) "
                "from cvw_checked group by _file"
            )
            per_file = {name: (int(good), int(bad)) for name, good, bad in cur.fetchall()}
            cur.execute("drop table cvw_stage")
            cur.execute("drop table cvw_checked")
        return {f.name: (*per_file.get(f.name, (0, 0)), stats[f.name]) for f in group}

    def commit(self, drift: list[dict], manifest: list[dict]) -> None:
        from psycopg2.extras import execute_values

        with self.con.cursor() as cur:
            for table, rows in (("ingest.schema_drift", drift), ("ingest.file_manifest", manifest)):
                if rows:
                    names = list(rows[0])
                    execute_values(cur, f"insert into {table} ({', '.join(names)}) values %s",
                                   [[r[n] for n in names] for r in rows])
        failpoints.hit("ingest.before_commit")
        self.con.commit()
        self.committed = True


class PostgresEngine(Engine):
    name = "postgres"
    dialect = DIALECT

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._gx_sources: list[Any] = []

    # --- connections ------------------------------------------------------------------------------

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

    def execute(self, sql: str) -> None:
        self._fetch(sql, None, read_only=False)

    def published_history_source(self) -> str | None:
        exists = self.query(f"select to_regclass('{HISTORY_SCHEMA}.customer_segments_history') is not null")[0][0]
        return f"{HISTORY_SCHEMA}.customer_segments_history" if exists else None

    def query_published(self, sql: str, params: list | None = None) -> list[tuple]:
        return self._fetch(sql, params, read_only=True)

    def close(self) -> None:
        for source in self._gx_sources:
            with contextlib.suppress(Exception):
                source.get_engine().dispose()
        self._gx_sources.clear()

    # --- ingest -----------------------------------------------------------------------------------

    def ensure_schema(self, cur) -> None:
        """The tables of cvw.landing.schema_ddl (same names and columns as DuckDB) plus the checked casts."""
        from cvw.landing import schema_ddl

        for statement in schema_ddl(pg_type):
            cur.execute(statement)
        cur.execute("select current_user, current_database()")
        user, db = cur.fetchone()
        for name, value in PIPELINE_ROLE_SETTINGS.items():
            cur.execute(f"alter role {_ident(user)} in database {_ident(db)} set {name} = {value}")
        for func, returns, body in TRY_CASTS.values():
            cur.execute(
                f"create or replace function ingest.{func}(v text) returns {returns} "
                f"language plpgsql stable parallel safe as $cvw$ {body} $cvw$"
            )

    @contextlib.contextmanager
    def ingest_session(self, run_id: str) -> Iterator[PostgresIngest]:
        with self.connect() as con:
            with con.cursor() as cur:
                cur.execute("select pg_advisory_lock(%s)", [INGEST_LOCK])
                self.ensure_schema(cur)
            con.commit()
            session = PostgresIngest(con)
            try:
                yield session
            finally:
                with contextlib.suppress(Exception):  # a lost connection releases the lock anyway
                    if not session.committed:
                        con.rollback()
                    with con.cursor() as cur:
                        cur.execute("select pg_advisory_unlock(%s)", [INGEST_LOCK])
                    con.commit()

    # --- gate -------------------------------------------------------------------------------------

    def gx_batch(
        self, context: Any, schema: str, table: str, columns: list[str] | None = None
    ) -> tuple[Any, dict, int]:
        """GX's SQL datasource, in-database: a table asset on `schema.table`, whole table, no parameters.

        The connection string stored in the GX project is only `${CVW_PG_SQLALCHEMY_URL}`, set here from
        CVW_PG_*: no password is written to disk. PostgreSQL has no avg(boolean), so a table with boolean
        columns is validated through a query asset that reads them as 0/1 (what pandas' mean does on
        DuckDB's path); every other column is passed through unchanged.
        """
        os.environ["CVW_PG_SQLALCHEMY_URL"] = sqlalchemy_url()
        source = context.data_sources.add_or_update_postgres(
            "audit_postgres", connection_string="${CVW_PG_SQLALCHEMY_URL}"
        )
        self._gx_sources.append(source)
        columns = self.query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            [schema, table],
        )
        if not columns:
            from cvw.db import NotReadyError

            raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
        name = f"{schema}.{table}"
        if any(t == "boolean" for _, t in columns):
            select = ", ".join(
                f"{_ident(c)}::integer as {_ident(c)}" if t == "boolean" else _ident(c) for c, t in columns
            )
            query = f"select {select} from {_ident(schema)}.{_ident(table)}"
            if name in [a.name for a in source.assets]:
                source.delete_asset(name)  # the column list may have changed since the last run
            asset = source.add_query_asset(name, query=query)
        else:
            asset = source.get_asset(name) if name in [a.name for a in source.assets] else (
                source.add_table_asset(name, table_name=table, schema_name=schema)
            )
        batches = [b.name for b in asset.batch_definitions]
        batch = asset.get_batch_definition("whole") if "whole" in batches else (
            asset.add_batch_definition_whole_table("whole")
        )
        rows = self.query(f"select count(*) from {_ident(schema)}.{_ident(table)}")[0][0]
        return batch, {}, int(rows)

    # --- publish ----------------------------------------------------------------------------------

    # --- Python steps (CLV) -------------------------------------------------------------------------

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

    def published_log(self) -> list[dict]:
        with self.connect(autocommit=True, read_only=True) as con, con.cursor() as cur:
            cur.execute("select to_regclass('analytics.publish_log') is not null")
            if not cur.fetchone()[0]:
                return []
            cur.execute("select * from analytics.publish_log order by published_at desc")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def ensure_reader_role(self, cur) -> str:
        """The NOLOGIN group role BI logins are members of; it may read `analytics` and nothing else."""
        role = reader_role()
        cur.execute(
            """
            do $cvw$ begin
                if not exists (select from pg_roles where rolname = %s) then
                    execute format('create role %%I nologin', %s);
                end if;
            exception when duplicate_object then null;
            end $cvw$
            """,
            [role, role],
        )
        db = connection_params()["dbname"]
        cur.execute(f"grant connect on database {_ident(db)} to {_ident(role)}")
        # PUBLIC may create temp tables by default, and in the public schema before PostgreSQL 15
        cur.execute(f"revoke temporary on database {_ident(db)} from public")
        cur.execute("revoke create on schema public from public")
        return role

    def publish(self, as_of: date, run_id: str, tables: tuple[str, ...], gate_checks: int,
                run_summary: dict | None):
        from cvw.publish import HISTORY_TABLES, PUBLISH_LOG_DDL, PublishResult

        started = time.monotonic()
        published_at = datetime.now(timezone.utc).replace(tzinfo=None)
        db = connection_params()["dbname"]
        with self.connect() as con:
            with con.cursor() as cur:
                cur.execute("select pg_advisory_lock(%s)", [PUBLISH_LOCK])
            con.commit()
            try:
                self._drop_old_schemas(con)
                with con.cursor() as cur:
                    role = self.ensure_reader_role(cur)
                    cur.execute("select to_regclass('analytics.publish_log') is not null")
                    has_log = cur.fetchone()[0]
                    current = None
                    if has_log:
                        cur.execute("select max(as_of_date) from analytics.publish_log where is_current")
                        current = cur.fetchone()[0]
                    replace_current = current is None or as_of >= current
                    row_counts = {}
                    for table in tables:
                        cur.execute(f"select count(*) from marts.{_ident(table)}")
                        row_counts[table] = cur.fetchone()[0]
                    for table in HISTORY_TABLES:
                        cur.execute(f"select count(*) from history.{_ident(table)} where as_of_date = %s", [as_of])
                        row_counts[table] = cur.fetchone()[0]
                    log_row = [
                        as_of, run_id, published_at, replace_current, gate_checks, sum(row_counts.values()),
                        json.dumps(row_counts, sort_keys=True),
                        json.dumps(run_summary or {}, sort_keys=True, default=str),
                    ]
                    insert_log = "insert into {} values (%s, %s, %s, %s, 'passed', %s, 0, %s, %s, %s)"
                    if not replace_current:
                        # an older as-of date: the current tables stay, only history and the log row change
                        cur.execute(insert_log.format("analytics.publish_log"), log_row)
                        self._history_views(cur, "analytics")
                        self._publish_history(cur, as_of)
                        self._grant(cur, "analytics", role)
                        con.commit()
                    else:
                        cur.execute("drop schema if exists analytics_next cascade")
                        cur.execute("create schema analytics_next")
                        for table in tables:
                            t = _ident(table)
                            cur.execute(f"create table analytics_next.{t} as select * from marts.{t}")
                        cur.execute(PUBLISH_LOG_DDL.format(name="analytics_next.publish_log"))
                        if has_log:
                            cur.execute(
                                "insert into analytics_next.publish_log "
                                "select as_of_date, run_id, published_at, false, gate_result, gate_checks, "
                                "gate_failed, total_rows, row_counts, run_summary from analytics.publish_log"
                            )
                        cur.execute(insert_log.format("analytics_next.publish_log"), log_row)
                        self._history_views(cur, "analytics_next")
                        self._grant(cur, "analytics_next", role)
                        con.commit()
                        # the swap: one short transaction; renaming a schema does not wait for its readers
                        old = f"analytics_prev_{uuid.uuid4().hex[:8]}"
                        cur.execute("set local lock_timeout = '60s'")
                        cur.execute("select to_regnamespace('analytics') is not null")
                        if cur.fetchone()[0]:
                            cur.execute(f"alter schema analytics rename to {old}")
                        cur.execute("alter schema analytics_next rename to analytics")
                        self._publish_history(cur, as_of)  # D's history becomes visible with the swap
                        con.commit()
                self._drop_old_schemas(con)
            except Exception:
                con.rollback()
                raise
            finally:
                with contextlib.suppress(Exception):  # a lost connection releases the lock anyway
                    con.rollback()
                    with con.cursor() as cur:
                        cur.execute("select pg_advisory_unlock(%s)", [PUBLISH_LOCK])
                    con.commit()
        p = connection_params()
        result = PublishResult(
            as_of=as_of, run_id=run_id, replaced_current=replace_current,
            path=f"postgresql://{p['host']}:{p['port']}/{db} schema analytics", row_counts=row_counts,
            seconds=time.monotonic() - started,
        )
        log.info(result.summary())
        return result

    @staticmethod
    def _history_views(cur, schema: str) -> None:
        """Create the `analytics_history` tables if needed and `<schema>.<table>` views on them (a view reads
        with its owner's rights, so the BI role needs SELECT on analytics only)."""
        from cvw.publish import HISTORY_TABLES

        cur.execute(f"create schema if not exists {HISTORY_SCHEMA}")
        for table in HISTORY_TABLES:
            t = _ident(table)
            cur.execute(f"create table if not exists {HISTORY_SCHEMA}.{t} (like history.{t})")
            cur.execute(f"create index if not exists {_ident(table + '_by_date')} on {HISTORY_SCHEMA}.{t} (as_of_date)")
            cur.execute(f"create or replace view {schema}.{t} as select * from {HISTORY_SCHEMA}.{t}")

    @staticmethod
    def _publish_history(cur, as_of: date) -> None:
        """Replace D's rows of the `analytics_history` tables (history is appended to, never copied whole), in
        the caller's transaction: the rows become visible with the publish, not before."""
        from cvw.publish import HISTORY_TABLES

        for table in HISTORY_TABLES:
            t = _ident(table)
            cur.execute(f"delete from {HISTORY_SCHEMA}.{t} where as_of_date = %s", [as_of])
            cur.execute(f"insert into {HISTORY_SCHEMA}.{t} select * from history.{t} where as_of_date = %s", [as_of])

    @staticmethod
    def _grant(cur, schema: str, role: str) -> None:
        cur.execute(f"grant usage on schema {schema} to {_ident(role)}")
        cur.execute(f"grant select on all tables in schema {schema} to {_ident(role)}")

    @staticmethod
    def _drop_old_schemas(con) -> None:
        """Drop replaced `analytics_prev_*` schemas; one still read by a BI query is left for next time."""
        import psycopg2

        with con.cursor() as cur:
            cur.execute(r"select nspname from pg_namespace where nspname like 'analytics\_prev\_%'")
            old = sorted(r[0] for r in cur.fetchall())
        con.commit()
        for schema in old:
            try:
                with con.cursor() as cur:
                    cur.execute(f"set local lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                    cur.execute(f"drop schema {_ident(schema)} cascade")
                con.commit()
            except psycopg2.errors.LockNotAvailable:
                con.rollback()
                log.warning("schema %s is still being read; it is dropped by the next publish", schema)
