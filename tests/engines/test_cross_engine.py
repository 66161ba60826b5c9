"""The same landing data gives the same published tables on DuckDB, PostgreSQL and Spark: same rows,
same keys, numbers equal to 1e-9 relative (issue 6). Every table of the audit area (`marts`) is compared
too, so a model is held to equality on all engines from the day it is added, before it is published.
On the generated data the compared date is an incremental night (issue 16): every engine first runs the day
before on the files landed by then, then the date with its new files."""

from __future__ import annotations

import math
import re
import shutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cvw.catalog import PUBLISHED_TABLES
from cvw.engines import get_engine
from cvw.pipeline import run

from tests.engines.spark_session import spark_workspace
from tests.helpers import make_settings

pytestmark = [pytest.mark.postgres, pytest.mark.spark, pytest.mark.slow, pytest.mark.extended]


def _generated(root: Path) -> tuple[Path, date]:
    from cvw.generate import generate

    as_of = date(2025, 6, 30)
    # seed 4: on 300 customers the Gamma-Gamma fit of the first night needs enough repeat buyers with varied
    # order values; seed 3's draw under the issue-18 generator had 117 and diverged (p -> 1e16), which the gate
    # rightly refuses. This test is about engines agreeing on a publish, so it needs one that publishes.
    generate(root, customers=300, days=180, seed=4, end_date=as_of, bad_rows_rate=0.01)
    return root, as_of


def _cdnow(root: Path) -> tuple[Path, date]:
    import lifetimes
    from cvw.importer import import_transactions

    source = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
    import_transactions(source, root, customer_col="customer_id", date_col="date", amount_col="amount",
                        quantity_col="quantity", header=False, date_format="%Y%m%d",
                        columns=["customer_id", "customer_index", "date", "quantity", "amount"])
    return root, date(1997, 9, 30)


def _land_until(source: Path, landing: Path, as_of: date) -> None:
    """Copy the files of `source` named after a date on or before `as_of` into `landing` (what had landed
    by the night of `as_of`)."""
    for path in (p for p in source.rglob("*") if p.is_file()):
        named = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
        if named and date.fromisoformat(named.group(1)) <= as_of:
            target = landing / path.relative_to(source)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def _normal(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sorted(rows) -> list[tuple]:
    rows = [tuple(_normal(v) for v in row) for row in rows]
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r))


def _published(settings, marts: list[str]) -> dict[str, list[tuple]]:
    engine = get_engine(settings)
    try:
        out = {t: _sorted(engine.query_published(f"select * from analytics.{t}")) for t in PUBLISHED_TABLES}
        out.update({f"marts.{t}": _sorted(engine.query(f"select * from {engine.audit_schema}.{t}")) for t in marts})
        return out
    finally:
        engine.close()


def _mart_tables(settings) -> list[str]:
    engine = get_engine(settings)
    try:
        catalog, _, schema = engine.audit_schema.rpartition(".")  # DuckDB: the audit-marts file's `analytics`
        rows = engine.query("select table_name from information_schema.tables where table_schema = ? "
                            "and (? = '' or table_catalog = ?)", [schema, catalog, catalog])
        return sorted(r[0] for r in rows)
    finally:
        engine.close()


def _assert_equal(table: str, engine: str, got: list[tuple], want: list[tuple]) -> None:
    assert len(got) == len(want), f"{table} on {engine}: {len(got)} rows, duckdb has {len(want)}"
    for g, w in zip(got, want, strict=False):
        assert len(g) == len(w), f"{table} on {engine}: column count differs"
        for gv, wv in zip(g, w, strict=False):
            if isinstance(wv, float) or isinstance(gv, float):
                assert gv is not None and wv is not None and math.isclose(gv, wv, rel_tol=1e-9, abs_tol=1e-12), (
                    f"{table} on {engine}: {g} != {w}"
                )
            else:
                assert gv == wv, f"{table} on {engine}: {g} != {w}"


@pytest.mark.parametrize("dataset", [_generated, _cdnow], ids=["generated", "cdnow"])
def test_published_tables_are_equal_on_every_engine(dataset, tmp_path, pg_server, spark_session, monkeypatch):
    source, as_of = dataset(tmp_path / "source")
    nights = [as_of - timedelta(days=1), as_of] if dataset is _generated else [as_of]

    def landing(name: str) -> Path:
        """The engine's own landing folder: all of the data set, or (nights) filled night by night."""
        folder = tmp_path / f"landing_{name}"
        if len(nights) == 1:
            shutil.copytree(source, folder)
        return folder

    def run_nights(settings) -> dict:
        for night in nights:
            if len(nights) > 1:
                _land_until(source, settings.landing_dir, night)
            summary = run(settings, night)
        if len(nights) > 1:  # the last night continued from the one before
            assert summary["build"]["full_refresh"] is None
        return summary

    for var in ("CVW_LANDING_DIR", "CVW_WAREHOUSE", "CVW_PUBLISH_DIR", "CVW_REPORTS_DIR", "CVW_TARGET"):
        monkeypatch.delenv(var, raising=False)

    duck = make_settings(tmp_path / "duckdb", landing=landing("duckdb"))
    run_nights(duck)
    marts = _mart_tables(duck)
    want = _published(duck, marts)
    assert sum(len(rows) for rows in want.values()) > 1000

    dbname = pg_server.create_database()
    for key, value in pg_server.env(dbname).items():
        monkeypatch.setenv(key, value)
    pg = make_settings(tmp_path / "postgres", landing=landing("postgres"))
    pg = type(pg)(**{**pg.__dict__, "target": "postgres"})
    run_nights(pg)
    got_pg = _published(pg, marts)
    monkeypatch.setenv("CVW_TARGET", "spark")
    spark = spark_workspace(spark_session, landing("spark"), copy_landing=False)
    run_nights(spark)
    got_spark = _published(spark, marts)

    for table in want:
        _assert_equal(table, "postgres", got_pg[table], want[table])
        _assert_equal(table, "spark", got_spark[table], want[table])
