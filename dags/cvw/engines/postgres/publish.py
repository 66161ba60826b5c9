"""PostgreSQL publish (write-audit-publish, atomic for the whole set): the gated `marts` tables are copied into a
new schema `analytics_next` with the carried-over `publish_log`, SELECT is granted to the reader role, then one
short transaction renames `analytics` -> `analytics_prev_<id>` and `analytics_next` -> `analytics`. Renaming a
schema takes no lock on its tables, so a running BI query neither blocks the swap nor sees a mix: every
statement sees one publish (a statement that started before the swap finishes on the old tables; in a
multi-statement BI transaction each later statement sees the new publish). The old schema is dropped right
after with a short lock_timeout; while a long BI query still holds it, the drop is left to the next publish, so
BI readers never block the nightly run. An as-of date older than the current publish only appends its
publish_log row (the current tables stay), with the row counts of its own gated marts. The history lives in
`analytics_history` tables, updated in the swap transaction, behind `analytics` views.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from datetime import date, datetime, timezone

from cvw.catalog import HISTORY_TABLES
from cvw.engines.postgres.connection import _ident, connection_params, pg_type, reader_role
from cvw.publish import (
    PUBLISH_LOG_COLUMNS,
    PublishResult,
    carried_over_log,
    log_row,
    publish_log_ddl,
    replaces_current,
)

log = logging.getLogger(__name__)

HISTORY_SCHEMA = "analytics_history"  # published history tables, behind views in analytics
PUBLISH_LOCK = 741_100_002
DROP_LOCK_TIMEOUT = "3s"


class PostgresPublish:
    """The publish hook of the PostgreSQL engine (mixed into PostgresEngine)."""

    def published_history_source(self) -> str | None:
        exists = self.query(f"select to_regclass('{HISTORY_SCHEMA}.customer_segments_history') is not null")[0][0]
        return f"{HISTORY_SCHEMA}.customer_segments_history" if exists else None

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
                    replace_current = replaces_current(self.published_state()[0], as_of)  # under the lock
                    row_counts = {}
                    for table in tables:
                        cur.execute(f"select count(*) from marts.{_ident(table)}")
                        row_counts[table] = cur.fetchone()[0]
                    for table in HISTORY_TABLES:
                        cur.execute(f"select count(*) from history.{_ident(table)} where as_of_date = %s", [as_of])
                        row_counts[table] = cur.fetchone()[0]
                    new_row = log_row(as_of, run_id, published_at, replace_current, gate_checks, row_counts,
                                      run_summary)
                    insert_log = f"insert into {{}} values ({', '.join('%s' for _ in PUBLISH_LOG_COLUMNS)})"
                    if not replace_current:
                        # an older as-of date: the current tables stay, only history and the log row change
                        cur.execute(insert_log.format("analytics.publish_log"), new_row)
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
                        cur.execute(publish_log_ddl("analytics_next.publish_log", pg_type))
                        if has_log:
                            cur.execute("insert into analytics_next.publish_log "
                                        + carried_over_log("analytics.publish_log", replace_current))
                        cur.execute(insert_log.format("analytics_next.publish_log"), new_row)
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
