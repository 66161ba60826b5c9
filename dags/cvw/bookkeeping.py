"""The ingest's own tables, the same names and columns on every engine: `ingest.file_manifest` (one row per
loaded file, with what the file holds counted from its bytes), `quarantine.rows` (one row per record that could
not be loaded) and `ingest.schema_drift` (one row per extra column per file), and the raw tables' DDL."""

from __future__ import annotations

from datetime import datetime

from cvw.contract import ENTITIES
from cvw.landing import LINEAGE_COLUMNS, LandingFile
from cvw.reader import FileStats

MANIFEST_COLUMNS = {
    "file_name": "VARCHAR",
    "entity": "VARCHAR",
    "sha256": "VARCHAR",
    "size_bytes": "BIGINT",
    "rows_loaded": "BIGINT",
    "rows_quarantined": "BIGINT",
    "columns": "VARCHAR[]",
    "extra_columns": "VARCHAR[]",
    "loaded_at": "TIMESTAMP",
    "ingest_run_id": "VARCHAR",
    # counted from the file's bytes, not from what was parsed: lines after the header, blank lines among
    # them, and records (rows); file_records = rows_loaded + rows_quarantined is checked before commit
    "file_lines": "BIGINT",
    "blank_lines": "BIGINT",
    "file_records": "BIGINT",
    # the file's st_mtime_ns when it was loaded: with size_bytes, lets the next ingest skip re-hashing it
    "modified_ns": "BIGINT",
}
QUARANTINE_COLUMNS = {
    "entity": "VARCHAR",
    "source_file": "VARCHAR",
    "line_number": "BIGINT",
    "column_name": "VARCHAR",
    "error_kind": "VARCHAR",
    "reason": "VARCHAR",
    "raw_line": "VARCHAR",
    "loaded_at": "TIMESTAMP",
    "ingest_run_id": "VARCHAR",
}
DRIFT_COLUMNS = {
    "entity": "VARCHAR",
    "source_file": "VARCHAR",
    "column_name": "VARCHAR",  # as in the file's header (lower-cased)
    "kind": "VARCHAR",
    "detected_at": "TIMESTAMP",
    "ingest_run_id": "VARCHAR",
    "stored_as": "VARCHAR",  # the raw column that holds it
}
BOOKKEEPING_TABLES = {
    "ingest.file_manifest": MANIFEST_COLUMNS,
    "quarantine.rows": QUARANTINE_COLUMNS,
    "ingest.schema_drift": DRIFT_COLUMNS,
}
# columns added after the first release: `create table if not exists` does not add them to old warehouses
ADDED_COLUMNS = {
    "ingest.file_manifest": ("file_lines", "blank_lines", "file_records", "modified_ns"),
    "ingest.schema_drift": ("stored_as",),
}


def schema_ddl(type_of=lambda contract_type: contract_type) -> list[str]:
    """DDL of the raw, quarantine and ingest tables (idempotent, also upgrading an older warehouse);
    `type_of` maps contract types to the engine's (DuckDB and PostgreSQL share these statements)."""
    ddl = [f"create schema if not exists {schema}" for schema in ("raw", "quarantine", "ingest")]
    for entity in ENTITIES.values():
        cols = ", ".join(f"{name} {type_of(typ)}" for name, typ in {**entity.columns, **LINEAGE_COLUMNS}.items())
        ddl.append(f"create table if not exists {entity.raw_table} ({cols})")
    for name, columns in BOOKKEEPING_TABLES.items():
        cols = ", ".join(f"{c} {type_of(t)}" for c, t in columns.items())
        ddl.append(f"create table if not exists {name} ({cols})")
    for name, added in ADDED_COLUMNS.items():
        for c in added:
            ddl.append(f"alter table {name} add column if not exists {c} {type_of(BOOKKEEPING_TABLES[name][c])}")
    return ddl


def manifest_row(f: LandingFile, loaded: int, quarantined: int, stats: FileStats, loaded_at: datetime,
                 run_id: str) -> dict:
    return {
        "file_name": f.name, "entity": f.entity.name, "sha256": f.sha256, "size_bytes": f.size,
        "rows_loaded": loaded, "rows_quarantined": quarantined, "columns": list(f.columns),
        "extra_columns": f.extra_columns, "loaded_at": loaded_at, "ingest_run_id": run_id,
        "file_lines": stats.lines, "blank_lines": stats.blank_lines, "file_records": stats.records,
        "modified_ns": f.modified_ns,
    }


def drift_row(f: LandingFile, column: str, stored_as: str, loaded_at: datetime, run_id: str) -> dict:
    return {
        "entity": f.entity.name, "source_file": f.name, "column_name": column, "kind": "extra_column",
        "detected_at": loaded_at, "ingest_run_id": run_id, "stored_as": stored_as,
    }
