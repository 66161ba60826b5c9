"""DuckDB connections with errors that say what to do."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


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
        con.execute(f"set memory_limit = '{os.environ.get('CVW_DUCKDB_MEMORY_LIMIT', '4GB')}'")
        yield con
    finally:
        con.close()
