"""The pipeline on a Spark standalone cluster (issue 19): `CVW_TARGET=spark_cluster`, dbt through the Thrift
server, ingest and the Python steps on the executors, the metastore shared on PostgreSQL.

One cluster for the session (tests/engines/spark_cluster.py). The generated set runs two nights: the first
with `cvw run`, the second with the real Airflow DAG (`airflow dags test`) while a BI reader (the read-only
login) queries the Thrift server; then every published and audit table is compared with DuckDB's. The CDNOW
import is compared the same way. Last, a worker is killed in the middle of a run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cvw.catalog import PUBLISHED_TABLES
from cvw.pipeline import run

from tests.engines.test_cross_engine import (
    _assert_equal,
    _cdnow,
    _generated,
    _land_until,
    _mart_tables,
    _published,
    _sorted,
)
from tests.helpers import make_settings

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.slow, pytest.mark.extended]

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def _on_cluster(cluster, marts: list[str]) -> dict[str, list[tuple]]:
    out = {t: _sorted(cluster.query(f"select * from analytics.{t}")) for t in PUBLISHED_TABLES}
    out.update({f"marts.{t}": _sorted(cluster.query(f"select * from marts.{t}")) for t in marts})
    return out


def _duckdb(tmp_path: Path, source: Path, nights: list, monkeypatch) -> tuple[dict, list[str]]:
    for var in ("CVW_LANDING_DIR", "CVW_WAREHOUSE", "CVW_PUBLISH_DIR", "CVW_REPORTS_DIR", "CVW_TARGET"):
        monkeypatch.delenv(var, raising=False)
    duck = make_settings(tmp_path / "duckdb", landing=tmp_path / "landing_duckdb")
    if len(nights) == 1:
        shutil.copytree(source, duck.landing_dir)
    for night in nights:
        if len(nights) > 1:
            _land_until(source, duck.landing_dir, night)
        run(duck, night)
    marts = _mart_tables(duck)
    return _published(duck, marts), marts


class Reader(threading.Thread):
    """A BI client on the read-only login, querying while a publish runs: the current version (pointer),
    a count on that version, the same count through the `analytics` view."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.stop = cluster, threading.Event()
        self.seen: list[tuple] = []
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            conn = self.cluster.connect(self.cluster.env["CVW_SPARK_BI_USER"])
        except Exception as exc:
            self.errors.append(f"connect: {str(exc)[:500]}")
            return
        cur = conn.cursor()
        while not self.stop.is_set():
            try:
                cur.execute("select version_database, run_id from analytics.published_version")
                version, run_id = cur.fetchall()[0]
                cur.execute(f"select row_counts from {version}.publish_log where is_current")
                logged = json.loads(cur.fetchall()[0][0])["fct_orders"]
                cur.execute(f"select count(*) from {version}.fct_orders")
                pinned = cur.fetchall()[0][0]
                cur.execute("select count(*) from analytics.fct_orders")
                self.seen.append((version, run_id, logged, pinned, cur.fetchall()[0][0]))
            except Exception as exc:  # the assertion is that there are none
                self.errors.append(str(getattr(exc, "args", [exc])[0])[:500])
            time.sleep(0.2)
        conn.close()


@pytest.fixture(scope="module")
def generated_nights(spark_cluster, tmp_path_factory):
    """Night 1 with `cvw run`, night 2 with Airflow while a Reader runs; DuckDB's tables for night 2."""
    tmp = tmp_path_factory.mktemp("cluster_generated")
    source, as_of = _generated(tmp / "source")
    first = as_of - timedelta(days=1)
    spark_cluster.clean()
    home, landing = tmp / "cluster", tmp / "landing_cluster"
    _land_until(source, landing, first)
    ran = spark_cluster.cvw_run(home, landing, first)
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-5000:]
    before = spark_cluster.query("select version_database, run_id from analytics.published_version")[0]
    old_orders = spark_cluster.query("select count(*) from analytics.fct_orders")[0][0]

    _land_until(source, landing, as_of)
    env = {**spark_cluster.run_env(home, landing), "AIRFLOW_HOME": str(tmp / "airflow")}
    migrated = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    reader = Reader(spark_cluster)
    reader.start()
    try:
        dag = subprocess.run([AIRFLOW, "dags", "test", "customer_value_nightly", as_of.isoformat()], env=env,
                             capture_output=True, text=True, timeout=1800)
        time.sleep(2)  # a few reads after the publish
    finally:
        reader.stop.set()
        reader.join(timeout=60)
    after = spark_cluster.query("select version_database, run_id from analytics.published_version")[0]
    new_orders = spark_cluster.query("select count(*) from analytics.fct_orders")[0][0]
    return {"source": source, "as_of": as_of, "first": first, "dag": dag, "reader": reader, "before": before,
            "after": after, "old_orders": old_orders, "new_orders": new_orders, "tmp": tmp}


def test_airflow_runs_the_nightly_dag_on_the_cluster(generated_nights, spark_cluster):
    dag = generated_nights["dag"]
    assert dag.returncode == 0, (dag.stdout + dag.stderr)[-5000:]
    assert "state=success" in dag.stdout + dag.stderr
    version, run_id = generated_nights["after"]
    assert version != generated_nights["before"][0] and "manual__" in run_id
    current = spark_cluster.query("select as_of_date, gate_result from analytics.publish_log where is_current")
    assert current == [(generated_nights["as_of"], "passed")]


