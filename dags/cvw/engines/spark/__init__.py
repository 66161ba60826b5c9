"""Spark engine (`CVW_TARGET=spark`): the same pipeline in one in-process Spark session (local[N]).

The parts, as in every engine package: `session` (the process's SparkSession, warehouse access, Arrow in and
out), `ingest` (the reader on the executors, the ingest session, crash recovery), `gate` (the table the gate's
SQL aggregates read), `publish` (a versioned database behind `analytics` views).
"""

from __future__ import annotations

from cvw.engines.base import Engine
from cvw.engines.spark.gate import SparkGate
from cvw.engines.spark.ingest import DIALECT, SparkIngestSteps
from cvw.engines.spark.publish import SparkPublish
from cvw.engines.spark.session import (
    DATABASES,
    HISTORY_DB,
    SparkSessionError,
    SparkWarehouse,
    drop_databases,
    get_session,
    session_config,
    spark_type,
    stop_session,
)
from cvw.settings import Settings

__all__ = ["DATABASES", "HISTORY_DB", "SparkEngine", "SparkSessionError", "drop_databases", "get_session",
           "session_config", "spark_type", "stop_session"]


class SparkEngine(SparkWarehouse, SparkIngestSteps, SparkGate, SparkPublish, Engine):
    name = "spark"
    dialect = DIALECT

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.spark = get_session(settings)
