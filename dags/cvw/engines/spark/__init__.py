"""Spark engines: `CVW_TARGET=spark`, the same pipeline in one in-process Spark session (local[N]), and
`CVW_TARGET=spark_cluster`, a Spark standalone cluster (scripts/spark_cluster.sh): dbt through the Thrift
server, ingest, the Python steps, the gate and the publish as this process's application on the cluster.

The parts, as in every engine package: `session` (the process's SparkSession, warehouse access, Arrow in and
out), `ingest` (the reader on the executors, the ingest session, crash recovery), `gate` (the table the gate's
SQL aggregates read), `publish` (a versioned database behind `analytics` views).
"""

from __future__ import annotations

import functools
import os

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
    get_cluster_session,
    get_session,
    session_config,
    spark_type,
    stop_session,
)
from cvw.settings import Settings

__all__ = ["DATABASES", "HISTORY_DB", "SparkClusterEngine", "SparkEngine", "SparkSessionError", "drop_databases",
           "get_cluster_session", "get_session", "session_config", "spark_type", "stop_session"]


class SparkEngine(SparkWarehouse, SparkIngestSteps, SparkGate, SparkPublish, Engine):
    name = "spark"
    dialect = DIALECT

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.spark = get_session(settings)


class SparkClusterEngine(SparkEngine):
    """`CVW_TARGET=spark_cluster`: the same engine as a Spark application on the standalone cluster.

    The application (driver in this process, executors on the workers) starts on first use, so a step that
    only runs dbt (through the Thrift server) starts none. Each engine works in its own session of it
    (`newSession()`): the Thrift server writes tables behind this application's back, and a new session has
    no cached table listings.
    """

    name = "spark_cluster"

    def __init__(self, settings: Settings):
        Engine.__init__(self, settings)

    @functools.cached_property
    def spark(self):
        return get_cluster_session(self.settings).newSession()

    def published_location(self) -> str:
        host, port = os.environ.get("CVW_SPARK_HOST", "127.0.0.1"), os.environ.get("CVW_SPARK_THRIFT_PORT", "?")
        return f"database analytics on the Spark Thrift server {host}:{port} (shared Hive metastore)"
