"""The Spark engine: the guarantees of tests/test_ingest.py and tests/test_pipeline.py on Spark.

One local Spark session for the whole run (tests/engines/spark_session.py). landing_small goes through
`cvw.pipeline.run` once (module fixture, about a minute with the JVM start) and twice more at the end (the
same date again, then an older date); the other tests use single steps on that state or small ingest-only
workspaces, to keep the file under 3 minutes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from cvw.catalog import PUBLISHED_TABLES
from cvw.gate import GateFailed, build_suite
from cvw.ingest import ingest_landing
from cvw.pipeline import run, step_gate, step_ingest

from tests.engines import spark_session as plugin
from tests.expected_small import ACCOUNTING, PUBLISHED, REJECTED, REJECTED_SQL
from tests.helpers import ORDERS_HEADER, SMALL_AS_OF, TINY_VARS, only_entities, tiny_data

pytestmark = pytest.mark.spark

def _engine(s):
    from cvw.engines.spark import SparkEngine

    return SparkEngine(s)


def _published(engine) -> dict:
    """Every current published table's rows, sorted: equal dicts = identical published tables."""
    return {
        t: sorted((tuple(r) for r in engine.spark.table(f"analytics.{t}").collect()), key=repr)
        for t in PUBLISHED_TABLES
    }


# --- landing_small through the whole pipeline once ----------------------------------------------------


@pytest.fixture(scope="module")
def spark_small(spark_session, tmp_path_factory):
    """landing_small run once through cvw.pipeline.run on Spark for 2025-01-03."""
    s = plugin.spark_workspace(spark_session, tmp_path_factory.mktemp("spark_small") / "landing")
    with tiny_data():
        summary = run(s, SMALL_AS_OF)
    return s, summary, plugin.generation()


@pytest.fixture(autouse=True)
def _landing_small_vars(monkeypatch):
    """Every test here builds landing_small (too few customers to fit CLV)."""
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)


@pytest.fixture
def small(spark_small, spark_session):
    s, summary, generation = spark_small
    if generation != plugin.generation():
        pytest.fail(
            "the warehouse of the shared small run was cleaned by another test: keep the small-run "
            "tests before the ingest-only tests in this file"
        )
    return s, summary, _engine(s)


@pytest.mark.dbt
@pytest.mark.extended
def test_published_tables_and_row_counts(small):
    s, summary, engine = small
    assert summary["publish"]["row_counts"] == PUBLISHED
    # every expectation of every suite ran (GX may log-and-skip one it cannot run, PITFALLS 4)
    expected = sum(len(build_suite(t, SMALL_AS_OF).expectations) for t in PUBLISHED_TABLES)
    assert summary["gate"]["failed"] == 0 and summary["gate"]["checks"] == expected
    for table, n in PUBLISHED.items():
        assert engine.query_published(
            f"select count(*), min(as_of_date), max(as_of_date) from analytics.{table}"
        ) == [(n, SMALL_AS_OF, SMALL_AS_OF)]
    log = engine.query_published(
        "select as_of_date, is_current, gate_result, total_rows from analytics.publish_log"
    )
    assert log == [(SMALL_AS_OF, True, "passed", sum(PUBLISHED.values()))]
    # analytics holds views over one versioned database
    assert engine.current_version() is not None
    assert {t.tableType for t in engine.spark.catalog.listTables("analytics")} == {"VIEW"}


@pytest.mark.dbt
@pytest.mark.extended
def test_row_accounting_balances_for_every_bad_row_kind(small):
    _, _, engine = small
    acc = {
        r[0]: r[1:]
        for r in engine.query(
            "select entity, file_rows, accepted_rows, quarantined_rows, rejected_rows, balanced "
            "from audit.row_accounting"
        )
    }
    assert {entity: acc[entity] for entity in ACCOUNTING} == ACCOUNTING
    assert len(acc) == 10 and all(row[-1] for row in acc.values())
    assert engine.query(REJECTED_SQL) == REJECTED


