"""Spark's part of the gate.

Gate
    `gx_batch` hands GX a Spark dataframe (`spark.table('marts.<table>')`) through GX's Spark datasource:
    validation runs in Spark, nothing is collected to the driver. Boolean columns are passed as 0/1 (Spark has
    no avg(boolean)); the datasource does not persist (a cached dataframe outlives a dbt rebuild).
"""

from __future__ import annotations

from typing import Any

from cvw.engines.base import GxData
from cvw.engines.spark.session import _q


class SparkGate:
    """The gate hook of the Spark engine (mixed into SparkEngine)."""

    def gx_data(self, context: Any, schema: str, table: str, columns: list[str] | None) -> GxData:
        """GX's Spark datasource on a dataframe asset: `spark.table(schema.table)`, validated in Spark.

        Not persisted (see below), so every expectation reads the table: fine for a gate. Spark has no
        avg(boolean), so boolean columns are handed over as 0/1 integers (as on every engine); every other
        column is unchanged.
        """
        from pyspark.sql import functions as F
        from pyspark.sql.types import BooleanType

        from cvw.db import NotReadyError

        if not self.spark.catalog.tableExists(f"{schema}.{table}"):
            raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
        self.spark.catalog.refreshTable(f"{schema}.{table}")
        df = self.spark.table(f"{schema}.{table}")
        df = df.select(*[
            F.col(_q(f.name)).cast("int").alias(f.name) if isinstance(f.dataType, BooleanType) else F.col(_q(f.name))
            for f in df.schema.fields
        ])
        # persist=False: GX would cache the dataframe, and a later gate in this process (same table path after
        # dbt rebuilt it) would validate the cached rows of the earlier build instead of the new ones
        return GxData(
            source=context.data_sources.add_or_update_spark("audit_marts_spark", persist=False),
            new_asset=lambda source: source.add_dataframe_asset(table),
            batch_parameters={"dataframe": df},
            rows=df.count(),
        )
