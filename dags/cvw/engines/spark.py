"""Spark engine (`CVW_TARGET=spark`): the same pipeline in one in-process Spark session (local[N]).

Session
    One SparkSession per process (`get_session`), created before dbt runs; dbt-spark's `method: session` calls
    `SparkSession.builder.getOrCreate()` and so reuses it. Master from `CVW_SPARK_MASTER` (default
    `local[2]`), Hive catalog (so `create schema` / `create table ... using parquet` persist), the warehouse,
    the Derby metastore and `derby.log` under `$CVW_HOME/spark` (never in the working directory), UTC session
    time zone, 4 shuffle partitions, no UI, quiet logs. Only one process can hold the Derby metastore: two
    concurrent runs on the same `CVW_HOME` fail at start with a message saying so (in Airflow, the one-slot
    pool for warehouse writers already serialises them). `close()` keeps the session (dbt and the gate reuse
    it); `stop_session()` stops it.

Ingest (the template method Engine.ingest: the same reader and type rules as every engine)
    The files of a group are read on the executors: `mapInArrow` over the file list runs cvw.reader there
    (records numbered by their line in the file, Parquet by row) and sends each file's counts back with the
    rows; the type checks of cvw.typecheck run in Spark SQL. Raw tables are Parquet tables `raw.<entity>`
    with the contract types (DECIMAL(18,2), TIMESTAMP in UTC, DOUBLE, INT, BOOLEAN, DATE, STRING) and the
    lineage columns, partitioned by `_ingest_run_id`; `quarantine.rows` and `ingest.schema_drift` are
    partitioned by `ingest_run_id`.

    Spark has no multi-table transaction. The order of writes is: `ingest.runs` `started`; raw rows (and drift
    rows) per file group; the quarantine rows of all groups; LAST the `ingest.file_manifest` rows of all new
    files in one insert (the commit point: a file is loaded iff it has a manifest row); then `ingest.runs`
    `finished`; an ingest that fails removes what it wrote at once. Before loading, every ingest looks for
    partitions of runs whose latest status is `started` (a
    crash) and removes from them the rows of files that have no manifest row for that run (the partition is
    rebuilt from its committed rows, or dropped when nothing in it is committed; see `recover`), then records
    the run as `recovered`; those files are then simply loaded again. A column added for schema drift by a
    crashed run stays (all null).

Gate
    `gx_batch` hands GX a Spark dataframe (`spark.table('marts.<table>')`) through GX's Spark datasource:
    validation runs in Spark, nothing is collected to the driver. Boolean columns are passed as 0/1 (Spark has
    no avg(boolean)); the datasource does not persist (a cached dataframe outlives a dbt rebuild).

Publish (write-audit-publish without multi-table transactions)
    Every publish writes a complete new version into a fresh database `analytics_<UTC timestamp>_<hex>`:
    copies of `marts.<table>` (or, for an as-of date older than the current publish, copies of the current
    tables, so those are not replaced) plus `publish_log` carried over with the `is_current` flags moved as on
    DuckDB, plus the new row (with the row counts this run built and gated). Nothing BI reads changes until
    then; a failure drops the new database. Then the `analytics` database, which only holds VIEWS
    `analytics.<table>` over the current version, is repointed with `CREATE OR REPLACE VIEW`, tables first and
    `publish_log` last. Finally versioned databases other than the new one and the previous one (readers in
    flight) are dropped.

    What this guarantees: each view swap is one atomic metastore update, so every single query sees one
    complete version of a table, never a half-written one; a failed gate or a crash before the swap leaves the
    published views untouched (a crash in the middle of the swap leaves some views on the new, gated version
    and the others on the previous one until the next publish repoints them all). What it does not: the views
    are swapped one after another within a few milliseconds, so a reader issuing several queries across that
    moment may see two versions (e.g. the new `fct_orders` with the old `dim_customers`); DuckDB's file swap
    has no such window. With Delta Lake or Iceberg one would publish through a single-table pointer (one
    catalog entry) or RESTORE/time travel. Readers: with the embedded Derby metastore only the pipeline's own
    process can open the catalog, so BI tools need a shared metastore (Hive metastore service / Unity / Glue)
    and a SQL endpoint (Spark Thrift server) over the same warehouse; read-only access then comes from that
    serving layer's grants on `analytics`, not from this module.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvw import failpoints
from cvw.engines.base import Engine, IngestSession
from cvw.settings import Settings
from cvw.typecheck import Dialect, checked_select

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# every database the warehouse writes on Spark (tests drop them between runs; see drop_databases)
DATABASES = (
    "raw", "ingest", "quarantine", "staging", "intermediate", "marts", "audit", "seeds", "clv", "history",
    "analytics", "analytics_history",
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
    (base / "log4j2.properties").write_text(_LOG4J)
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


# --- ingest: reading (on the executors) ----------------------------------------------------------------


class SparkDialect(Dialect):
    """cvw.typecheck on Spark: backtick quoting, backslash-escaped literals, `rlike`, `try_cast`."""

    name = "spark"
    text_type = "string"

    def quote(self, name: str) -> str:
        return _q(name)

    def lit(self, text: str) -> str:
        return _lit(text)

    def matches(self, expr: str, pattern: str) -> str:
        return f"({expr} rlike {self.lit(pattern)})"

    def cast(self, expr: str, contract_type: str) -> str:
        return f"try_cast({expr} as {spark_type(contract_type)})"

    def finite(self, expr: str) -> str:
        return f"(not isnan({expr}) and abs({expr}) < cast('Infinity' as double))"

    def type(self, contract_type: str) -> str:
        return spark_type(contract_type)


DIALECT = SparkDialect()
STATS_KIND = "_file_stats"  # a row of the read that carries a file's counts, not a record


def read_landing_files(batches):
    """mapInArrow function (runs on the executors): rows (rel, path, columns as JSON) of landing files -> the
    cvw.reader batches of those files, plus one row per file with its counts (`_line` -1, `_error_kind`
    STATS_KIND, `_error_reason` "lines blank records")."""
    import json as json_

    import pyarrow as pa

    from cvw.reader import batch_schema, file_batches

    for listing in batches:
        for rel, path, columns in zip(*(listing.column(c).to_pylist() for c in ("rel", "path", "columns")),
                                      strict=True):
            columns = json_.loads(columns)
            schema = batch_schema(len(columns))
            out = pa.schema([f.with_type(pa.string()) if f.type == pa.large_string() else f for f in schema])
            lines = blank = records = 0
            for batch, stats in file_batches(Path(path), rel, columns):
                lines, blank, records = lines + stats.lines, blank + stats.blank_lines, records + stats.records
                if batch.num_rows:
                    yield batch.cast(out)
            counts = {name: [None] for name in out.names}
            counts.update(_file=[rel], _line=[-1], _error_kind=[STATS_KIND],
                          _error_reason=[f"{lines} {blank} {records}"])
            yield pa.RecordBatch.from_pydict(counts, schema=out)


# --- ingest: writing -----------------------------------------------------------------------------------


def ensure_schema(spark: SparkSession) -> None:
    """Create the raw, quarantine and ingest tables if missing (cvw.landing's names and columns, Spark types),
    and add the columns a newer release added to them."""
    from cvw.contract import ENTITIES
    from cvw.landing import ADDED_COLUMNS, BOOKKEEPING_TABLES, LINEAGE_COLUMNS

    for schema in ("raw", "quarantine", "ingest"):
        if not spark.catalog.databaseExists(schema):
            spark.sql(f"create database if not exists {schema}")
    existing = {
        f"{r.namespace}.{r.tableName}" for db in ("raw", "quarantine", "ingest")
        for r in spark.sql(f"show tables in {db}").collect()
    }

    def create(table: str, columns: dict[str, str], partition: str | None) -> None:
        if table in existing:
            return
        ddl = ", ".join(f"{_q(name)} {spark_type(typ)}" for name, typ in columns.items())
        by = f" partitioned by ({partition})" if partition else ""
        spark.sql(f"create table if not exists {table} ({ddl}) using parquet{by}")

    for entity in ENTITIES.values():
        create(entity.raw_table, {**entity.columns, **LINEAGE_COLUMNS}, "_ingest_run_id")
    create("ingest.file_manifest", BOOKKEEPING_TABLES["ingest.file_manifest"], None)
    create("quarantine.rows", BOOKKEEPING_TABLES["quarantine.rows"], "ingest_run_id")
    create("ingest.schema_drift", BOOKKEEPING_TABLES["ingest.schema_drift"], "ingest_run_id")
    create("ingest.runs", {"ingest_run_id": "VARCHAR", "status": "VARCHAR", "at": "TIMESTAMP"}, None)
    for table, added in ADDED_COLUMNS.items():
        have = {c.lower() for c in spark.table(table).columns}
        missing = [c for c in added if c not in have]
        if missing:
            cols = ", ".join(f"{c} {spark_type(BOOKKEEPING_TABLES[table][c])}" for c in missing)
            spark.sql(f"alter table {table} add columns ({cols})")


def _partitioned_tables() -> list[tuple[str, str, str]]:
    """(table, run column, file column) of every table an ingest writes before the manifest."""
    from cvw.contract import ENTITIES

    return [(e.raw_table, "_ingest_run_id", "_source_file") for e in ENTITIES.values()] + [
        ("quarantine.rows", "ingest_run_id", "source_file"),
        ("ingest.schema_drift", "ingest_run_id", "source_file"),
    ]


def _partition_runs(spark: SparkSession, table: str) -> set[str]:
    from urllib.parse import unquote

    return {unquote(r[0].split("=", 1)[1]) for r in spark.sql(f"show partitions {table}").collect()}


def _refill_partition(spark: SparkSession, keep: str) -> None:
    """Replace a partition by the rows saved in table `keep` (its properties name table, column, run)."""
    props = {r[0]: r[1] for r in spark.sql(f"show tblproperties {keep}").collect()}
    table, run_col, run = props["cvw.table"], props["cvw.run_col"], props["cvw.run"]
    select = ", ".join(_q(c) for c in spark.table(keep).columns)
    spark.sql(f"alter table {table} drop if exists partition ({run_col} = {_lit(run)})")
    spark.sql(f"insert into {table} partition ({run_col} = {_lit(run)}) select {select} from {keep}")
    spark.sql(f"drop table {keep}")


def recover(spark: SparkSession) -> list[str]:
    """Remove rows written by unfinished ingest runs for files that never got their manifest row.

    Every ingest that loads files records `started` in `ingest.runs` before writing and `finished` after
    its manifest rows. A run whose latest status is `started` (or that has none) did not finish: in its
    partitions, rows whose file has no manifest row *of that run* are removed, then the run is recorded as
    `recovered`. Rows committed by an earlier attempt with the same run id (an Airflow task cleared and
    run again) stay.
    Returns the recovered run ids. A partition that also holds committed rows is rebuilt from a saved
    copy of those rows (`ingest.cvw_recover_*`, marked complete before the partition is dropped); a crash
    during the rebuild is finished by the next call from that copy, so committed rows are never lost.
    """
    for t in spark.sql("show tables in ingest like 'cvw_recover_*'").collect():
        keep = f"ingest.{t.tableName}"
        props = {r[0]: r[1] for r in spark.sql(f"show tblproperties {keep}").collect()}
        if props.get("cvw.complete") == "true":
            _refill_partition(spark, keep)  # the rebuild of an earlier recovery was interrupted
        else:
            spark.sql(f"drop table {keep}")  # interrupted while saving: the partition is untouched
    latest = spark.sql(
        "select ingest_run_id, max_by(status, at) from ingest.runs group by ingest_run_id"
    ).collect()
    done = {r[0] for r in latest if r[1] != "started"}
    suspects: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for table, run_col, file_col in _partitioned_tables():
        for run in _partition_runs(spark, table) - done:
            suspects[run].append((table, run_col, file_col))
    for run, tables in sorted(suspects.items()):
        committed = f"(select file_name from ingest.file_manifest where ingest_run_id = {_lit(run)})"
        for table, run_col, file_col in tables:
            where = f"{run_col} = {_lit(run)}"
            orphans = spark.sql(
                f"select count(*) from {table} where {where} and {file_col} not in {committed}"
            ).collect()[0][0]
            if not orphans:
                continue
            keep = spark.sql(
                f"select count(*) from {table} where {where} and {file_col} in {committed}"
            ).collect()[0][0]
            log.warning(
                "ingest recovery: removing %d row(s) of run %s from %s (files without a manifest row)",
                orphans,
                run,
                table,
            )
            if not keep:
                spark.sql(f"alter table {table} drop if exists partition ({run_col} = {_lit(run)})")
                continue
            select = ", ".join(_q(c) for c in spark.table(table).columns if c != run_col)
            saved = f"ingest.cvw_recover_{uuid.uuid4().hex[:8]}"
            props = f"'cvw.table' = {_lit(table)}, 'cvw.run_col' = {_lit(run_col)}, 'cvw.run' = {_lit(run)}"
            spark.sql(
                f"create table {saved} using parquet tblproperties ({props}) as select {select} from {table} "
                f"where {where} and {file_col} in {committed}"
            )
            spark.sql(f"alter table {saved} set tblproperties ('cvw.complete' = 'true')")
            _refill_partition(spark, saved)
        spark.sql(f"insert into ingest.runs values ({_lit(run)}, 'recovered', current_timestamp())")
    return sorted(suspects)


class SparkIngest(IngestSession):
    """An ingest without transactions: raw, quarantine and drift rows go into partitions of this run id, the
    manifest rows LAST in one insert (the commit point: a file is loaded iff it has a manifest row), then
    `ingest.runs` 'finished'. Leaving without commit removes what this run wrote (`recover`)."""

    def __init__(self, spark: SparkSession, run_id: str):
        self.spark = spark
        self.run_id = run_id
        self.started = False
        self.committed = False
        self.warnings: list[str] = []

    def known_files(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.spark.sql("select file_name, sha256 from ingest.file_manifest").collect()}

    def _start(self) -> None:
        if not self.started:
            self.spark.sql(f"insert into ingest.runs values ({_lit(self.run_id)}, 'started', current_timestamp())")
            self.started = True

    def add_columns(self, entity: str, columns: list[str]) -> None:
        have = {c.lower() for c in self.spark.table(f"raw.{entity}").columns}
        missing = [c for c in columns if c not in have]
        if missing:
            self.spark.sql(f"alter table raw.{entity} add columns ({', '.join(f'{_q(c)} string' for c in missing)})")

    def load(self, group, fields, loaded_at, run_id):
        from pyspark import StorageLevel

        from cvw.landing import LINEAGE_COLUMNS
        from cvw.reader import FileStats, batch_schema

        self._start()
        spark, entity = self.spark, group[0].entity
        listing = spark.createDataFrame(
            [(f.name, str(f.path), json.dumps(f.columns)) for f in group], "rel string, path string, columns string"
        ).repartition(max(1, min(len(group), spark.sparkContext.defaultParallelism * 2)))
        ddl = ", ".join(f"{_q(f.name)} {'bigint' if f.name == '_line' else 'string'}"
                        for f in batch_schema(len(fields)))
        read = listing.mapInArrow(read_landing_files, ddl).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            stats = {}
            file_counts = read.where(f"_error_kind = {_lit(STATS_KIND)}").select("_file", "_error_reason")
            for rel, counts in file_counts.collect():
                lines, blank, records = (int(v) for v in counts.split())
                stats[rel] = FileStats(lines, blank, records)
            stage = f"cvw_stage_{uuid.uuid4().hex[:8]}"
            read.where("_line >= 0").createOrReplaceTempView(stage)
            checked = spark.sql(checked_select(DIALECT, stage, fields)).persist(StorageLevel.MEMORY_AND_DISK)
            view = f"cvw_checked_{uuid.uuid4().hex[:8]}"
            checked.createOrReplaceTempView(view)
            stored = {f.stored for f in fields}
            select = []
            for c in spark.table(entity.raw_table).columns:
                if c == "_ingest_run_id":
                    continue
                if c in stored:
                    select.append(_q(c))
                elif c == "_source_file":
                    select.append("_file")
                elif c == "_line_number":
                    select.append("_line")
                elif c == "_loaded_at":
                    select.append(_ts(loaded_at))
                else:
                    typ = spark_type(entity.columns.get(c) or LINEAGE_COLUMNS.get(c) or "VARCHAR")
                    select.append(f"cast(null as {typ})")
            run = _lit(run_id)
            spark.sql(
                f"insert into {entity.raw_table} partition (_ingest_run_id = {run}) "
                f"select {', '.join(select)} from {view} where _kind is null"
            )
            spark.sql(
                f"insert into quarantine.rows partition (ingest_run_id = {run}) "
                f"select {_lit(entity.name)}, _file, _line, _column, _kind, _reason, _raw_line, {_ts(loaded_at)} "
                f"from {view} where _kind is not null"
            )
            per_file = {
                r[0]: (int(r[1]), int(r[2])) for r in spark.sql(
                    f"select _file, count(*) filter (where _kind is null), count(*) filter (where _kind is not null) "
                    f"from {view} group by _file"
                ).collect()
            }
            checked.unpersist()
            for name in (stage, view):
                spark.catalog.dropTempView(name)
        finally:
            read.unpersist()
        return {f.name: (*per_file.get(f.name, (0, 0)), stats.get(f.name, FileStats())) for f in group}

    def commit(self, drift: list[dict], manifest: list[dict]) -> None:
        from cvw.landing import DRIFT_COLUMNS, MANIFEST_COLUMNS

        spark, run = self.spark, _lit(self.run_id)
        if drift:
            names = [c for c in DRIFT_COLUMNS if c != "ingest_run_id"]
            frame = spark.createDataFrame([[r[c] for c in names] for r in drift],
                                          ", ".join(f"{c} {spark_type(DRIFT_COLUMNS[c])}" for c in names))
            view = f"cvw_drift_{uuid.uuid4().hex[:8]}"
            frame.createOrReplaceTempView(view)
            table_cols = [c for c in spark.table("ingest.schema_drift").columns if c != "ingest_run_id"]
            spark.sql(f"insert into ingest.schema_drift partition (ingest_run_id = {run}) "
                      f"select {', '.join(table_cols)} from {view}")
            spark.catalog.dropTempView(view)
        if manifest:
            self._start()
            schema = ", ".join(f"{c} {spark_type(t)}" for c, t in MANIFEST_COLUMNS.items())
            frame = spark.createDataFrame([[r[c] for c in MANIFEST_COLUMNS] for r in manifest], schema)
            frame.select(*spark.table("ingest.file_manifest").columns).write.insertInto("ingest.file_manifest")
            failpoints.hit("ingest.before_commit")
            spark.sql(f"insert into ingest.runs values ({run}, 'finished', current_timestamp())")
        self.committed = True


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


# --- the engine ----------------------------------------------------------------------------------------

PUBLISH_LOG_DDL = """
    create table {name} (
        as_of_date date, run_id string, published_at timestamp, is_current boolean, gate_result string,
        gate_checks int, gate_failed int, total_rows bigint, row_counts string, run_summary string
    ) using parquet
"""


class SparkEngine(Engine):
    name = "spark"
    dialect = DIALECT

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.spark = get_session(settings)

    @contextlib.contextmanager
    def ingest_session(self, run_id: str) -> Iterator[SparkIngest]:
        """Recover what crashed runs left, then one ingest; a failure removes what this run wrote."""
        ensure_schema(self.spark)
        recovered = recover(self.spark)
        session = SparkIngest(self.spark, run_id)
        if recovered:
            session.warnings.append(f"removed uncommitted rows of unfinished ingest run(s) {', '.join(recovered)}")
        try:
            yield session
        finally:
            for name in [t.name for t in self.spark.catalog.listTables()
                         if t.isTemporary and t.name.startswith("cvw_")]:
                self.spark.catalog.dropTempView(name)
            if session.started and not session.committed:
                recover(self.spark)

    def gx_batch(
        self, context: Any, schema: str, table: str, columns: list[str] | None = None
    ) -> tuple[Any, dict, int]:
        """GX's Spark datasource on a dataframe asset: `spark.table(schema.table)`, validated in Spark.

        Not persisted (see below), so every expectation reads the table: fine for a gate.
        Spark has no avg(boolean), so boolean columns are handed over as 0/1 integers (what pandas' mean
        does on DuckDB's path, and what the PostgreSQL engine does); every other column is unchanged.
        """
        from pyspark.sql import functions as F
        from pyspark.sql.types import BooleanType

        if not self.spark.catalog.tableExists(f"{schema}.{table}"):
            from cvw.db import NotReadyError

            raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
        self.spark.catalog.refreshTable(f"{schema}.{table}")
        df = self.spark.table(f"{schema}.{table}")
        df = df.select(
            *[
                F.col(_q(f.name)).cast("int").alias(f.name)
                if isinstance(f.dataType, BooleanType)
                else F.col(_q(f.name))
                for f in df.schema.fields
            ]
        )
        # persist=False: GX would cache the dataframe, and a later gate in this process (same table path after
        # dbt rebuilt it) would validate the cached rows of the earlier build instead of the new ones
        source = context.data_sources.add_or_update_spark("audit_marts_spark", persist=False)
        names = [a.name for a in source.assets]
        asset = source.get_asset(table) if table in names else source.add_dataframe_asset(table)
        batches = [b.name for b in asset.batch_definitions]
        batch = (
            asset.get_batch_definition("whole")
            if "whole" in batches
            else (asset.add_batch_definition_whole_dataframe("whole"))
        )
        return batch, {"dataframe": df}, df.count()

    # --- publish ---------------------------------------------------------------------------------------

    def current_version(self) -> str | None:
        """The versioned database the `analytics` views point to (None before the first publish)."""
        if not self.spark.catalog.tableExists("analytics.publish_log"):
            return None
        for row in self.spark.sql("describe table extended analytics.publish_log").collect():
            if row[0] == "View Text":
                m = re.search(r"analytics_\d{14}_[0-9a-f]{6}", row[1] or "")
                return m.group(0) if m else None
        return None

    def publish(
        self, as_of: date, run_id: str, tables: tuple[str, ...], gate_checks: int, run_summary: dict | None
    ):
        """Write a new versioned database, repoint the `analytics` views; see the module docstring."""
        from cvw.publish import HISTORY_TABLES, PublishResult

        started = time.monotonic()
        spark = self.spark
        current_as_of, _ = self.published_state()
        replace_current = current_as_of is None or as_of >= current_as_of
        previous = self.current_version()
        source = "marts" if replace_current else previous
        published_at = datetime.now(timezone.utc).replace(tzinfo=None)
        version = f"analytics_{published_at:%Y%m%d%H%M%S}_{uuid.uuid4().hex[:6]}"
        spark.sql(f"create database {version}")
        try:
            for table in tables:
                spark.sql(f"create table {version}.{table} using parquet as select * from {source}.{table}")
            # what this run built and gated (for an older date: not what stays current), as on DuckDB
            counts = " union all ".join(f"select {_lit(t)}, count(*) from marts.{t}" for t in tables)
            row_counts = {r[0]: int(r[1]) for r in spark.sql(counts).collect()}
            row_counts = {t: row_counts[t] for t in tables}
            # history: D's partition of the append-only history table (other dates untouched). Spark has no
            # multi-table transaction: it becomes visible a little before the views below are repointed
            for table in HISTORY_TABLES:
                row_counts[table] = self._publish_history(table, as_of)
            spark.sql(PUBLISH_LOG_DDL.format(name=f"{version}.publish_log"))
            if previous:
                spark.sql(
                    f"insert into {version}.publish_log select as_of_date, run_id, published_at, "
                    f"is_current and not {str(replace_current).lower()}, gate_result, gate_checks, "
                    "gate_failed, "
                    f"total_rows, row_counts, run_summary from {previous}.publish_log"
                )
            new_row = [
                (
                    as_of,
                    run_id,
                    published_at,
                    replace_current,
                    "passed",
                    gate_checks,
                    0,
                    sum(row_counts.values()),
                    json.dumps(row_counts, sort_keys=True),
                    json.dumps(run_summary or {}, sort_keys=True, default=str),
                )
            ]
            spark.createDataFrame(new_row, spark.table(f"{version}.publish_log").schema).write.insertInto(
                f"{version}.publish_log"
            )
        except BaseException:
            spark.sql(f"drop database if exists {version} cascade")
            raise
        # the swap: one atomic metastore update per view, tables first, the log last
        if not spark.catalog.databaseExists("analytics"):
            spark.sql("create database if not exists analytics")
        for table in HISTORY_TABLES:
            spark.sql(f"create or replace view analytics.{table} as select * from {HISTORY_DB}.{table}")
        for table in (*tables, "publish_log"):
            spark.sql(f"create or replace view analytics.{table} as select * from {version}.{table}")
        keep = {version, previous}
        for row in spark.sql("show databases").collect():
            if VERSION_DB.match(row[0]) and row[0] not in keep:
                spark.sql(f"drop database if exists {row[0]} cascade")
        result = PublishResult(
            as_of=as_of,
            run_id=run_id,
            replaced_current=replace_current,
            path=f"analytics -> {version}",
            row_counts=row_counts,
            seconds=time.monotonic() - started,
        )
        log.info(result.summary())
        return result

    def _publish_history(self, table: str, as_of: date) -> int:
        """Overwrite D's partition of `analytics_history.<table>` from `history.<table>`; returns its rows."""
        spark = self.spark
        source = f"select * from history.{table} where as_of_date = date {_lit(as_of.isoformat())}"
        spark.sql(f"create database if not exists {HISTORY_DB}")
        if not spark.catalog.tableExists(f"{HISTORY_DB}.{table}"):
            spark.sql(
                f"create table {HISTORY_DB}.{table} using parquet partitioned by (as_of_date) as {source}"
            )
        else:
            key = "spark.sql.sources.partitionOverwriteMode"
            mode = spark.conf.get(key)
            spark.conf.set(key, "dynamic")  # replace D's partition only; then back to the session's mode
            try:
                spark.sql(f"insert overwrite table {HISTORY_DB}.{table} partition (as_of_date) {source}")
            finally:
                spark.conf.set(key, mode)
        return int(spark.sql(f"select count(*) from ({source})").collect()[0][0])

    # --- Python steps (CLV) -------------------------------------------------------------------------

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

    def published_log(self) -> list[dict]:
        if not self.spark.catalog.tableExists("analytics.publish_log"):
            return []
        df = self.spark.sql("select * from analytics.publish_log order by published_at desc")
        return [dict(zip(df.columns, row, strict=True)) for row in _collect(df)]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        return _collect(self.spark.sql(sql, args=params or None))

    def query_published(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.query(sql, params)

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def published_history_source(self) -> str | None:
        table = f"{HISTORY_DB}.customer_segments_history"
        return table if self.spark.catalog.tableExists(table) else None

    def close(self) -> None:
        """Keep the shared session (dbt and the gate reuse it); see stop_session()."""