def test_published_tables_on_the_cluster_equal_duckdb_generated(generated_nights, spark_cluster, tmp_path,
                                                                 monkeypatch):
    g = generated_nights
    want, marts = _duckdb(tmp_path, g["source"], [g["first"], g["as_of"]], monkeypatch)
    assert sum(len(rows) for rows in want.values()) > 1000
    got = _on_cluster(spark_cluster, marts)
    for table in want:
        _assert_equal(table, "spark_cluster", got[table], want[table])


def test_a_reader_during_a_publish_sees_whole_versions_and_no_error(generated_nights):
    g = generated_nights
    reader = g["reader"]
    assert reader.errors == []
    assert g["new_orders"] > g["old_orders"]
    versions = {s[0] for s in reader.seen}
    assert versions == {g["before"][0], g["after"][0]}, "the reader saw both the old and the new publish"
    for _version, _run_id, logged, pinned, through_view in reader.seen:
        assert pinned == logged  # a version read by name agrees with its own log row
        assert through_view in (g["old_orders"], g["new_orders"])  # the view: old or new, never partial
    # once the pointer says new, the table views are new (the pointer is swapped last)
    assert all(view == g["new_orders"] for version, *_, view in reader.seen if version == g["after"][0])


def test_the_bi_login_reads_analytics_only_and_cannot_write(generated_nights, spark_cluster):
    from pyhive import hive

    bi = spark_cluster.env["CVW_SPARK_BI_USER"]
    assert spark_cluster.query("select count(*) > 0 from analytics.customer_rfm", user=bi) == [(True,)]
    assert ("analytics",) in spark_cluster.query("show databases", user=bi)
    version = generated_nights["after"][0]
    denied = [
        "select * from raw.orders",
        "select count(*) from marts.customer_rfm",
        "select * from analytics.fct_orders where customer_id in (select customer_id from raw.customers)",
        f"insert into {version}.publish_log select * from {version}.publish_log",
        "create table analytics.mine as select 1 as x",
        "drop view analytics.fct_orders",
        "create or replace view analytics.fct_orders as select 1 as x",
        "cache table analytics.fct_orders",
        "show tables in raw",
        "set spark.sql.runSQLOnFiles=true",
        "select reflect('java.lang.System', 'getProperty', 'user.home')",
    ]
    for sql in denied:
        with pytest.raises(Exception, match=f"cvw: user {bi} may only read the published tables"):
            spark_cluster.query(sql, user=bi)
    # queries on files by path are off on the Thrift server (spark.sql.runSQLOnFiles=false): `parquet` is
    # then only a database name, which does not exist
    with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
        spark_cluster.query(f"select * from parquet.`{spark_cluster.home}/spark/cluster/warehouse/raw.db/orders`",
                            user=bi)
    assert spark_cluster.query("select count(*) > 0 from analytics.fct_orders", user=bi) == [(True,)]  # still there
    with pytest.raises(Exception, match="Error validating the login"):
        hive.connect(host="127.0.0.1", port=int(spark_cluster.env["CVW_SPARK_THRIFT_PORT"]), username=bi,
                     password="wrong", auth="CUSTOM")
    # the pipeline's login is not restricted
    assert spark_cluster.query("select count(*) > 0 from raw.orders") == [(True,)]


def test_published_tables_on_the_cluster_equal_duckdb_cdnow(spark_cluster, tmp_path, monkeypatch):
    source, as_of = _cdnow(tmp_path / "source")
    want, marts = _duckdb(tmp_path, source, [as_of], monkeypatch)
    spark_cluster.clean()
    landing = tmp_path / "landing_cluster"
    shutil.copytree(source, landing)
    ran = spark_cluster.cvw_run(tmp_path / "cluster", landing, as_of)
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-5000:]
    got = _on_cluster(spark_cluster, marts)
    for table in want:
        _assert_equal(table, "spark_cluster", got[table], want[table])


def test_killing_a_worker_mid_run_completes_or_fails_cleanly(generated_nights, spark_cluster):
    """SIGKILL worker 2 (and its executors) once the run's application has started on the cluster: Spark
    reschedules on worker 1 and the run publishes, or the run fails with a message and the publish stays."""
    g = generated_nights
    published = spark_cluster.query("select version_database, run_id from analytics.published_version")[0]
    home, landing = g["tmp"] / "cluster", g["tmp"] / "landing_cluster"
    # a re-run of the date: a rebuild (ingest finds nothing new) and a publish; the application starts with ingest
    proc = subprocess.Popen([str(Path(sys.executable).parent / "cvw"), "run", "--as-of", g["as_of"].isoformat()],
                            env=spark_cluster.run_env(home, landing), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            apps = [a for a in spark_cluster.master()["activeapps"] if a["name"].startswith("cvw ")]
            if apps and apps[0]["cores"] >= 2:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the run's application never got its executors")
        time.sleep(5)
        spark_cluster.kill_worker(2)
        out, err = proc.communicate(timeout=1500)
    finally:
        if proc.poll() is None:
            proc.kill()
        spark_cluster.script("start")  # bring worker 2 back for whatever runs next
    now = spark_cluster.query("select version_database, run_id from analytics.published_version")[0]
    if proc.returncode == 0:
        assert now != published
        assert spark_cluster.query("select as_of_date from analytics.publish_log where is_current") == [(g["as_of"],)]
        orders = spark_cluster.query("select count(*) from analytics.fct_orders")[0][0]
        assert orders == g["new_orders"]  # the same date, the same data: the same tables
    else:
        assert now == published, "a failed run left the previous publish in place"
        assert "Traceback" not in err[-300:] and err.strip(), err[-3000:]  # a message, not only a stack
    print(f"worker killed: run {'completed' if proc.returncode == 0 else 'failed'}", file=sys.stderr)
