"""PostgreSQL's part of the gate: the audit table the gate's SQL aggregates read (cvw.gate.aggregate)."""

from __future__ import annotations

from cvw.db import NotReadyError
from cvw.engines.postgres.connection import _ident


class PostgresGate:
    """The gate hook of the PostgreSQL engine (mixed into PostgresEngine)."""

    def gate_relation(self, schema: str, table: str) -> str:
        if not self.query("select to_regclass(%s) is not null", [f"{_ident(schema)}.{_ident(table)}"])[0][0]:
            raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
        return f"{_ident(schema)}.{_ident(table)}"