@pytest.mark.dbt
@pytest.mark.extended
def test_quarantine_keeps_file_line_kind_and_raw_line(small):
    _, summary, engine = small
    assert summary["ingest"]["files_loaded"] == 15
    assert summary["ingest"]["rows_loaded"]["orders"] == 8
    assert summary["ingest"]["rows_quarantined"] == {
        "customers": 1,
        "order_lines": 1,
        "orders": 2,
        "products": 0,
        "returns": 0,
        "service_interactions": 0,
        "marketing_contacts": 0,
        "consents": 0,
        "wallet_surveys": 0,
        "installed_base": 0,
    }
    assert engine.query(
        "select entity, source_file, line_number, column_name, error_kind from quarantine.rows order by all"
    ) == [
        ("customers", "customers/customers_2025-01-02.csv", 4, "name", "bad_encoding"),
        ("order_lines", "order_lines/order_lines_2025-01-01.csv", 8, "quantity", "bad_type"),
        ("orders", "orders/orders_2025-01-01.csv", 7, "order_ts", "bad_type"),
        ("orders", "orders/orders_2025-01-02.csv", 4, None, "wrong_column_count"),
    ]
    reasons = dict(engine.query("select line_number, reason from quarantine.rows where entity = 'orders'"))
    assert "notadate" in reasons[7] and reasons[4] == "Expected Number of Columns: 6 Found: 7"
    assert engine.query("select raw_line from quarantine.rows where error_kind = 'wrong_column_count'") == [
        ("o5,c3,2025-01-02 10:00:00,store,completed,,extra",)
    ]
    # accepted rows keep their own line numbers around the rejected ones
    assert engine.query(
        "select order_id, _line_number from raw.orders "
        "where _source_file = 'orders/orders_2025-01-02.csv' order by 2"
    ) == [("o4", 2), ("o1", 3)]
    assert engine.query(
        "select rows_loaded, rows_quarantined from ingest.file_manifest "
        "where file_name = 'orders/orders_2025-01-01.csv'"
    ) == [(5, 1)]
    # contract types in raw, as on DuckDB
    types = {r[0]: r[1] for r in engine.query("describe raw.order_lines")}
    assert (types["line_number"], types["unit_price"], types["_line_number"]) == (
        "int",
        "decimal(18,2)",
        "bigint",
    )


@pytest.mark.dbt
@pytest.mark.extended
def test_order_revenue_and_customer_version(small):
    _, _, engine = small
    # o1: 2 x 100.00 - 10.00 + 10 x 5.00 = 240.00; the duplicate copy of line 1 is not counted twice
    assert engine.query_published(
        "select revenue, product_cost, line_count from analytics.fct_orders where order_id = 'o1'"
    ) == [(Decimal("240.00"), Decimal("140.00"), 2)]
    # c1 moved from north to east on 2025-01-02
    assert engine.query_published(
        "select region, city from analytics.dim_customers where customer_id = 'c1'"
    ) == [("east", "Lille")]


@pytest.mark.dbt
@pytest.mark.extended
def test_no_direct_identifiers_are_published(small):
    _, _, engine = small
    columns = {c for t in PUBLISHED for c in engine.spark.table(f"analytics.{t}").columns}
    assert not columns & {"name", "email", "phone", "birth_date"}


@pytest.mark.dbt
@pytest.mark.extended
def test_reingesting_the_same_files_changes_nothing(small):
    s, _, engine = small
    before = engine.query("select count(*), sum(hash(order_id, _line_number)) from raw.orders")
    again = step_ingest(s, "spark-reingest")
    assert (again["files_loaded"], again["files_skipped"]) == (0, 15)
    assert engine.query("select count(*), sum(hash(order_id, _line_number)) from raw.orders") == before
    assert engine.query("select count(*) from quarantine.rows") == [(4,)]
    assert engine.query("select count(*) from ingest.file_manifest") == [(15,)]


def _swap_marts_table(engine, table: str, select: str) -> None:  # Spark has no UPDATE on Parquet tables
    """Replace marts.<table> by `select` (the original is kept as marts.<table>__orig)."""
    engine.spark.sql(f"create table marts.{table}__new using parquet as {select}")
    engine.spark.sql(f"alter table marts.{table} rename to marts.{table}__orig")
    engine.spark.sql(f"alter table marts.{table}__new rename to marts.{table}")


def _restore_marts_table(engine, table: str) -> None:
    engine.spark.sql(f"drop table marts.{table}")
    engine.spark.sql(f"alter table marts.{table}__orig rename to marts.{table}")


@pytest.mark.dbt
@pytest.mark.extended
def test_a_failing_gate_names_table_check_and_rows_and_publishes_nothing(small):
    s, _, engine = small
    before = _published(engine)
    cols = engine.spark.table("marts.fct_orders").schema
    select = ", ".join(
        f"case when order_id = 'o2' then cast(-1 as {f.dataType.simpleString()}) else revenue end as revenue"
        if f.name == "revenue"
        else f.name
        for f in cols.fields
    )
    _swap_marts_table(
        engine, "fct_orders", f"select {select} from marts.fct_orders"
    )  # corrupt the audit copy
    try:
        with pytest.raises(GateFailed) as err:
            step_gate(s, SMALL_AS_OF, "spark-bad-run")
    finally:
        _restore_marts_table(engine, "fct_orders")
    message = str(err.value)
    assert "fct_orders" in message and "expect_column_values_to_be_between" in message and "'o2'" in message
    assert _published(engine) == before


