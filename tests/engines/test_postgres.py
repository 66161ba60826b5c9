"""The PostgreSQL engine: the same pipeline and guarantees as DuckDB (tests/test_ingest.py,
tests/test_pipeline.py) on a throw-away PostgreSQL 15 server (tests/engines/pg_server.py)."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest
from cvw.catalog import PUBLISHED_TABLES
from cvw.engines.postgres import PostgresEngine
from cvw.gate import GateFailed
from cvw.ingest import ingest_landing
from cvw.pipeline import run, step_gate

from tests.engines.pg_server import pg_workspace
from tests.expected_small import ACCOUNTING, PUBLISHED, REJECTED, REJECTED_SQL
from tests.helpers import ORDERS_HEADER, SMALL_AS_OF, TINY_VARS

pytestmark = pytest.mark.postgres

def _engine(s) -> PostgresEngine:
    return PostgresEngine(s)


def _checksums(engine: PostgresEngine) -> dict:
    """Every current published table (not the history, which an older date adds to)."""
    return {
        t: engine.query_published(
            "select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
            f"from analytics.{t} t"
        )[0]
        for t in PUBLISHED_TABLES
    }


@pytest.fixture(autouse=True)
def _landing_small_vars(monkeypatch):
    """Every test here builds landing_small (too few customers to fit CLV)."""
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)


# --- one published run of landing_small, shared by the read-only tests; copies for the others -------

@pytest.fixture(scope="module")
def pg_small(pg_server, tmp_path_factory):
    """landing_small through the whole pipeline on PostgreSQL for 2025-01-03 (read-only for tests)."""
    dbname = pg_server.create_database()
    env = pg_server.env(dbname)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("CVW_DBT_VARS", TINY_VARS)  # landing_small
        s = pg_workspace(tmp_path_factory.mktemp("pg_small"), pg_server, dbname)
        summary = run(s, SMALL_AS_OF)
    yield s, summary, dbname
    pg_server.drop_database(dbname)


@pytest.fixture
def small(pg_small, pg_server, monkeypatch):
    s, summary, dbname = pg_small
    for k, v in pg_server.env(dbname).items():
        monkeypatch.setenv(k, v)
    return s, summary, _engine(s)


@pytest.fixture
def small_copy(pg_small, pg_server, tmp_path, monkeypatch):
    """A private copy (CREATE DATABASE ... TEMPLATE) of the published small run, with its own CVW_HOME."""
    _, _, source = pg_small
    dbname = f"cvw_copy_{uuid.uuid4().hex[:8]}"
    con = pg_server.connect()
    with con.cursor() as cur:
        cur.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", [source])
        cur.execute(f'create database "{dbname}" template "{source}" owner {pg_server.user}')
    con.close()
    for k, v in pg_server.env(dbname).items():
        monkeypatch.setenv(k, v)
    s = pg_workspace(tmp_path, pg_server, dbname)
    yield s, _engine(s)
    pg_server.drop_database(dbname)


# --- ingest -------------------------------------------------------------------------------------------

def test_rows_go_to_raw_or_quarantine_with_file_line_and_column(pg_settings):
    result = ingest_landing(pg_settings)
    assert result.files_loaded == 15
    assert result.rows_loaded["orders"] == 8
    assert result.rows_quarantined == {"customers": 1, "order_lines": 1, "orders": 2, "products": 0,
                                       "returns": 0, "service_interactions": 0, "marketing_contacts": 0,
                                       "consents": 0, "wallet_surveys": 0, "installed_base": 0}
    e = _engine(pg_settings)
    assert e.query(
        "select entity, source_file, line_number, error_kind, column_name from quarantine.rows "
        "order by 1, 2, 3"
    ) == [
        ("customers", "customers/customers_2025-01-02.csv", 4, "bad_encoding", "name"),
        ("order_lines", "order_lines/order_lines_2025-01-01.csv", 8, "bad_type", "quantity"),
        ("orders", "orders/orders_2025-01-01.csv", 7, "bad_type", "order_ts"),
        ("orders", "orders/orders_2025-01-02.csv", 4, "wrong_column_count", None),
    ]
    raw_lines = dict(e.query("select line_number, raw_line from quarantine.rows where entity = 'orders'"))
    assert raw_lines == {
        7: "o11,c2,notadate,web,completed,", 4: "o5,c3,2025-01-02 10:00:00,store,completed,,extra"
    }
    assert e.query(
        "select order_id, _line_number from raw.orders "
        "where _source_file = 'orders/orders_2025-01-02.csv' order by 2"
    ) == [("o4", 2), ("o1", 3)]
    # lineage on every row, contract types in raw
    assert e.query(
        "select count(*), count(_loaded_at), count(distinct _ingest_run_id) from raw.orders"
    ) == [(8, 8, 1)]
    types = dict(e.query(
        "select column_name, data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', "
        "'') from information_schema.columns where table_schema = 'raw' and table_name = 'order_lines'"
    ))
    assert types["unit_price"] == "numeric(18,2)" and types["quantity"].startswith("integer")
    assert types["_line_number"].startswith("bigint") and types["_loaded_at"] == "timestamp without time zone"
    # the manifest balances every file: rows = loaded + quarantined
    assert e.query("select sum(rows_loaded), sum(rows_quarantined) from ingest.file_manifest") == [(36, 4)]


def test_csv_edge_cases_offsets_quotes_and_bad_rows(pg_settings):
    landing = pg_settings.landing_dir
    (landing / "orders" / "orders_2025-01-12.csv").write_bytes(
        (ORDERS_HEADER
         + '"q1","c1","2025-01-12T10:00:00+02:00",web,completed,2025-01-12T10:00:00Z\n'  # 2
         + 'q2,c1,2025-01-12 10:00:00,"multi\nline, quoted",completed,\n'  # 3-4
         + "q3,c1,2025-01-12 10:00:00,web\n"  # 5: too few fields
         + "q4,c1,2025-13-45 10:00:00,web,completed,\n"  # 6: no such date
         + "q5,c1,2025-01-12 10:00:00,web,comp\x00leted,\n"  # 7: NUL byte
         + "\n"  # 8: empty line, skipped
         + "q6,c1,today,web,completed,\n"  # 9: not a timestamp
         + "q7,c1,2025-01-12,web,completed,\n").encode()  # 10: a date is a timestamp at midnight
    )
    (landing / "order_lines" / "order_lines_2025-01-12.csv").write_text(
        "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
        "q1,1,p1,1.0,100.000,\n"  # 2: 1.0 is the whole number 1, 100.000 is exactly 100.00 (nothing rounded)
        "q1,2,p1,2,NaN,\n"  # 3: NaN is no money amount
        "q1,3,p1,2,5.00,99999999999999999999\n"  # 4: does not fit DECIMAL(18,2)
    )
    result = ingest_landing(pg_settings)
    assert result.rows_quarantined["orders"] == 6 and result.rows_quarantined["order_lines"] == 3
    e = _engine(pg_settings)
    assert e.query(
        "select order_id, _line_number, order_ts, channel, updated_at from raw.orders "
        "where _source_file like '%01-12%' order by 2"
    ) == [
        ("q1", 2, datetime(2025, 1, 12, 8, 0), "web", datetime(2025, 1, 12, 10, 0)),
        ("q2", 3, datetime(2025, 1, 12, 10, 0), "multi\nline, quoted", None),
        ("q7", 10, datetime(2025, 1, 12, 0, 0), "web", None),
    ]
    assert e.query(
        "select line_number, error_kind, column_name from quarantine.rows "
        "where source_file like '%orders_2025-01-12%' order by 1"
    ) == [(5, "wrong_column_count", None), (6, "bad_type", "order_ts"), (7, "bad_encoding", "status"),
          (9, "bad_type", "order_ts")]
    assert e.query(
        "select quantity, unit_price from raw.order_lines where order_id = 'q1'"
    ) == [(1, Decimal("100.00"))]
    assert e.query(
        "select line_number, error_kind, column_name from quarantine.rows "
        "where source_file like '%lines_2025-01-12%' order by 1"
    ) == [(3, "bad_type", "unit_price"), (4, "bad_type", "discount_amount")]


def test_parquet_files_load_with_lineage_and_checked_casts(pg_settings):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = pg_settings.landing_dir / "orders"
    pq.write_table(pa.table({
        "order_id": ["p1o", "p2o", "p3o"],
        "customer_id": ["c1", "c2", "c2"],
        "order_ts": ["2025-01-08 10:00:00", "2025-01-08T11:00:00+02:00", "notadate"],
        "status": ["completed"] * 3,
    }), folder / "orders_2025-01-08.parquet")
    pq.write_table(pa.table({
        "order_id": ["p4o"],
        "customer_id": ["c3"],
        "order_ts": pa.array([datetime(2025, 1, 9, 12, 30)], pa.timestamp("us", tz="UTC")),
        "status": ["completed"],
    }), folder / "orders_2025-01-09.parquet")
    ingest_landing(pg_settings)
    e = _engine(pg_settings)
    assert e.query(
        "select order_id, _line_number, order_ts from raw.orders "
        "where _source_file like '%.parquet' order by 1"
    ) == [("p1o", 2, datetime(2025, 1, 8, 10, 0)), ("p2o", 3, datetime(2025, 1, 8, 9, 0)),
          ("p4o", 2, datetime(2025, 1, 9, 12, 30))]
    assert e.query(
        "select source_file, line_number, error_kind, column_name from quarantine.rows "
        "where source_file like '%.parquet'"
    ) == [("orders/orders_2025-01-08.parquet", 4, "bad_type", "order_ts")]


# --- the whole run --------------------------------------------------------------------------------------

@pytest.mark.extended
@pytest.mark.dbt
def test_published_tables_and_row_counts(small):
    s, summary, e = small
    assert summary["publish"]["row_counts"] == PUBLISHED and summary["publish"]["replaced_current"]
    from cvw.catalog import PUBLISHED_TABLES
    from cvw.gate import build_suite

    every_check = sum(len(build_suite(t, SMALL_AS_OF).expectations) for t in PUBLISHED_TABLES)
    assert summary["gate"]["failed"] == 0 and summary["gate"]["checks"] == every_check
    for table, n in PUBLISHED.items():
        assert e.query_published(
            f"select count(*), min(as_of_date), max(as_of_date) from analytics.{table}"
        ) == [(n, SMALL_AS_OF, SMALL_AS_OF)]
    assert e.query_published(
        "select as_of_date, is_current, gate_result, total_rows from analytics.publish_log"
    ) == [(SMALL_AS_OF, True, "passed", sum(PUBLISHED.values()))]
    assert e.published_state() == (SMALL_AS_OF, PUBLISHED)
    # o1: 2 x 100.00 - 10.00 + 10 x 5.00 = 240.00; c1 moved to Lille on 2025-01-02
    assert e.query_published(
        "select revenue, product_cost, line_count from analytics.fct_orders where order_id = 'o1'"
    ) == [(Decimal("240.00"), Decimal("140.00"), 2)]
    assert e.query_published("select region, city from analytics.dim_customers where customer_id = 'c1'") == [
        ("east", "Lille")
    ]
    columns = {r[0] for r in e.query_published(
        "select column_name from information_schema.columns where table_schema = 'analytics'"
    )}
    assert not columns & {"name", "email", "phone", "birth_date"}
    assert not e.query("select nspname from pg_namespace where nspname like 'analytics\\_%' "
                        "and nspname != 'analytics_history'")


@pytest.mark.extended
@pytest.mark.dbt
def test_row_accounting_rejected_and_quarantined_rows(small):
    s, _, e = small
    acc = {r[0]: r[1:] for r in e.query(
        "select entity, file_rows, accepted_rows, quarantined_rows, rejected_rows, balanced "
        "from audit.row_accounting"
    )}
    assert {entity: acc[entity] for entity in ACCOUNTING} == ACCOUNTING
    assert all(row[-1] for row in acc.values())
    assert e.query(REJECTED_SQL) == REJECTED
    assert e.query(
        "select entity, source_file, line_number, error_kind from quarantine.rows order by 1, 2, 3"
    ) == [
        ("customers", "customers/customers_2025-01-02.csv", 4, "bad_encoding"),
        ("order_lines", "order_lines/order_lines_2025-01-01.csv", 8, "bad_type"),
        ("orders", "orders/orders_2025-01-01.csv", 7, "bad_type"),
        ("orders", "orders/orders_2025-01-02.csv", 4, "wrong_column_count"),
    ]


@pytest.mark.extended
@pytest.mark.dbt
def test_bi_reader_role_reads_analytics_only(small, pg_server):
    import psycopg2
    from psycopg2 import errors

    _, _, e = small
    assert e.query("select rolcanlogin from pg_roles where rolname = 'cvw_reader'") == [(False,)]
    login = f"bi_{uuid.uuid4().hex[:8]}"
    e.query(f"create role {login} login in role cvw_reader")
    con = pg_server.connect(_dbname(), user=login)
    try:
        with con.cursor() as cur:
            for table in [*PUBLISHED, "publish_log"]:
                cur.execute(f"select count(*) from analytics.{table}")
                assert cur.fetchone()[0] >= 1
        denied = [
            "select count(*) from raw.orders",
            "select count(*) from quarantine.rows",
            "select count(*) from ingest.file_manifest",
            "select count(*) from staging.stg_crm__orders",
            "select count(*) from marts.fct_orders",
            "select count(*) from audit.row_accounting",
            "insert into analytics.fct_orders (order_id) values ('x')",
            "delete from analytics.publish_log",
            "create table analytics.x (a int)",
            "create table public.x (a int)",
            "create temp table x (a int)",
            "create schema x",
            "create view analytics.v as select 1",
        ]
        for sql in denied:
            with pytest.raises(errors.InsufficientPrivilege), con.cursor() as cur:
                cur.execute(sql)
    finally:
        con.close()
        e.query(f"drop role {login}")
    with pytest.raises(psycopg2.OperationalError):
        pg_server.connect(_dbname(), user="cvw_reader")  # the group role itself cannot log in


def _dbname() -> str:
    import os

    return os.environ["CVW_PG_DATABASE"]


@pytest.mark.extended
@pytest.mark.dbt
def test_a_failing_gate_names_table_check_and_rows_and_publishes_nothing(small_copy):
    s, e = small_copy
    before = _checksums(e)
    e.query("update marts.fct_orders set revenue = -1 where order_id = 'o2'")
    with pytest.raises(GateFailed) as err:
        step_gate(s, SMALL_AS_OF, "bad-run")
    message = str(err.value)
    assert "fct_orders" in message and "expect_column_values_to_be_between" in message and "'o2'" in message
    assert _checksums(e) == before
    assert len(e.published_log()) == 1


@pytest.mark.extended
@pytest.mark.dbt
def test_an_older_date_never_replaces_the_current_tables(small_copy):
    s, e = small_copy
    current = _checksums(e)
    summary = run(s, date(2025, 1, 2))
    assert summary["publish"]["replaced_current"] is False
    assert _checksums(e) == current
    assert e.query_published(
        "select as_of_date, is_current from analytics.publish_log order by as_of_date"
    ) == [(date(2025, 1, 2), False), (SMALL_AS_OF, True)]
    # its history is published next to the current date's (analytics_history, behind an analytics view)
    assert e.query_published(
        "select as_of_date, count(*) from analytics.customer_segments_history group by 1 order by 1"
    ) == [(date(2025, 1, 2), 4), (SMALL_AS_OF, 4)]


@pytest.mark.extended
@pytest.mark.dbt
def test_same_date_again_is_identical_and_a_reader_never_blocks_the_run(small_copy, pg_server):
    s, e = small_copy
    before = _checksums(e)
    reader = pg_server.connect(_dbname(), autocommit=False)
    try:
        with reader.cursor() as cur:  # a BI transaction holding the published tables open
            cur.execute("select count(*) from analytics.fct_orders")
            assert cur.fetchone()[0] == PUBLISHED["fct_orders"]
        # a run blocked by the reader would wait for the reader's lock and never return; a finished run is the
        # check (the bound only guards against a lock wait that ends: generous, CI machines are loaded)
        started = time.monotonic()
        summary = run(s, SMALL_AS_OF)
        assert summary["publish"]["replaced_current"] and time.monotonic() - started < 300
        # the old tables are left while the reader still holds them, and the reader still reads them
        assert len(e.query("select nspname from pg_namespace where nspname like 'analytics\\_prev\\_%'")) == 1
        with reader.cursor() as cur:
            cur.execute("select count(*) from analytics.publish_log")
            assert cur.fetchone()[0] == 2  # a new statement sees the new publish
    finally:
        reader.close()
    assert _checksums(e) == before
    assert e.query_published(
        "select count(*), count(*) filter (where is_current) from analytics.publish_log"
    ) == [(2, 1)]
    e.publish(SMALL_AS_OF, "again", PUBLISHED_TABLES, 30, None)  # the next publish drops the leftover
    assert not e.query("select nspname from pg_namespace where nspname like 'analytics\\_%' "
                        "and nspname != 'analytics_history'")


def test_pg_settings_gives_a_fresh_database(pg_settings, pg_server):
    assert pg_settings.target == "postgres"
    assert (pg_settings.landing_dir / "orders").is_dir()
    assert _engine(pg_settings).published_log() == []
    assert _engine(pg_settings).query(
        "select current_database(), current_setting('server_version_num')::int / 10000"
    ) == [(_dbname(), 15)]
