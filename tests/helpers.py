"""Helpers shared by the tests (plain functions and constants; the fixtures are in tests/conftest.py).

One place for: the landing_small fixture and its as-of date, settings for a test home, queries on a DuckDB
file, the whole-row checksums that say two publishes are equal, and the engine-neutral query used by the
tests every engine shares.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
LANDING_SMALL = FIXTURES / "landing_small"
SMALL_AS_OF = date(2025, 1, 3)

# The one generated data set the value, scoring and audience tests share (tests/conftest.py: generated_nights):
# 2,500 customers over two years, clean (the tests recompute from the landing files; bad rows have their own
# tests), run through the whole pipeline on the last two nights. Built once per test run and copied to each
# worker; a test that changes it works on a private_copy.
GENERATED = {"customers": 2500, "days": 730, "seed": 7, "end_date": date(2025, 12, 31), "bad_rows_rate": 0.0}
GENERATED_END = GENERATED["end_date"]
GENERATED_NIGHTS = (GENERATED_END - timedelta(days=1), GENERATED_END)

# Tests run the product's defaults. landing_small has four customers, too few to fit the CLV models, so the
# fixtures that build it (and only those) publish without CLV; test_scoring checks that the default
# (clv_fit_required: true) fails loudly on such data.
TINY_VARS = '{"clv_fit_required": false, "wallet_model_required": false}'


@contextlib.contextmanager
def tiny_data() -> Iterator[None]:
    """CVW_DBT_VARS for landing_small (see TINY_VARS) for the duration of the block."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CVW_DBT_VARS", TINY_VARS)
        yield


ORDERS_HEADER = "order_id,customer_id,order_ts,channel,status,updated_at\n"


def only_entities(settings, *entities: str):
    """Keep only these entity folders in the landing folder of `settings` (fewer groups: faster ingest tests,
    on Spark above all); returns `settings`."""
    for folder in settings.landing_dir.iterdir():
        if folder.is_dir() and folder.name not in entities:
            shutil.rmtree(folder)
    return settings


def copy_landing_small(landing: Path) -> Path:
    """A copy of landing_small (without its README) as the landing folder `landing`."""
    shutil.copytree(LANDING_SMALL, landing, ignore=shutil.ignore_patterns("README.md"))
    return landing


# the engines every shared behaviour is tested on; the server engines carry their markers
ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("spark", id="spark", marks=pytest.mark.spark),
]


def private_copy(settings, home: Path):
    """Settings on a copy of `settings.home` at `home`, for a test that changes what it reads (re-runs,
    rebuilds); the published history views still read the original's immutable Parquet files."""
    shutil.copytree(settings.home, home, symlinks=True)
    return make_settings(home)


def make_settings(home: Path, landing: Path | None = None):
    from cvw import settings

    return settings.load(home=home, landing_dir=landing or home / "landing")


def engine_query(settings, sql: str) -> list[tuple]:
    """Rows of `sql` on the warehouse of `settings.target` (portable SQL only)."""
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        return engine.query(sql)
    finally:
        engine.close()


def query(path: Path, sql: str, params=None) -> list[tuple]:
    """Rows of `sql` on a DuckDB file; on a warehouse, with its audit-marts file attached (`marts.analytics.*`)."""
    from cvw import db

    connect = db.connect_warehouse if db.marts_file(path).exists() else db.connect
    with connect(path, read_only=True) as con:
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
