"""Shared fixtures. Airflow's home is pointed at a temp folder before anything imports Airflow."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
LANDING_SMALL = FIXTURES / "landing_small"
SMALL_AS_OF = date(2025, 1, 3)

# server-engine fixtures (one PostgreSQL server and one Spark session per test run)
pytest_plugins = ["tests.engines.pg_server", "tests.engines.spark_session"]

_airflow_home = Path(tempfile.mkdtemp(prefix="cvw_airflow_"))
os.environ.setdefault("AIRFLOW_HOME", str(_airflow_home))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# Tests run the product's defaults. landing_small has four customers, too few to fit the CLV models, so the
# fixtures that build it (and only those) publish without CLV; test_scoring checks that the default
# (clv_fit_required: true) fails loudly on such data.
TINY_VARS = '{"clv_fit_required": false}'


@contextlib.contextmanager
def tiny_data() -> Iterator[None]:
    """CVW_DBT_VARS for landing_small (see TINY_VARS) for the duration of the block."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CVW_DBT_VARS", TINY_VARS)
        yield


def make_settings(home: Path, landing: Path | None = None):
    from cvw import settings

    return settings.load(home=home, landing_dir=landing or home / "landing")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh CVW_HOME with a copy of the landing_small fixture as its landing folder (and TINY_VARS)."""
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)
    shutil.copytree(LANDING_SMALL, tmp_path / "landing", ignore=shutil.ignore_patterns("README.md"))
    return make_settings(tmp_path)


# the engines every shared behaviour is tested on; the server engines carry their markers
ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("spark", id="spark", marks=pytest.mark.spark),
]
_ENGINE_FIXTURE = {"duckdb": "workspace", "postgres": "pg_settings", "spark": "spark_settings"}


@pytest.fixture(params=ENGINES)
def engine_settings(request):
    """Settings on an empty warehouse of each engine (DuckDB, PostgreSQL, Spark) with a copy of landing_small
    as landing: for the behaviours every engine must share."""
    return request.getfixturevalue(_ENGINE_FIXTURE[request.param])


@contextlib.contextmanager
def engine_workspace(request, engine: str, home: Path) -> Iterator:
    """Settings for `engine` with `home/landing` as landing (filled by the caller), for module-scoped
    fixtures: a new database on the test PostgreSQL server, or the test Spark session's cleaned warehouse.
    The environment is set for the duration of the block."""
    from cvw import settings

    with pytest.MonkeyPatch.context() as mp:
        for var in ("CVW_LANDING_DIR", "CVW_WAREHOUSE", "CVW_PUBLISH_DIR", "CVW_REPORTS_DIR"):
            mp.delenv(var, raising=False)
        mp.setenv("CVW_TARGET", engine)
        if engine == "postgres":
            server = request.getfixturevalue("pg_server")
            dbname = server.create_database()
            for key, value in server.env(dbname).items():
                mp.setenv(key, value)
            try:
                yield settings.load(home=home, landing_dir=home / "landing", target="postgres")
            finally:
                with contextlib.suppress(Exception):
                    server.drop_database(dbname)
        elif engine == "spark":
            from tests.engines.spark_session import spark_workspace

            yield spark_workspace(request.getfixturevalue("spark_session"), home / "landing", copy_landing=False)
        else:
            yield make_settings(home)


def engine_query(settings, sql: str) -> list[tuple]:
    """Rows of `sql` on the warehouse of `settings.target` (portable SQL only)."""
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        return engine.query(sql)
    finally:
        engine.close()


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """landing_small run once through the whole pipeline for 2025-01-03 (shared, read-only for tests)."""
    from cvw.pipeline import run

    home = tmp_path_factory.mktemp("small_run")
    shutil.copytree(LANDING_SMALL, home / "landing", ignore=shutil.ignore_patterns("README.md"))
    s = make_settings(home)
    with tiny_data():
        summary = run(s, SMALL_AS_OF)
    return s, summary


def query(path: Path, sql: str, params=None) -> list[tuple]:
    from cvw import db

    with db.connect(path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def landing_until(settings, as_of: date) -> None:
    """Copy the landing_small files dated on or before D (`<entity>_<YYYY-MM-DD>.csv`) into the landing
    folder: what had landed by the nightly run of D."""
    for src in LANDING_SMALL.glob("*/*.csv"):
        if date.fromisoformat(src.stem.rsplit("_", 1)[1]) <= as_of:
            dst = settings.landing_dir / src.parent.name / src.name
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)


def table_checksums(analytics_db: Path, tables) -> dict:
    """Per table: (rows, the sum of a hash of each whole row). Order-independent, and two rows that swap
    values between them change it (a hash per column would not see that)."""
    return {t: query(analytics_db, f"select count(*), sum(hash(t)) from analytics.{t} t")[0] for t in tables}


def published_checksums(analytics_db: Path) -> dict:
    """Every published table (whole-row checksums), the history per date, and publish_log without its run ids
    and timestamps. Equal checksums = equal published data."""
    from cvw.catalog import HISTORY_TABLES, PUBLISHED_TABLES

    out = table_checksums(analytics_db, PUBLISHED_TABLES)
    for table in HISTORY_TABLES:
        out[table] = query(
            analytics_db,
            f"select as_of_date, count(*), sum(hash(t)) from analytics.{table} t group by all order by 1",
        )
    out["publish_log"] = query(
        analytics_db, "select as_of_date, is_current, gate_result, gate_checks, row_counts from analytics.publish_log "
        "order by published_at",
    )
    return out