@pytest.mark.dbt
@pytest.mark.extended
def test_same_date_again_then_an_older_date_never_replaces_the_current_tables(small):
    s, summary, engine = small
    first = _published(engine)
    again = run(s, SMALL_AS_OF, run_id="spark-again")  # the same date again: rebuilt, identical tables
    assert again["publish"]["replaced_current"] is True
    assert _published(engine) == first
    older = run(s, date(2025, 1, 2), run_id="spark-older")  # a backfill: ingest (no-op), build, gate, publish
    assert older["ingest"]["files_loaded"] == 0 and older["publish"]["replaced_current"] is False
    assert engine.query("select distinct as_of_date from marts.fct_orders") == [(date(2025, 1, 2),)]
    assert _published(engine) == first  # still the 2025-01-03 tables
    assert engine.query_published(
        "select as_of_date, run_id, is_current from analytics.publish_log order by published_at"
    ) == [
        (SMALL_AS_OF, summary["run_id"], False),
        (SMALL_AS_OF, "spark-again", True),
        (date(2025, 1, 2), "spark-older", False),
    ]
    assert engine.published_state()[0] == SMALL_AS_OF
    # ... but its history is published next to the current date's
    assert engine.query_published(
        "select as_of_date, count(*) from analytics.customer_segments_history group by 1 order by 1"
    ) == [(date(2025, 1, 2), 4), (SMALL_AS_OF, 4)]
    # retention: the current version and the previous one (readers in flight), nothing older
    versions = [r[0] for r in engine.query("show databases like 'analytics_*'") if r[0] != "analytics_history"]
    assert len(versions) == 2 and engine.current_version() in versions


# --- ingest only (each test starts from an empty warehouse: keep them after the small-run tests) ----


