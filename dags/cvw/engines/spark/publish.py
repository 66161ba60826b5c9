"""Spark publish.

Publish (write-audit-publish without multi-table transactions)
    Every publish writes a complete new version into a fresh database `analytics_<UTC timestamp>_<hex>`:
    copies of `marts.<table>` (or, for an as-of date older than the current publish, copies of the current
    tables, so those are not replaced) plus `publish_log` carried over with the `is_current` flags moved as on
    DuckDB, plus the new row (with the row counts this run built and gated). Nothing BI reads changes until
    then; a failure drops the new database. Then the `analytics` database, which only holds VIEWS
    `analytics.<table>` over the current version, is repointed with `CREATE OR REPLACE VIEW`, tables first and
    `publish_log` last. Finally versioned databases other than the new one and the previous one (readers in
    flight) are dropped.

    What a reader sees (stated in the README and tested on the cluster, tests/engines/test_spark_cluster.py):
    - every statement sees each table whole, old or new, never a partly written one: a version's tables are
      complete before any view points to them, and each view swap is one metastore update (`ALTER VIEW ... AS`;
      `CREATE OR REPLACE VIEW` would drop and re-create it, and a reader in between finds no table);
    - a failed gate, a failed write or a crash before the swap leaves the published views untouched (a crash
      in the middle of the swap leaves some views on the new, gated version and the others on the previous
      one until the next publish repoints them all);
    - `analytics.publish_log` is swapped after the tables, and `analytics.published_version` (one row: the
      version database, as-of date, run id) last: once a reader sees the new current row, every table view
      already shows the new version;
    - several statements that must agree (a dashboard's queries) read one version by name: look up
      `version_database` in `analytics.published_version` and query `<version_database>.<table>`. A version
      is immutable and stays until the second publish after it (the current and the previous version stay).
    What it does not give: one switch for all tables. The views are swapped one after another within about a
    second, so two statements on `analytics.<table>` across that moment may see two versions (the new
    `fct_orders` with the old `dim_customers`); DuckDB's file swap and PostgreSQL's schema rename have no such
    window. Spark has no multi-table transaction and cannot rename a database (with Delta Lake or Iceberg
    one would publish through a single-table pointer, but their jars are not reachable here, PITFALLS 17).
    Readers: on the cluster (`CVW_TARGET=spark_cluster`) the metastore is shared (PostgreSQL), so BI tools
    read `analytics` through the Thrift server with the read-only login (spark/guard/ReaderGuard.java);
    the in-process `spark` target's Derby metastore is open to its own process only.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import date, datetime, timezone

from cvw.catalog import HISTORY_TABLES
from cvw.engines.spark.session import HISTORY_DB, VERSION_DB, _lit, spark_type
from cvw.publish import PublishResult, carried_over_log, log_row, publish_log_ddl, replaces_current

log = logging.getLogger(__name__)


class SparkPublish:
    """The publish hook of the Spark engine (mixed into SparkEngine)."""

    def published_history_source(self) -> str | None:
        table = f"{HISTORY_DB}.customer_segments_history"
        return table if self.spark.catalog.tableExists(table) else None

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
        started = time.monotonic()
        spark = self.spark
        as_of = date.fromordinal(as_of.toordinal())  # a plain date: createDataFrame refuses subclasses (pendulum)
        replace_current = replaces_current(self.published_state()[0], as_of)
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
            spark.sql(publish_log_ddl(f"{version}.publish_log", spark_type, not_null=False, suffix=" using parquet"))
            if previous:
                spark.sql(f"insert into {version}.publish_log "
                          + carried_over_log(f"{previous}.publish_log", replace_current))
            new_row = [tuple(log_row(as_of, run_id, published_at, replace_current, gate_checks, row_counts,
                                     run_summary))]
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
            self._point_view(f"analytics.{table}", f"select * from {HISTORY_DB}.{table}")
        for table in (*tables, "publish_log"):
            self._point_view(f"analytics.{table}", f"select * from {version}.{table}")
        self._point_view(
            "analytics.published_version",
            f"select {_lit(version)} as version_database, as_of_date, run_id, published_at "
            f"from {version}.publish_log where is_current",
        )
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

    def _point_view(self, name: str, select: str) -> None:
        """Point a view at `select` in one metastore update: ALTER VIEW ... AS for an existing view. (Spark's
        CREATE OR REPLACE VIEW drops the view and creates it again: a reader in between finds no table, as the
        cluster test's reader did.)"""
        if self.spark.catalog.tableExists(name):
            self.spark.sql(f"alter view {name} as {select}")
        else:
            self.spark.sql(f"create view {name} as {select}")

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
