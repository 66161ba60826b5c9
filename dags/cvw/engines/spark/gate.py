"""Spark's part of the gate: the audit table the gate's SQL aggregates read (cvw.gate.aggregate), run by
Spark SQL on the executors; only the aggregates (and a few failing rows) reach the driver."""

from __future__ import annotations

from cvw.db import NotReadyError
from cvw.engines.spark.session import _q


class SparkGate:
    """The gate hook of the Spark engine (mixed into SparkEngine)."""

    def gate_relation(self, schema: str, table: str) -> str:
        if not self.spark.catalog.tableExists(f"{schema}.{table}"):
            raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
        # dbt rebuilt the table in this process: read its new files, not the listing Spark cached before
        self.spark.catalog.refreshTable(f"{schema}.{table}")
        return f"{_q(schema)}.{_q(table)}"
