"""The Spark session of the engine (one per process, `get_session`) and warehouse access: queries, DDL, the Arrow
input and output of the Python steps (`mapInArrow` on the executors). Mixed into SparkEngine.

One SparkSession per process, created before dbt runs; dbt-spark's `method: session` calls
`SparkSession.builder.getOrCreate()` and so reuses it. Master from `CVW_SPARK_MASTER` (default `local[2]`), Hive
catalog (so `create schema` / `create table ... using parquet` persist), the warehouse, the Derby metastore and
`derby.log` under `$CVW_HOME/spark` (never in the working directory), UTC session time zone, 4 shuffle
partitions, no UI, quiet logs. Only one process can hold the Derby metastore: two concurrent runs on the same
`CVW_HOME` fail at start with a message saying so. `close()` keeps the session (dbt and the gate reuse it);
`stop_session()` stops it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvw.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# every database the warehouse writes on Spark (tests drop them between runs; see drop_databases)
DATABASES = (
    "raw", "ingest", "quarantine", "staging", "intermediate", "marts", "audit", "seeds", "clv", "wallet_model",
    "history", "analytics", "analytics_history",
)
HISTORY_DB = "analytics_history"  # published history: one partition per as-of date, behind analytics views
VERSION_DB = re.compile(r"^analytics_\d{14}_[0-9a-f]{6}$")
_SPARK_TYPES = {"VARCHAR": "STRING", "INTEGER": "INT", "TIMESTAMPTZ": "TIMESTAMP", "VARCHAR[]": "ARRAY<STRING>"}
_PANDAS_WARNING = "PySpark does not yet fully support pandas"
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
# `create schema if not exists` (dbt-spark) logs AlreadyExistsException with a stack trace at ERROR
logger.hms.name = org.apache.hadoop.hive.metastore.RetryingHMSHandler
logger.hms.level = off
# a metastore held by another process: get_session() says so in one line instead of 9,000 lines of traces
logger.datanucleus.name = DataNucleus
logger.datanucleus.level = off
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""




def log4j(root_level: str = "error", extra: str = "") -> str:
    """log4j2.properties of a Spark JVM: quiet metastore and Parquet loggers (scripts/spark_cluster.sh writes the
    cluster's with root level warn and the Thrift server at info)."""
    return _LOG4J.replace("rootLogger.level = error", f"rootLogger.level = {root_level}", 1) + extra


class SparkSessionError(RuntimeError):
    """The process already runs a Spark session for another CVW_HOME, or the metastore is held elsewhere."""


# --- session -------------------------------------------------------------------------------------------


def spark_dir(settings: Settings) -> Path:
    return settings.home / "spark"


def session_config(settings: Settings) -> dict[str, str]:
    """Spark configuration for this CVW_HOME (static settings: they only apply when the JVM starts)."""
    base = spark_dir(settings)
    java = (
        f"-Dderby.system.home={base} -Dderby.stream.error.file={base / 'derby.log'} "
        f"-Dlog4j2.configurationFile=file:{base / 'log4j2.properties'}"
    )
    return {
        "spark.master": os.environ.get("CVW_SPARK_MASTER", "local[2]"),
        "spark.app.name": "cvw",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(base / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={base / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": java,
        "spark.driver.memory": os.environ.get("CVW_SPARK_DRIVER_MEMORY", "2g"),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": os.environ.get("CVW_SPARK_SHUFFLE_PARTITIONS", "4"),
        "spark.sql.sources.partitionOverwriteMode": "static",
        # the Hive metastore's filter parser rejects partition columns starting with "_" (_ingest_run_id):
        # fetch partition metadata and prune in Spark (a few hundred partitions per table per year)
        "spark.sql.hive.metastorePartitionPruning": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def _quiet_pyspark() -> None:
    warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
    for name in ("py4j", "py4j.clientserver", "pyspark"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # PySpark logs every failed statement with its JVM stack at ERROR, also those the engine expects and handles
    # (a table that does not exist yet); the error that stops a run reaches the caller as an exception
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


def _existing_session() -> SparkSession | None:
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if session is not None and session.sparkContext._jsc is None:  # stopped
        return None
    return session


def get_session(settings: Settings) -> SparkSession:
    """The process's SparkSession for settings.home: reused when it exists, created otherwise."""
    _quiet_pyspark()
    from pyspark.sql import SparkSession

    conf = session_config(settings)
    existing = _existing_session()
    if existing is not None:
        have = existing.conf.get("spark.sql.warehouse.dir", "")
        want = conf["spark.sql.warehouse.dir"]
        if have.removeprefix("file:").rstrip("/") != want.rstrip("/"):
            raise SparkSessionError(
                f"this process already runs a Spark session with warehouse {have}; CVW_HOME={settings.home} "
                f"needs {want}. One Spark session (one JVM, one metastore) per process: run the other "
                "CVW_HOME in its own process, or call cvw.engines.spark.stop_session() first."
            )
        return existing
    base = spark_dir(settings)
    base.mkdir(parents=True, exist_ok=True)
    (base / "log4j2.properties").write_text(log4j())
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv (pyarrow, cvw)
    if conf["spark.master"].startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING)
        spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        spark.sql("show databases").collect()  # opens the metastore now, not in the middle of a run
    except Exception as exc:
        if "derby" in str(exc).lower() or "metastore" in str(exc).lower():
            spark.stop()
            raise SparkSessionError(
                f"the Spark metastore {base / 'metastore_db'} is held by another process (Derby allows one). "
                "Wait for the running job (or stop it); only one run per CVW_HOME at a time."
            ) from exc
        raise
    log.info(
        "spark session %s started in %.1fs (warehouse %s)",
        conf["spark.master"],
        time.monotonic() - started,
        conf["spark.sql.warehouse.dir"],
    )
    return spark


def cluster_conf_dir() -> Path:
    """The conf folder of the running cluster (`CVW_SPARK_CONF_DIR`, written by scripts/spark_cluster.sh)."""
    value = os.environ.get("CVW_SPARK_CONF_DIR", "")
    if not value or not (Path(value) / "spark-defaults.conf").is_file():
        raise SparkSessionError(
            "CVW_TARGET=spark_cluster needs a running cluster and its settings: run "
            "`eval \"$(scripts/spark_cluster.sh start)\"` (or `make spark-cluster` and then "
            "`eval \"$(scripts/spark_cluster.sh env)\"`), which exports CVW_SPARK_CONF_DIR, CVW_SPARK_MASTER, "
            f"CVW_SPARK_HOST and CVW_SPARK_THRIFT_PORT (CVW_SPARK_CONF_DIR is {value or 'not set'})"
        )
    return Path(value)


def get_cluster_session(settings: Settings) -> SparkSession:
    """The process's Spark application on the standalone cluster (`CVW_TARGET=spark_cluster`).

    Its settings are the cluster's `spark-defaults.conf` (master, executors, the shared Hive metastore on
    PostgreSQL, the warehouse folder, UTC), read by the launcher from `SPARK_CONF_DIR`; `CVW_SPARK_MASTER`
    wins over the file's master. The driver runs in this process, the executors on the cluster's workers.
    """
    _quiet_pyspark()
    from pyspark.sql import SparkSession

    conf_dir = cluster_conf_dir()
    master = os.environ.get("CVW_SPARK_MASTER", "")
    existing = _existing_session()
    if existing is not None:
        have = existing.sparkContext.master
        if master and have != master:
            raise SparkSessionError(
                f"this process already runs a Spark session on {have}; CVW_TARGET=spark_cluster needs {master}. "
                "One Spark application per process: call cvw.engines.spark.stop_session() first."
            )
        return existing
    os.environ["SPARK_CONF_DIR"] = str(conf_dir)  # the launcher reads spark-defaults.conf and log4j2 there
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(f"cvw {settings.home.name}")
    if master:
        builder = builder.master(master)
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING)
        spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sql("show databases").collect()  # opens the metastore now, not in the middle of a run
    log.info("spark application on %s started in %.1fs (conf %s)", spark.sparkContext.master,
             time.monotonic() - started, conf_dir)
    return spark


def stop_session() -> None:
    """Stop the process's Spark session (the engine's close() keeps it for dbt and the gate)."""
    session = _existing_session()
    if session is not None:
        session.stop()


def drop_databases(spark: SparkSession) -> None:
    """Drop every database the warehouse writes (raw ... analytics and the analytics_* versions)."""
    names = [r[0] for r in spark.sql("show databases").collect()]
    for name in names:
        if name in DATABASES or VERSION_DB.match(name):
            spark.sql(f"drop database if exists {name} cascade")


# --- SQL helpers ---------------------------------------------------------------------------------------


def _map_arrow(batches, fn):
    """mapInArrow body (module level, so it pickles by reference): apply `fn` to each batch."""
    for batch in batches:
        yield fn(batch)


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type for a contract (DuckDB) type."""
    t = duckdb_type.upper()
    return _SPARK_TYPES.get(t, t)


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ts(value: datetime) -> str:
    return f"timestamp {_lit(value.strftime('%Y-%m-%d %H:%M:%S.%f'))}"


def _collect(df: DataFrame) -> list[tuple]:
    """Rows as tuples; TIMESTAMP values as naive UTC datetimes, as DuckDB returns them (PySpark converts
    them to the Python process's local time zone, whatever the session time zone)."""
    from pyspark.sql.types import TimestampType

    stamps = [i for i, f in enumerate(df.schema.fields) if isinstance(f.dataType, TimestampType)]
    rows = [tuple(r) for r in df.collect()]
    if not stamps:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i in stamps:
            if values[i] is not None:
                values[i] = values[i].astimezone(timezone.utc).replace(tzinfo=None)
        out.append(tuple(values))
    return out


class SparkWarehouse:
    """Reads and writes of the Spark engine."""

    def published_location(self) -> str:
        return f"database analytics of the Spark warehouse {spark_dir(self.settings) / 'warehouse'}"

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        return _collect(self.spark.sql(sql, args=params or None))

    def query_published(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.query(sql, params)

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def published_log(self) -> list[dict]:
        if not self.spark.catalog.tableExists("analytics.publish_log"):
            return []
        df = self.spark.sql("select * from analytics.publish_log order by published_at desc")
        return [dict(zip(df.columns, row, strict=True)) for row in _collect(df)]

    def read_arrow(self, sql: str) -> Any:
        return self.spark.sql(sql).toArrow()

    def write_arrow(self, table: Any, schema: str, name: str) -> None:
        self.spark.sql(f"create database if not exists {schema}")
        self.spark.createDataFrame(table).write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.{name}")

    def map_batches(self, source_sql: str, fn: Any, schema: str, name: str, columns: tuple) -> int:
        """`mapInArrow` runs `fn` on the executors batch by batch (spark.sql.execution.arrow.maxRecordsPerBatch);
        nothing is collected on the driver."""
        ddl = ", ".join(f"{_q(c)} {spark_type(t)}" for c, t in columns)
        self.spark.sql(f"create database if not exists {schema}")
        out = self.spark.sql(source_sql).mapInArrow(functools.partial(_map_arrow, fn=fn), ddl)
        out.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.{name}")
        return int(self.spark.table(f"{schema}.{name}").count())

    def close(self) -> None:
        """Keep the shared session (dbt and the gate reuse it); see stop_session()."""
