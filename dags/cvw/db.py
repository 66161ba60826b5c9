"""DuckDB connections with errors that say what to do."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

# the catalog alias of the audit-marts file in every warehouse connection (and in dbt's profile)
MARTS_CATALOG = "marts"


def marts_file(warehouse: Path) -> Path:
    """The audit-marts file next to the DuckDB warehouse: dbt builds the published models into it (schema
    `analytics`), the gate reads them there, and the publish copies the file whole (bytes, not rows)."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.stem}_marts{warehouse.suffix or '.duckdb'}")


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file."""


class NotReadyError(RuntimeError):
    """A step needs what an earlier step makes (a warehouse, ingested data, a build): the message says which."""


@contextlib.contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator:
    """Open a DuckDB file (creating its folder when writing); close it on exit."""
    import duckdb

    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise NotReadyError(
            f"{path} does not exist yet: nothing was loaded or published in this CVW_HOME. Run `cvw run --as-of "
            "YYYY-MM-DD` (or `cvw ingest`) first, or point CVW_HOME at an existing warehouse."
        )
    try:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.ConnectionException as exc:
            # this process already holds the file read-write (dbt-duckdb keeps its database open after a
            # build); DuckDB then only hands out connections of that same configuration
            if not (read_only and "different configuration" in str(exc)):
                raise
            con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(
                f"{path} is held by another process ({exc}). The working warehouse has one writer: wait for "
                "the running job (or stop it), and point BI tools at the published analytics file, never at "
                "the working warehouse."
            ) from exc
        raise
    try:
        # the same cap as dbt's profile (DuckDB spills to disk beyond it)
        con.execute(f"set memory_limit = '{os.environ.get('CVW_DUCKDB_MEMORY_LIMIT', '3GB')}'")
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def connect_warehouse(path: Path, read_only: bool = False) -> Iterator:
    """`connect` to the working warehouse with its audit-marts file attached as `marts` (`marts.analytics.<t>`);
    read-only, the marts file is attached only once a build has made it."""
    marts = marts_file(path)
    with connect(path, read_only=read_only) as con:
        # dbt-duckdb's database, still open in this process after a build, has it attached already (read-write)
        if not marts_attached(con) and (not read_only or marts.exists()):
            con.execute(f"attach {sql_string(marts)} as {MARTS_CATALOG}{' (read_only)' if read_only else ''}")
        yield con


def marts_attached(con) -> bool:
    """Whether this connection's database has the audit-marts file attached."""
    return bool(con.execute("select count(*) from duckdb_databases() where database_name = ?",
                            [MARTS_CATALOG]).fetchall()[0][0])


def sql_string(value: object) -> str:
    """A SQL string literal (for paths in ATTACH and read_parquet, which take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"
