"""The whole run on landing_small: marts, row accounting, point-in-time, gate, publish, idempotency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from cvw.gate import GateFailed
from cvw.pipeline import run, step_build, step_gate, step_ingest

from tests.expected_small import ACCOUNTING, PUBLISHED, REJECTED
from tests.helpers import SMALL_AS_OF, query, table_checksums, tiny_data

pytestmark = [pytest.mark.dbt, pytest.mark.slow]



def test_published_tables_and_row_counts(small_run):
    s, summary = small_run
    assert summary["publish"]["row_counts"] == PUBLISHED
    from cvw.catalog import PUBLISHED_TABLES
    from cvw.gate import build_suite

    with tiny_data():  # the vars small_run was built with
        every_check = sum(len(build_suite(t, SMALL_AS_OF).expectations) for t in PUBLISHED_TABLES)
    assert summary["gate"]["failed"] == 0 and summary["gate"]["checks"] == every_check
    for table, n in PUBLISHED.items():
        assert query(s.analytics_db, f"select count(*), min(as_of_date), max(as_of_date) from analytics.{table}") == [
            (n, SMALL_AS_OF, SMALL_AS_OF)
        ]
    log = query(s.analytics_db, "select as_of_date, is_current, gate_result, total_rows from analytics.publish_log")
    assert log == [(SMALL_AS_OF, True, "passed", sum(PUBLISHED.values()))]


def test_duplicates_in_new_files_are_reported_with_the_run(small_run):
    """landing_small re-sends o1 and its line 1 unchanged: the run names them (a correction needs a later
    updated_at), in the log and in the run summary stored with the publish."""
    _, summary = small_run
    assert summary["accounting"]["duplicate_rows_in_new_files"] == {"order_lines": 1, "orders": 1}


def test_row_accounting_balances_for_every_bad_row_kind(small_run):
    s, _ = small_run
    acc = {
        r[0]: r[1:]
        for r in query(
            s.warehouse,
            "select entity, file_rows, accepted_rows, quarantined_rows, rejected_rows, balanced from audit.row_accounting",
        )
    }
    assert {entity: acc[entity] for entity in ACCOUNTING} == ACCOUNTING
    assert all(row[-1] for row in acc.values())
    rejected = query(
        s.warehouse, "select entity, record_key, rejection_reason, line_number from audit.rejected_rows order by all"
    )
    assert rejected == REJECTED


def test_order_revenue_follows_the_spec(small_run):
    s, _ = small_run
    # o1: 2 x 100.00 - 10.00 + 10 x 5.00 = 240.00; the duplicate copy of line 1 is not counted twice
    assert query(s.analytics_db, "select revenue, product_cost, line_count from analytics.fct_orders where order_id = 'o1'") == [
        (Decimal("240.00"), Decimal("140.00"), 2)
    ]


def test_customer_version_in_force_on_the_as_of_date(small_run):
    s, _ = small_run
    # c1 moved from north to east on 2025-01-02
    assert query(s.analytics_db, "select region, city from analytics.dim_customers where customer_id = 'c1'") == [
        ("east", "Lille")
    ]


def test_point_in_time_a_later_date_sees_later_orders(workspace):
    step_ingest(workspace, "t1")
    step_build(workspace, date(2025, 1, 3))
    early = query(workspace.warehouse, "select count(*) from marts.analytics.fct_orders")
    step_build(workspace, date(2025, 1, 5))
    late = query(workspace.warehouse, "select count(*), max(order_date) from marts.analytics.fct_orders")
    assert early == [(4,)]
    assert late == [(5, date(2025, 1, 4))]


def test_same_date_twice_gives_identical_published_tables(workspace):
    run(workspace, SMALL_AS_OF)
    first = table_checksums(workspace.analytics_db, PUBLISHED)
    run(workspace, SMALL_AS_OF)
    assert table_checksums(workspace.analytics_db, PUBLISHED) == first
    assert query(workspace.analytics_db, "select count(*), count(*) filter (where is_current) from analytics.publish_log") == [
        (2, 1)
    ]


def test_a_failing_gate_names_table_check_and_rows_and_publishes_nothing(workspace):
    run(workspace, SMALL_AS_OF)
    before = table_checksums(workspace.analytics_db, PUBLISHED)
    from cvw import db

    with db.connect_warehouse(workspace.warehouse) as con:  # corrupt the audit copy after dbt's tests passed
        con.execute("update marts.analytics.fct_orders set revenue = -1 where order_id = 'o2'")
    with pytest.raises(GateFailed) as err:
        step_gate(workspace, SMALL_AS_OF, "bad-run")
    message = str(err.value)
    assert "fct_orders" in message and "expect_column_values_to_be_between" in message and "'o2'" in message
    assert table_checksums(workspace.analytics_db, PUBLISHED) == before


def test_an_older_date_never_replaces_the_current_tables(workspace):
    from cvw.catalog import PUBLISHED_TABLES

    run(workspace, date(2025, 1, 5))
    current = table_checksums(workspace.analytics_db, PUBLISHED_TABLES)
    run(workspace, SMALL_AS_OF)
    assert table_checksums(workspace.analytics_db, PUBLISHED_TABLES) == current
    assert query(
        workspace.analytics_db, "select as_of_date from analytics.publish_log where is_current"
    ) == [(date(2025, 1, 5),)]
    # ... but its history is published next to the current date's
    assert query(
        workspace.analytics_db,
        "select as_of_date, count(*) from analytics.customer_segments_history group by all order by 1",
    ) == [(SMALL_AS_OF, 4), (date(2025, 1, 5), 4)]


def test_the_published_file_holds_the_gated_tables_the_log_and_the_history_only(workspace):
    """The DuckDB publish starts from a byte copy of the audit-marts file: a table the gate never checked
    (here a dbt temp table left by a failed build) is not published, and the copy's tables equal the audit
    marts. Each build starts a new audit-marts file, and a `marts` schema left in the warehouse by an older
    version is dropped."""
    from cvw import db
    from cvw.catalog import HISTORY_TABLES, PUBLISHED_TABLES

    run(workspace, SMALL_AS_OF)
    with db.connect_warehouse(workspace.warehouse) as con:
        con.execute("create table marts.analytics.fct_orders__dbt_tmp as select * from marts.analytics.fct_orders")
    with db.connect(workspace.warehouse) as con:  # the old layout: the audit marts in a warehouse schema `marts`
        con.execute("create schema cvw.marts")  # qualified: this process also has the catalog `marts` open
        con.execute("create table cvw.marts.fct_orders as select 1 as stale")
    run(workspace, SMALL_AS_OF)
    published = query(workspace.analytics_db, "select table_name, table_type from information_schema.tables "
                                              "where table_schema = 'analytics' order by all")
    assert published == sorted(
        [(t, "BASE TABLE") for t in (*PUBLISHED_TABLES, "history_files", "publish_log")]
        + [(t, "VIEW") for t in HISTORY_TABLES]
    )
    # each core build starts a new audit-marts file (the publish copies it whole): the leftover went with it
    assert query(workspace.warehouse, "select table_name from duckdb_tables() where database_name = 'marts' "
                                      "and table_name not in (select unnest(?))", [list(PUBLISHED_TABLES)]) == []
    marts = {t: query(workspace.warehouse, f"select count(*), sum(hash(t)) from marts.analytics.{t} t")[0]
             for t in PUBLISHED_TABLES}
    assert table_checksums(workspace.analytics_db, PUBLISHED_TABLES) == marts
    with db.connect(workspace.warehouse, read_only=True) as con:
        assert con.execute("select count(*) from duckdb_schemas() where database_name = current_database() "
                           "and schema_name = 'marts'").fetchall() == [(0,)]
