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

Ingest (same rules, same tables and columns as the DuckDB engine; see cvw.ingest)
    `discover()` / `plan()` do the file checks (manifest idempotency, changed file, missing column). CSV:
    Python workers (mapInArrow over the file list) split each file into records and number them by file line
    (header = 1; a record whose quotes are open continues on the next line and keeps its first line number;
    blank lines are skipped); bytes that are not UTF-8 make the record `bad_encoding` (its raw_line shows them
    as U+FFFD). Spark's own CSV parser (`from_csv`, PERMISSIVE mode with `columnNameOfCorruptRecord`, all
    columns read as strings) splits the fields; a row with the wrong number of fields is `wrong_column_count`;
    contract types are then enforced with `try_cast`, and the first column that does not convert makes the row
    `bad_type` (naming the column). Parquet: Spark's reader with `_metadata.row_index` (line = row index + 2,
    as on DuckDB) and the same checked casts. Raw tables are Parquet tables `raw.<entity>` with the contract
    types (DECIMAL(18,2), TIMESTAMP in UTC, DOUBLE, INT, BOOLEAN, DATE, STRING) and the lineage columns,
    partitioned by `_ingest_run_id`; `quarantine.rows` and `ingest.schema_drift` are partitioned by
    `ingest_run_id`.

    Spark has no multi-table transaction. The order of writes is: `ingest.runs` `started`; raw rows (and drift
    rows) per file group; the quarantine rows of all groups; LAST the `ingest.file_manifest` rows of all new
    files in one insert (the commit point: a file is loaded iff it has a manifest row); then `ingest.runs`
    `finished`. Before loading, every ingest looks for partitions of runs whose latest status is `started` (a
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
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvw.engines.base import Engine
from cvw.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from cvw.ingest import IngestResult, LandingFile

log = logging.getLogger(__name__)

# every database the warehouse writes on Spark (tests drop them between runs; see drop_databases)
DATABASES = (
    "raw", "ingest", "quarantine", "staging", "intermediate", "marts", "audit", "seeds", "clv", "history",
    "analytics", "analytics_history",
)
HISTORY_DB = "analytics_history"  # published history: one partition per as-of date, behind analytics views
VERSION_DB = re.compile(r"^analytics_\d{14}_[0-9a-f]{6}$")
CORRUPT = "_cvw_corrupt"
_SPARK_TYPES = {"VARCHAR": "STRING", "INTEGER": "INT", "TIMESTAMPTZ": "TIMESTAMP"}
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


# --- ingest: reading -----------------------------------------------------------------------------------


def _inside_quotes(line: bytes, in_quotes: bool) -> bool:
    """Whether a CSV record is still inside a quoted field after this physical line (RFC 4180: a field
    is quoted when it starts with a quote, `""` inside it is a quote; a quote elsewhere is a character)."""
    if b'"' not in line:
        return in_quotes
    field_start, i, n = not in_quotes, 0, len(line)
    while i < n:
        c = line[i]
        if in_quotes:
            if c == 0x22:
                if i + 1 < n and line[i + 1] == 0x22:
                    i += 2
                    continue
                in_quotes = False
        elif c == 0x22 and field_start:
            in_quotes = True
        field_start = not in_quotes and c == 0x2C
        i += 1
    return in_quotes


def _records(fh):
    """(line number, bytes) of each CSV record after the header, in file order.

    A record with an open quoted field continues on the next line (a line break inside quotes) and keeps
    the number of its first line. Blank lines are skipped. A quote that is never closed takes the rest of
    the file into one (quarantined) record.
    """
    buf, start, in_quotes = None, 0, False
    for number, raw in enumerate(fh, start=1):
        if number == 1:
            continue
        if buf is None:
            buf, start = raw, number
        else:
            buf += raw
        in_quotes = _inside_quotes(raw, in_quotes)
        if in_quotes:
            continue
        record, buf = buf.rstrip(b"\r\n"), None
        if record.strip():
            yield start, record
    if buf is not None and buf.strip():
        yield start, buf.rstrip(b"\r\n")


def read_csv_records(batches):
    """mapInArrow function: rows (rel, path) of landing files -> one row per CSV record with its line."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("_file", pa.string()),
            ("_line", pa.int64()),
            ("_record", pa.string()),
            ("_bad_encoding", pa.bool_()),
        ]
    )

    def flush(out):
        return pa.RecordBatch.from_pydict(out, schema=schema)

    for batch in batches:
        for rel, path in zip(batch.column("rel").to_pylist(), batch.column("path").to_pylist(), strict=True):
            out = {"_file": [], "_line": [], "_record": [], "_bad_encoding": []}
            with open(path, "rb") as fh:
                for line, record in _records(fh):
                    try:
                        text, bad = record.decode("utf-8"), False
                    except UnicodeDecodeError:
                        text, bad = record.decode("utf-8", errors="replace"), True
                    out["_file"].append(rel)
                    out["_line"].append(line)
                    out["_record"].append(text)
                    out["_bad_encoding"].append(bad)
                    if len(out["_line"]) >= 50_000:
                        yield flush(out)
                        out = {k: [] for k in out}
            if out["_line"]:
                yield flush(out)


def _typed_columns(entity, columns: list[str]) -> dict[str, str]:
    """File column -> Spark type (contract type, STRING for extra columns)."""
    return {c: spark_type(entity.columns.get(c, "VARCHAR")) for c in columns}


def _bad_value(col: str, typ: str) -> str:
    return f"({_q(col)} is not null and try_cast({_q(col)} as {typ}) is null)"


def _classify_sql(view: str, entity, columns: list[str], is_csv: bool) -> str:
    """SQL over `view` (_file, _line, _record, _bad_encoding, [corrupt], file columns) adding the
    quarantine kind, column and reason (null for good rows) and the columns cast to their types."""
    types = _typed_columns(entity, columns)
    checked = [(c, t) for c, t in types.items() if t != "STRING"]
    kind, col, reason = [], [], []
    if is_csv:
        fffd = [f"when {_q(c)} like '%\ufffd%' then {_lit(c)}" for c in columns]
        kind.append("when _bad_encoding then 'bad_encoding'")
        col.append(
            "when _bad_encoding then case " + " ".join(fffd) + " end"
            if fffd
            else "when _bad_encoding then null"
        )
        reason.append(
            "when _bad_encoding then 'Invalid UTF-8 byte sequence (shown as U+FFFD in raw_line): "
            "the file is not UTF-8 encoded'"
        )
        # fields outside quotes = separators outside quotes + 1
        unquoted = 'regexp_replace(_record, \'"([^"]|"")*"\', \'\')'
        found = f"length({unquoted}) - length(replace({unquoted}, ',', '')) + 1"
        kind.append(f"when {CORRUPT} is not null then 'wrong_column_count'")
        col.append(f"when {CORRUPT} is not null then null")
        reason.append(
            f"when {CORRUPT} is not null then concat('Expected Number of Columns: {len(columns)} Found: ', "
            f"cast({found} as string))"
        )
    for c, t in checked:
        kind.append(f"when {_bad_value(c, t)} then 'bad_type'")
        col.append(f"when {_bad_value(c, t)} then {_lit(c)}")
        reason.append(
            f'when {_bad_value(c, t)} then concat(\'Error when converting column "{c}". Could not convert '
            f"string \"', cast({_q(c)} as string), '\" to \\'{t}\\'')"
        )

    def case(parts):
        return ("case " + " ".join(parts) + " end") if parts else "cast(null as string)"

    values = ", ".join(
        f"try_cast({_q(c)} as {t}) as {_q(c)}" if t != "STRING" else f"cast({_q(c)} as string) as {_q(c)}"
        for c, t in types.items()
    )
    record = "_record" if is_csv else "cast(null as string)"
    return (
        f"select _file, _line, {record} as _record, {case(kind)} as _kind, {case(col)} as _column, "
        f"{case(reason)} as _reason, {values} from {view}"
    )


def _csv_lines(spark: SparkSession, files: list[LandingFile]) -> DataFrame:
    """Every record of every CSV file, numbered by file line (one Python pass, kept for the groups)."""
    listing = spark.sparkContext.parallelize(
        [(f.name, str(f.path)) for f in files],
        max(1, min(len(files), spark.sparkContext.defaultParallelism * 2)),
    )
    paths = spark.createDataFrame(listing, "rel string, path string")
    return paths.mapInArrow(
        read_csv_records, "_file string, _line bigint, _record string, _bad_encoding boolean"
    )


def _scan_csv(spark: SparkSession, files: list[LandingFile], lines: DataFrame) -> DataFrame:
    """Spark's CSV parser over the group's records (all strings + the corrupt-record column), classified."""
    from pyspark.sql import functions as F

    columns = files[0].columns
    schema = ", ".join(f"{_q(c)} STRING" for c in columns) + f", {CORRUPT} STRING"
    options = {
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": CORRUPT,
        "sep": ",",
        "quote": '"',
        "escape": '"',
    }
    mine = lines.where(F.col("_file").isin([f.name for f in files]))
    parsed = mine.select(
        "_file", "_line", "_record", "_bad_encoding", F.from_csv("_record", schema, options).alias("_p")
    ).select("_file", "_line", "_record", "_bad_encoding", "_p.*")
    view = f"cvw_scan_{uuid.uuid4().hex[:8]}"
    parsed.createOrReplaceTempView(view)
    return spark.sql(_classify_sql(view, files[0].entity, columns, is_csv=True))


def _scan_parquet(spark: SparkSession, files: list[LandingFile]) -> DataFrame:
    """One file at a time (files of a group share column names, not necessarily column types)."""
    from pyspark.sql import functions as F

    columns = files[0].columns
    frames = []
    for f in files:
        df = spark.read.parquet(str(f.path))
        by_lower = {name.lower(): name for name in df.columns}
        src = df.select(
            F.lit(f.name).alias("_file"),
            (F.col("_metadata.row_index") + 2).alias("_line"),
            *[F.col(_q(by_lower[c])).alias(c) for c in columns],
        )
        view = f"cvw_pq_{uuid.uuid4().hex[:8]}"
        src.createOrReplaceTempView(view)
        frames.append(spark.sql(_classify_sql(view, f.entity, columns, is_csv=False)))
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


# --- ingest: writing -----------------------------------------------------------------------------------


def ensure_schema(spark: SparkSession) -> None:
    """Create the raw, quarantine and ingest tables if missing (the DuckDB engine's names and types)."""
    from cvw.contract import ENTITIES
    from cvw.ingest import LINEAGE_COLUMNS

    for schema in ("raw", "quarantine", "ingest"):
        if not spark.catalog.databaseExists(schema):
            spark.sql(f"create database if not exists {schema}")
    existing = {
        (r.namespace, r.tableName)
        for db in ("raw", "quarantine", "ingest")
        for r in spark.sql(f"show tables in {db}").collect()
    }
    for entity in ENTITIES.values():
        if ("raw", entity.name) in existing:
            continue
        cols = {**entity.columns, **LINEAGE_COLUMNS}
        ddl = ", ".join(f"{_q(name)} {spark_type(typ)}" for name, typ in cols.items())
        spark.sql(
            f"create table if not exists {entity.raw_table} ({ddl}) using parquet "
            "partitioned by (_ingest_run_id)"
        )
    ddl = {
        ("ingest", "file_manifest"): """
            create table if not exists ingest.file_manifest (
                file_name string, entity string, sha256 string, size_bytes bigint, rows_loaded bigint,
                rows_quarantined bigint, columns array<string>, extra_columns array<string>,
                loaded_at timestamp, ingest_run_id string
            ) using parquet""",
        ("quarantine", "rows"): """
            create table if not exists quarantine.rows (
                entity string, source_file string, line_number bigint, column_name string, error_kind string,
                reason string, raw_line string, loaded_at timestamp, ingest_run_id string
            ) using parquet partitioned by (ingest_run_id)""",
        ("ingest", "schema_drift"): """
            create table if not exists ingest.schema_drift (
                entity string, source_file string, column_name string, kind string, detected_at timestamp,
                ingest_run_id string
            ) using parquet partitioned by (ingest_run_id)""",
        ("ingest", "runs"): """
            create table if not exists ingest.runs (ingest_run_id string, status string, at timestamp)
            using parquet""",
    }
    for key, sql in ddl.items():
        if key not in existing:
            spark.sql(sql)


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


def _load_group(
    spark: SparkSession,
    files: list[LandingFile],
    run_id: str,
    loaded_at: datetime,
    result: IngestResult,
    lines: DataFrame | None,
) -> str:
    """Write a group of new files with one header to raw (drift columns added first); returns the SQL
    selecting its quarantine rows (temp view `cvw_rows_*`, dropped by the caller)."""
    from cvw.ingest import LINEAGE_COLUMNS

    entity = files[0].entity
    columns = files[0].columns
    scanned = _scan_parquet(spark, files) if lines is None else _scan_csv(spark, files, lines)
    view = f"cvw_rows_{uuid.uuid4().hex[:8]}"
    scanned.createOrReplaceTempView(view)
    # schema drift: extra columns are kept as strings
    table_cols = [c.lower() for c in spark.table(entity.raw_table).columns]
    drift = []
    for f in files:
        for col in f.extra_columns:
            if col not in table_cols:
                spark.sql(f"alter table {entity.raw_table} add columns ({_q(col)} string)")
                table_cols = [c.lower() for c in spark.table(entity.raw_table).columns]
            drift.append(
                f"({_lit(entity.name)}, {_lit(f.name)}, {_lit(col)}, 'extra_column', {_ts(loaded_at)})"
            )
            result.schema_drift.append(f"{f.name}: extra column {col}")
    select = []
    for c in table_cols:
        if c == "_ingest_run_id":
            continue
        if c in columns:
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
    if drift:
        spark.sql(
            f"insert into ingest.schema_drift partition (ingest_run_id = {run}) values {', '.join(drift)}"
        )
    result.files_loaded += len(files)
    # the caller writes the quarantine rows of all groups in one insert
    return (
        f"select {_lit(entity.name)}, _file, _line, _column, _kind, _reason, _record, {_ts(loaded_at)} "
        f"from {view} where _kind is not null"
    )


def _row_counts(spark: SparkSession, run_id: str, names: list[str]) -> dict[str, tuple[int, int]]:
    """file -> (rows in raw, rows in quarantine) written by this run for these files (one query)."""
    from cvw.contract import ENTITIES

    if not names:
        return {}
    view = f"cvw_files_{uuid.uuid4().hex[:8]}"
    spark.createDataFrame([(n,) for n in names], "name string").createOrReplaceTempView(view)
    run = _lit(run_id)
    parts = [
        f"select _source_file as f, 1 as good, 0 as bad from {e.raw_table} where _ingest_run_id = {run}"
        for e in ENTITIES.values()
    ] + [f"select source_file as f, 0 as good, 1 as bad from quarantine.rows where ingest_run_id = {run}"]
    rows = spark.sql(
        f"select f, sum(good), sum(bad) from ({' union all '.join(parts)}) u "
        f"where f in (select name from {view}) group by f"
    ).collect()
    spark.catalog.dropTempView(view)
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


_MANIFEST_SCHEMA = (
    "file_name string, entity string, sha256 string, size_bytes bigint, rows_loaded bigint, "
    "rows_quarantined bigint, columns array<string>, extra_columns array<string>, loaded_at timestamp, "
    "ingest_run_id string"
)


def ingest_spark(spark: SparkSession, settings: Settings, run_id: str) -> IngestResult:
    """Load new landing files into Spark tables; same rules as DuckDB (see the module docstring).

    Order of writes: `ingest.runs` 'started'; raw rows (and drift) of every group; the quarantine rows of
    all groups; the manifest rows of all new files in one insert (the commit point); `ingest.runs`
    'finished'. `recover()` first removes whatever an earlier crashed run wrote without reaching its
    manifest insert.
    """
    from pyspark import StorageLevel

    from cvw.ingest import IngestResult, discover, finish, plan

    started = time.monotonic()
    result = IngestResult(run_id=run_id)
    files, warnings_ = discover(settings)
    result.warnings.extend(warnings_)
    ensure_schema(spark)
    recovered = recover(spark)
    if recovered:
        result.warnings.append(f"removed uncommitted rows of unfinished ingest run(s) {', '.join(recovered)}")
    known = {r[0]: r[1] for r in spark.sql("select file_name, sha256 from ingest.file_manifest").collect()}
    new, result.files_skipped = plan(known, files, result.warnings)
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    if new:
        spark.sql(f"insert into ingest.runs values ({_lit(run_id)}, 'started', current_timestamp())")
    groups: dict[tuple, list[LandingFile]] = defaultdict(list)
    for f in new:
        if f.size == 0:
            result.files_loaded += 1
            result.warnings.append(f"{f.name}: empty file (0 bytes), recorded with 0 rows")
        else:
            groups[(f.entity.name, f.path.suffix.lower(), tuple(f.columns))].append(f)
    csv_files = [f for (_, suffix, _), group in groups.items() if suffix == ".csv" for f in group]
    lines = _csv_lines(spark, csv_files).persist(StorageLevel.MEMORY_AND_DISK) if csv_files else None
    quarantined = []
    try:
        for i, ((entity, suffix, _), group) in enumerate(sorted(groups.items()), start=1):
            log.info("ingest %d/%d: %s, %d %s file(s)", i, len(groups), entity, len(group), suffix)
            quarantined.append(
                _load_group(spark, group, run_id, loaded_at, result, lines if suffix == ".csv" else None)
            )
        if quarantined:
            spark.sql(
                f"insert into quarantine.rows partition (ingest_run_id = {_lit(run_id)}) "
                + " union all ".join(quarantined)
            )
    finally:
        for name in [
            t.name for t in spark.catalog.listTables() if t.isTemporary and t.name.startswith("cvw_")
        ]:
            spark.catalog.dropTempView(name)
        if lines is not None:
            lines.unpersist()
    counts = _row_counts(spark, run_id, [f.name for f in new if f.size])
    manifest = []
    for f in new:
        good, bad = counts.get(f.name, (0, 0))
        manifest.append(
            (
                f.name,
                f.entity.name,
                f.sha256,
                f.size,
                good,
                bad,
                list(f.columns),
                f.extra_columns,
                loaded_at,
                run_id,
            )
        )
        result.rows_loaded[f.entity.name] = result.rows_loaded.get(f.entity.name, 0) + good
        result.rows_quarantined[f.entity.name] = result.rows_quarantined.get(f.entity.name, 0) + bad
    if manifest:
        spark.createDataFrame(manifest, _MANIFEST_SCHEMA).write.insertInto("ingest.file_manifest")  # commit
        spark.sql(f"insert into ingest.runs values ({_lit(run_id)}, 'finished', current_timestamp())")
    return finish(result, started)


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

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.spark = get_session(settings)

    def ingest(self, settings: Settings, run_id: str):
        return ingest_spark(self.spark, settings, run_id)

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

    def close(self) -> None:
        """Keep the shared session (dbt and the gate reuse it); see stop_session()."""
