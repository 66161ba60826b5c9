"""Spark ingest.

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
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cvw import failpoints
from cvw.engines.base import IngestSession
from cvw.engines.spark.session import _lit, _q, _ts, spark_type
from cvw.landing import KNOWN_FILES_SQL, KnownFile, known_from_rows
from cvw.typecheck import Dialect, checked_select

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


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


def ensure_schema(spark: SparkSession) -> None:
    """Create the raw, quarantine and ingest tables if missing (cvw.landing's names and columns, Spark types),
    and add the columns a newer release added to them."""
    from cvw.bookkeeping import ADDED_COLUMNS, BOOKKEEPING_TABLES
    from cvw.contract import ENTITIES
    from cvw.landing import LINEAGE_COLUMNS

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

    def known_files(self) -> dict[str, KnownFile]:
        return known_from_rows(tuple(r) for r in self.spark.sql(KNOWN_FILES_SQL).collect())

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
        from cvw.bookkeeping import DRIFT_COLUMNS, MANIFEST_COLUMNS

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


class SparkIngestSteps:
    """The ingest hook of the Spark engine (mixed into SparkEngine)."""

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
