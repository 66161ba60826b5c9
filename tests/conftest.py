"""Shared fixtures (the plain helpers are in tests/helpers.py). Airflow's home is pointed at a temp folder
before anything imports Airflow."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.helpers import (
    ENGINES,
    GENERATED,
    GENERATED_NIGHTS,
    REPO,
    SMALL_AS_OF,
    TINY_VARS,
    copy_landing_small,
    make_settings,
    private_copy,
    tiny_data,
)

# server-engine fixtures (one PostgreSQL server, one Spark session and one Spark cluster per test run)
pytest_plugins = ["tests.engines.pg_server", "tests.engines.spark_session", "tests.engines.spark_cluster"]

_airflow_home = Path(tempfile.mkdtemp(prefix="cvw_airflow_"))
os.environ.setdefault("AIRFLOW_HOME", str(_airflow_home))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh CVW_HOME with a copy of the landing_small fixture as its landing folder (and TINY_VARS)."""
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)
    copy_landing_small(tmp_path / "landing")
    return make_settings(tmp_path)


_ENGINE_FIXTURE = {"duckdb": "workspace", "postgres": "pg_settings", "spark": "spark_settings"}


@pytest.fixture(params=ENGINES)
def engine_settings(request):
    """Settings on an empty warehouse of each engine (DuckDB, PostgreSQL, Spark) with a copy of landing_small
    as landing: for the behaviours every engine must share."""
    return request.getfixturevalue(_ENGINE_FIXTURE[request.param])


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """landing_small run once through the whole pipeline for 2025-01-03 (shared, read-only for tests)."""
    from cvw.pipeline import run

    home = tmp_path_factory.mktemp("small_run")
    copy_landing_small(home / "landing")
    s = make_settings(home)
    with tiny_data():
        summary = run(s, SMALL_AS_OF)
    return s, summary



@contextlib.contextmanager
def _file_lock(path: Path):
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def generated_nights(tmp_path_factory):
    """The shared generated data set (tests/helpers.py: GENERATED) run through the whole pipeline for each of
    GENERATED_NIGHTS: (settings, the run summaries). Built once per test run: the first xdist worker to need
    it builds it under a file lock, every worker reads its own copy (no DuckDB lock between processes).
    Read-only: a test that re-runs or rebuilds works on tests.helpers.private_copy."""
    from cvw.generate import generate
    from cvw.pipeline import run

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, not the user's
    built = shared / "generated_nights"
    with _file_lock(shared / "generated_nights.lock"):
        if not (built / "summaries.json").exists():
            shutil.rmtree(built, ignore_errors=True)
            generate(built / "landing", **GENERATED)
            s = make_settings(built)
            summaries = [run(s, night) for night in GENERATED_NIGHTS]
            (built / "summaries.json").write_text(json.dumps(summaries, default=str))
    s = private_copy(make_settings(built), tmp_path_factory.mktemp("generated_nights") / "home")
    return s, json.loads((s.home / "summaries.json").read_text())


# --- scheduling on two workers (make test: -n 2 --dist loadfile) ------------------------------------------
# A test file stays on one worker so its module fixtures are built once. Two refinements:
# - every test on Spark (its modules, and the [spark] cases of engine-parametrised tests) is one unit, so
#   one worker starts the JVM (a minute) and the other never does;
# - the units start in collection order with the Spark unit and the files holding `slow` tests first, so
#   the long files do not end up last on one worker while the other idles.

SPARK_MODULES = ("tests/engines/test_spark.py", "tests/engines/test_cross_engine.py")


def _on_spark(nodeid: str) -> bool:
    return nodeid.split("::", 1)[0] in SPARK_MODULES or "[spark" in nodeid or "-spark]" in nodeid


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        if _on_spark(item.nodeid):
            return 0
        return 1 if getattr(item, "module", None) in slow_modules else 2

    slow_modules = {getattr(item, "module", None) for item in items if item.get_closest_marker("slow")}
    items.sort(key=rank)  # stable: the order inside a file is kept


@pytest.hookimpl(optionalhook=True)  # `-p no:xdist` has no such hook
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduler(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "spark" if _on_spark(nodeid) else super()._split_scope(nodeid)

    config.option.loadscopereorder = False  # keep the order above, not "most tests first"
    return Scheduler(config, log)
