"""Pytest plugin: one local Spark session per test run, and a clean warehouse for every Spark test.

A JVM holds one Spark session configuration (warehouse dir, Derby metastore home) for its lifetime, so the
tests share one session and one CVW_HOME (`spark_session`, session-scoped, started on first use: about
10-15 s). Isolation comes from dropping every warehouse database between tests (`spark_settings`), not from
a fresh CVW_HOME. Registered in tests/conftest.py through `pytest_plugins`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import copy_landing_small

# dbt-spark runs statements concurrently in the one session: 4 threads halve the build on landing_small
SPARK_DBT_THREADS = 4
_GENERATION = [0]  # bumped by every clean: a module fixture can tell that its warehouse was dropped


def pytest_configure(config):
    config.addinivalue_line(
        "filterwarnings", "ignore:PySpark does not yet fully support pandas:FutureWarning"
    )


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """The process's SparkSession (local[2] unless CVW_SPARK_MASTER), home in a temp CVW_HOME."""
    pytest.importorskip("pyspark")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("Spark needs a Java runtime (Java 17)")
    from cvw import settings
    from cvw.engines import spark as sp

    home = tmp_path_factory.mktemp("spark_home")
    session = sp.get_session(settings.load(home=home, target="spark"))
    yield session
    sp.stop_session()


def spark_home(session) -> Path:
    """CVW_HOME of the session (its warehouse dir is $CVW_HOME/spark/warehouse)."""
    warehouse = session.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
    return Path(warehouse).parents[1]


def clean_spark(session) -> None:
    """Drop every warehouse database (raw ... analytics, analytics_*), cached data and temp views."""
    from cvw.engines.spark import drop_databases

    _GENERATION[0] += 1
    session.catalog.clearCache()
    for table in session.catalog.listTables("default"):
        if table.isTemporary:
            session.catalog.dropTempView(table.name)
    drop_databases(session)


def generation() -> int:
    """How many times the warehouse was cleaned in this test run."""
    return _GENERATION[0]


def spark_workspace(session, landing: Path, copy_landing: bool = True):
    """Clean warehouse + Settings for the session's home with `landing` (a copy of landing_small)."""
    from cvw import settings

    clean_spark(session)
    if copy_landing:
        copy_landing_small(landing)
    return settings.load(
        home=spark_home(session), target="spark", landing_dir=landing, dbt_threads=SPARK_DBT_THREADS
    )


@pytest.fixture
def spark_settings(tmp_path, spark_session, monkeypatch):
    """Settings (target spark, the session's home) on an empty warehouse; landing: a copy of landing_small."""
    for var in ("CVW_LANDING_DIR", "CVW_WAREHOUSE", "CVW_PUBLISH_DIR", "CVW_REPORTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    from tests.helpers import TINY_VARS

    monkeypatch.setenv("CVW_TARGET", "spark")
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)  # landing_small
    return spark_workspace(spark_session, tmp_path / "landing")
