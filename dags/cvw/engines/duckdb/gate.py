"""DuckDB's part of the gate: the audit table the gate's SQL aggregates read (cvw.gate.aggregate)."""

from __future__ import annotations

from cvw.db import NotReadyError


class DuckDBGate:
    """The gate hook of the DuckDB engine (mixed into DuckDBEngine)."""

    def gate_relation(self, schema: str, table: str) -> str:
        """`schema` is `[catalog.]schema` (the audit marts: `marts.analytics`, in the audit-marts file)."""
        catalog, _, name = schema.rpartition(".")
        found = self.query(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ? "
            "and (? = '' or table_catalog = ?)",
            [name, table, catalog, catalog],
        )
        if not found[0][0]:
            raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
        return ".".join(f'"{part}"' for part in (*([catalog] if catalog else []), name, table))
