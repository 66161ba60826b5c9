"""PostgreSQL ingest: the reader's Arrow batches of a group of files are COPYed (CSV) into a temp table of text
columns, type-checked in SQL (cvw.typecheck with the `ingest.cvw_try_cast_*` functions below: PostgreSQL 15 has
no try_cast) and split into raw.<entity> and quarantine.rows. The whole ingest is one transaction (drift and
manifest rows included); an advisory lock serialises concurrent ingests.

Planner: ingest sets `enable_nestloop = off` for the pipeline's role in this database (see
PIPELINE_ROLE_SETTINGS); dbt's views-over-views otherwise get nested-loop plans that take minutes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cvw import failpoints
from cvw.engines.base import IngestSession
from cvw.engines.postgres.connection import _copy_csv, _ident, pg_type
from cvw.landing import KNOWN_FILES_SQL, KnownFile, known_from_rows
from cvw.typecheck import Dialect, checked_select

# contract type -> (checked-cast function, body of the function); each returns NULL where v does not convert.
# cvw.typecheck has already checked the value's shape (no rounding: `1.5` never reaches the integer cast)
_DATE_PREFIX = r"^\s*[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}"
_NUMBER = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def _try_cast_body(cast: str, shape: str | None = None) -> str:
    """plpgsql body: `cast` of v (e.g. `v::date`), NULL where v does not match `shape` or does not convert."""
    guard = f"if v !~ '{shape}' then return null; end if;\n            " if shape else ""
    return f"""
        begin
            {guard}return {cast};
        exception when others then return null;
        end"""


TRY_CASTS = {
    "INTEGER": ("cvw_try_cast_integer", "integer", _try_cast_body("v::integer")),
    "BIGINT": ("cvw_try_cast_bigint", "bigint", _try_cast_body("v::bigint")),
    "DECIMAL(18,2)": ("cvw_try_cast_numeric_18_2", "numeric", _try_cast_body("v::numeric(18,2)", _NUMBER)),
    "DOUBLE": ("cvw_try_cast_double", "double precision", _try_cast_body("v::double precision")),
    "BOOLEAN": ("cvw_try_cast_boolean", "boolean", _try_cast_body("v::boolean")),
    "DATE": ("cvw_try_cast_date", "date", _try_cast_body("v::date", _DATE_PREFIX)),
    # read as timestamptz in UTC: '...Z' and '+02:00' are converted to UTC, values without offset are UTC
    "TIMESTAMP": (
        "cvw_try_cast_timestamp", "timestamp", _try_cast_body("v::timestamptz at time zone 'UTC'", _DATE_PREFIX)
    ),
}

# Session defaults for the pipeline's own role in the warehouse database (ALTER ROLE ... IN DATABASE ...
# SET, applied by ingest; dbt, GX and this engine then run with them, BI roles do not). The dbt models are
# views over views whose `rejection_reason is null` filters PostgreSQL estimates at 0.5% of the rows, which
# makes it pick nested loops over 100k x 100k rows: fct_order_lines took 440 s at 20k customers x 1 year,
# 0.8 s with hash joins.
PIPELINE_ROLE_SETTINGS = {"enable_nestloop": "off"}
INGEST_LOCK = 741_100_001  # pg_advisory_lock keys: one ingest / one publish at a time per database


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


class PostgresIngest(IngestSession):
    """An ingest on one connection, inside one transaction, holding the ingest advisory lock."""

    def __init__(self, con):
        self.con = con
        self.committed = False
        self.warnings: list[str] = []

    def known_files(self) -> dict[str, KnownFile]:
        with self.con.cursor() as cur:
            cur.execute(KNOWN_FILES_SQL)
            return known_from_rows(cur.fetchall())

    def add_columns(self, entity: str, columns: list[str]) -> None:
        with self.con.cursor() as cur:
            for c in columns:
                cur.execute(f"alter table raw.{entity} add column if not exists {_ident(c)} varchar")

    def load(self, group, fields, loaded_at, run_id):
        from cvw.bookkeeping import QUARANTINE_COLUMNS
        from cvw.engines.base import read_group
        from cvw.landing import LINEAGE_COLUMNS

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


class PostgresIngestSteps:
    """The ingest hook of the PostgreSQL engine (mixed into PostgresEngine)."""

    def ensure_schema(self, cur) -> None:
        """The tables of cvw.landing.schema_ddl (same names and columns as DuckDB) plus the checked casts."""
        from cvw.bookkeeping import schema_ddl

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
