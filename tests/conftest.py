"""Shared fixtures (the plain helpers are in tests/helpers.py). Airflow's home is pointed at a temp folder
before anything imports Airflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ENGINES, REPO, SMALL_AS_OF, TINY_VARS, copy_landing_small, make_settings, tiny_data

# server-engine fixtures (one PostgreSQL server and one Spark session per test run)
pytest_plugins = ["tests.engines.pg_server", "tests.engines.spark_session"]

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

