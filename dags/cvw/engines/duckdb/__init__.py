"""DuckDB engine (default): a working warehouse file and a separate published file swapped atomically.

The parts, as in every engine package: `connection` (warehouse access, Arrow in and out), `ingest` (the
ingest session), `gate` (the table the gate's SQL aggregates read), `publish` (the file swap and the history files).
"""

from __future__ import annotations

from cvw.engines.base import Engine
from cvw.engines.duckdb.connection import DuckDBWarehouse
from cvw.engines.duckdb.gate import DuckDBGate
from cvw.engines.duckdb.ingest import DIALECT, DuckDBIngestSteps
from cvw.engines.duckdb.publish import DuckDBPublish


class DuckDBEngine(DuckDBWarehouse, DuckDBIngestSteps, DuckDBGate, DuckDBPublish, Engine):
    name = "duckdb"
    dialect = DIALECT
    # the audit-marts file (cvw.db.marts_file), attached as `marts`, holds them in the published schema name
    audit_schema = "marts.analytics"
