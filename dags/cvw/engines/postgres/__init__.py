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

from cvw.engines.base import Engine
from cvw.engines.postgres.connection import PostgresWarehouse, connection_params, pg_type, reader_role, sqlalchemy_url
from cvw.engines.postgres.gate import PostgresGate
from cvw.engines.postgres.ingest import DIALECT, TRY_CASTS, PostgresIngestSteps
from cvw.engines.postgres.publish import HISTORY_SCHEMA, PostgresPublish

__all__ = ["HISTORY_SCHEMA", "TRY_CASTS", "PostgresEngine", "connection_params", "pg_type", "reader_role",
           "sqlalchemy_url"]


class PostgresEngine(PostgresWarehouse, PostgresIngestSteps, PostgresGate, PostgresPublish, Engine):
    name = "postgres"
    dialect = DIALECT