def test_parquet_files_load_with_lineage_and_checked_casts(spark_settings):
    """Parquet with lineage and checked casts (drift and empty files: tests/test_ingest.py, on every engine)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    s = only_entities(spark_settings, "orders")
    pq.write_table(
        pa.table(
            {
                "order_id": ["p1o", "p2o", "p3o"],
                "Customer_ID": ["c1", "c2", "c3"],
                "order_ts": ["2025-01-08 10:00:00", "2025-01-08 11:00:00", "notadate"],
                "status": ["completed"] * 3,
            }
        ),
        s.landing_dir / "orders" / "orders_2025-01-08.parquet",
    )
    assert ingest_landing(s).files_loaded == 4
    engine = _engine(s)
    assert engine.query(
        "select order_id, _line_number from raw.orders where _source_file like '%.parquet' order by 1"
    ) == [("p1o", 2), ("p2o", 3)]
    assert engine.query(
        "select line_number, column_name, error_kind from quarantine.rows where source_file like '%.parquet'"
    ) == [(4, "order_ts", "bad_type")]


def _crash_before_the_manifest(m, sp) -> None:
    """Make the next ingest die after raw and quarantine were written, before its manifest rows, as a killed
    process would: without the cleanup a failing ingest does itself."""

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after raw and quarantine were written")

    m.setattr(sp.SparkIngest, "commit", crash)
    m.setattr(sp, "recover", lambda spark: [])


def test_a_failed_ingest_leaves_nothing_behind(spark_settings, monkeypatch):
    """All or nothing (issue 14 C): an ingest that fails after writing rows removes them before it returns."""
    from cvw.engines.spark import ingest as sp

    s = spark_settings
    only_entities(s, "orders")
    with monkeypatch.context() as m:
        m.setattr(sp.SparkIngest, "commit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
        with pytest.raises(RuntimeError, match="disk full"):
            ingest_landing(s, run_id="failed-run")
    engine = _engine(s)
    assert engine.query("select count(*) from raw.orders") == [(0,)]
    assert engine.query("select count(*) from quarantine.rows") == [(0,)]
    assert engine.query("select count(*) from ingest.file_manifest") == [(0,)]


def test_a_crash_before_the_manifest_is_repaired_by_the_next_ingest(spark_settings, monkeypatch):
    """Spark has no multi-table transaction: rows written without their manifest rows are removed again."""
    from cvw.engines.spark import ingest as sp

    s = spark_settings
    only_entities(s, "orders")
    with monkeypatch.context() as m:
        _crash_before_the_manifest(m, sp)
        with pytest.raises(RuntimeError, match="simulated crash"):
            ingest_landing(s, run_id="crashed-run")
    engine = _engine(s)
    assert engine.query("select count(*) from raw.orders") == [(8,)]  # uncommitted rows
    assert engine.query("select count(*) from ingest.file_manifest") == [(0,)]
    result = ingest_landing(s, run_id="next-run")
    assert any("crashed-run" in w for w in result.warnings)
    assert result.files_loaded == 3 and result.rows_loaded == {"orders": 8}
    assert engine.query("select _ingest_run_id, count(*) from raw.orders group by 1") == [("next-run", 8)]
    assert engine.query("select ingest_run_id, count(*) from quarantine.rows group by 1") == [("next-run", 2)]
    assert engine.query("select count(*) from ingest.file_manifest") == [(3,)]


def test_a_crash_in_a_rerun_of_the_same_run_id_keeps_the_rows_it_committed_before(
    spark_settings, monkeypatch
):
    """A cleared Airflow task runs again with its run id: recovery keeps the rows that run committed."""
    from cvw.engines.spark import ingest as sp

    s = spark_settings
    only_entities(s, "orders")
    ingest_landing(s, run_id="same-run")
    (s.landing_dir / "orders" / "orders_2025-01-09.csv").write_text(
        ORDERS_HEADER + "o8,c2,2025-01-09 10:00:00,web,completed,\n"
    )
    with monkeypatch.context() as m:
        _crash_before_the_manifest(m, sp)
        with pytest.raises(RuntimeError, match="simulated crash"):
            ingest_landing(s, run_id="same-run")
    engine = _engine(s)
    assert engine.query("select count(*) from raw.orders") == [(9,)]  # 8 committed + 1 uncommitted
    result = ingest_landing(s, run_id="later-run")
    assert result.files_loaded == 1 and result.rows_loaded == {"orders": 1}
    assert engine.query("select _ingest_run_id, count(*) from raw.orders group by 1 order by 1") == [
        ("later-run", 1),
        ("same-run", 8),
    ]
    assert engine.query("select count(*) from quarantine.rows") == [(2,)]
    assert engine.query("show tables in ingest like 'cvw_recover_*'") == []


def _validated_rows(engine, entity: str) -> list:
    """A validated model's rows without its Spark partition column, sorted."""
    table = engine.spark.table(f"intermediate.int_crm__{entity}_validated")
    columns = [c for c in table.columns if c != "_validation_batch"]
    return sorted((tuple(r) for r in table.select(*columns).collect()), key=repr)


@pytest.mark.dbt
@pytest.mark.extended
def test_incremental_nights_recheck_late_references_and_equal_a_full_refresh(spark_settings):
    """Spark's validated models are incremental like DuckDB's and PostgreSQL's (insert_overwrite of
    `_validation_batch` partitions, macros/validation.sql): an order before its customer and a line before its
    order are rejected on the first night, re-checked and accepted on the next, the earlier night's recheck
    partition is dropped, and every validated model equals a --full-refresh of the same night."""
    import shutil

    from cvw.contract import ENTITIES

    from tests.test_incremental import _land

    s = spark_settings
    shutil.rmtree(s.landing_dir)
    engine = _engine(s)
    for night in (date(2025, 1, 1), date(2025, 1, 2)):
        _land(s, night)
        summary = run(s, night)
    assert summary["build"]["full_refresh"] is None  # the second night continued from the first
    assert sorted(engine.query(
        "select order_id, rejection_reason from intermediate.int_crm__orders_validated where order_id in ('o7', 'o8')"
    )) == [("o7", None), ("o8", None)]
    assert engine.query("select count(*), max(rejection_reason) from intermediate.int_crm__order_lines_validated "
                        "where order_id = 'o8'") == [(1, None)]
    batches = [r[0].split("=", 1)[1] for r in engine.query("show partitions intermediate.int_crm__orders_validated")]
    assert len([b for b in batches if b.startswith("rows_")]) == 2, batches  # one per build, nothing replaced
    assert len([b for b in batches if b.startswith("recheck_")]) <= 1, batches  # the first night's is gone
    incremental = {e: _validated_rows(engine, e) for e in ENTITIES}
    run(s, date(2025, 1, 2), full_refresh=True)
    assert {e: _validated_rows(engine, e) for e in ENTITIES} == incremental
