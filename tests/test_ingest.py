"""Ingest: lineage, quarantine, manifest idempotency, clear failures. The behaviours every engine must share
(reloading, changed files, missing and extra columns, empty files) run on DuckDB, PostgreSQL and Spark."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime

import pytest
from cvw.ingest import IngestError, ingest_landing

from tests.helpers import ORDERS_HEADER, engine_query, make_settings, only_entities, query

pytestmark = pytest.mark.integration


def test_rows_go_to_raw_or_quarantine_with_file_and_line(workspace):
    result = ingest_landing(workspace)
    assert result.files_loaded == 15
    assert result.rows_loaded["orders"] == 8  # 10 data rows, 2 unparseable
    assert result.rows_quarantined == {"customers": 1, "order_lines": 1, "orders": 2, "products": 0,
                                       "returns": 0, "service_interactions": 0, "marketing_contacts": 0,
                                       "consents": 0, "wallet_surveys": 0, "installed_base": 0}
    quarantined = query(
        workspace.warehouse,
        "select entity, source_file, line_number, error_kind from quarantine.rows order by all",
    )
    assert quarantined == [
        ("customers", "customers/customers_2025-01-02.csv", 4, "bad_encoding"),
        ("order_lines", "order_lines/order_lines_2025-01-01.csv", 8, "bad_type"),
        ("orders", "orders/orders_2025-01-01.csv", 7, "bad_type"),
        ("orders", "orders/orders_2025-01-02.csv", 4, "wrong_column_count"),
    ]
    # accepted rows keep their own line numbers around the rejected ones
    lines = query(
        workspace.warehouse,
        "select order_id, _line_number from raw.orders where _source_file = 'orders/orders_2025-01-02.csv' order by 2",
    )
    assert lines == [("o4", 2), ("o1", 3)]


# --- the behaviours every engine shares (engine_settings: DuckDB, PostgreSQL, Spark; orders only, to keep
# Spark's ingest short) -----------------------------------------------------------------------------------


def test_reloading_the_same_files_changes_nothing_and_a_new_file_loads_next_to_the_old_ones(engine_settings):
    s = only_entities(engine_settings, "orders")
    ingest_landing(s)
    snapshot = "select order_id, _line_number, _source_file from raw.orders order by 3, 2"
    before = engine_query(s, snapshot)
    again = ingest_landing(s)
    assert (again.files_loaded, again.files_skipped) == (0, 3)
    assert engine_query(s, snapshot) == before
    assert engine_query(s, "select count(*) from quarantine.rows") == [(2,)]
    (s.landing_dir / "orders" / "orders_2025-01-05.csv").write_text(ORDERS_HEADER + "o7,c2,2025-01-05 10:00:00,web,completed,\n")
    result = ingest_landing(s)
    assert (result.files_loaded, result.files_skipped) == (1, 3)
    assert engine_query(s, "select count(*) from raw.orders") == [(9,)]


def test_a_file_changed_after_loading_stops_ingest_and_names_it(engine_settings):
    s = only_entities(engine_settings, "orders")
    ingest_landing(s)
    changed = s.landing_dir / "orders" / "orders_2025-01-04.csv"
    changed.write_text(changed.read_text().replace("o6", "o66"))
    (s.landing_dir / "orders" / "orders_2025-01-09.csv").write_text(ORDERS_HEADER + "o8,c2,2025-01-09 10:00:00,web,completed,\n")
    with pytest.raises(IngestError, match=r"orders_2025-01-04\.csv: content changed after it was loaded"):
        ingest_landing(s)
    # nothing at all was loaded, not even the good new file
    assert engine_query(s, "select count(*) from raw.orders where order_id in ('o66', 'o8')") == [(0,)]
    assert engine_query(s, "select count(*) from ingest.file_manifest where file_name like '%2025-01-09%'") == [(0,)]


def test_an_ingest_hashes_only_files_it_has_not_loaded_and_still_sees_a_same_size_change(workspace, monkeypatch):
    """A loaded file whose size and mtime are those the manifest recorded is not hashed again; a file changed
    since (same size, new mtime), or modified in the seconds before its load, is."""
    from cvw import landing

    an_hour_ago = time.time() - 3600
    for path in workspace.landing_dir.rglob("*"):
        if path.is_file():
            os.utime(path, (an_hour_ago, an_hour_ago))
    first = ingest_landing(workspace)
    assert query(workspace.warehouse, "select count(*), count(modified_ns) from ingest.file_manifest") == [
        (first.files_loaded, first.files_loaded)]
    hashed = []
    sha256_of = landing.sha256_of
    monkeypatch.setattr(landing, "sha256_of", lambda path: hashed.append(path.name) or sha256_of(path))

    new = workspace.landing_dir / "orders" / "orders_2025-01-05.csv"
    new.write_text(ORDERS_HEADER + "o7,c2,2025-01-05 10:00:00,web,completed,\n")
    second = ingest_landing(workspace)
    assert (second.files_loaded, second.files_skipped) == (1, first.files_loaded)
    assert hashed == [new.name]

    hashed.clear()
    changed = workspace.landing_dir / "orders" / "orders_2025-01-04.csv"
    text = changed.read_text()
    assert "o6" in text
    changed.write_text(text.replace("o6", "o9"))  # the same size, a new mtime
    with pytest.raises(IngestError, match=r"orders_2025-01-04\.csv: content changed after it was loaded"):
        ingest_landing(workspace)
    # the changed file, and the file loaded within seconds of being written (its mtime may hide a change)
    assert sorted(hashed) == sorted([changed.name, new.name])


def test_missing_required_column_fails_naming_file_and_column(engine_settings):
    s = only_entities(engine_settings, "orders")
    ingest_landing(s)
    before = engine_query(s, "select count(*) from raw.orders")
    orders = s.landing_dir / "orders"
    (orders / "orders_2025-01-06.csv").write_text("order_id,order_ts,status\no8,2025-01-06 10:00:00,completed\n")
    (orders / "orders_2025-01-09.csv").write_text(ORDERS_HEADER + "o10,c2,2025-01-09 10:00:00,web,completed,\n")
    with pytest.raises(IngestError, match=r"orders_2025-01-06\.csv: missing required column\(s\) customer_id"):
        ingest_landing(s)
    # nothing of the delivery loads, not even the good new file next to the bad one
    assert engine_query(s, "select count(*) from raw.orders") == before
    assert engine_query(s, "select count(*) from ingest.file_manifest where file_name like '%2025-01-09%'") == [(0,)]


def test_extra_columns_are_kept_and_reported_as_drift(engine_settings):
    s = only_entities(engine_settings, "orders")
    (s.landing_dir / "orders" / "orders_2025-01-07.csv").write_text(
        "ORDER_ID,Customer_Id,order_ts,status,coupon_code\no9b,c1,2025-01-07T10:00:00+02:00,completed,WELCOME\n"
    )
    result = ingest_landing(s)
    assert result.schema_drift == ["orders/orders_2025-01-07.csv: extra column coupon_code"]
    assert engine_query(s, "select coupon_code, order_ts from raw.orders where order_id = 'o9b'") == [
        ("WELCOME", datetime(2025, 1, 7, 8, 0))  # +02:00 converted to UTC
    ]
    assert engine_query(s, "select column_name, kind from ingest.schema_drift") == [("coupon_code", "extra_column")]


def test_empty_and_header_only_files_load_no_rows(engine_settings):
    s = only_entities(engine_settings, "orders")
    (s.landing_dir / "orders" / "orders_2025-01-10.csv").write_text("")
    (s.landing_dir / "orders" / "orders_2025-01-11.csv").write_text(ORDERS_HEADER)
    result = ingest_landing(s)
    assert result.files_loaded == 5
    assert any("orders_2025-01-10.csv: empty file" in w for w in result.warnings)
    assert any("orders_2025-01-11.csv: no data rows (header only)" in w for w in result.warnings)
    assert engine_query(
        s, "select rows_loaded, rows_quarantined from ingest.file_manifest where file_name like '%2025-01-1_.csv' "
        "order by file_name",
    ) == [(0, 0), (0, 0)]


def test_parquet_files_load_with_lineage(workspace):
    import duckdb

    path = workspace.landing_dir / "orders" / "orders_2025-01-08.parquet"
    duckdb.sql(
        "select 'p1o' as order_id, 'c1' as customer_id, timestamp '2025-01-08 10:00:00' as order_ts, "
        "'completed' as status union all select 'p2o', 'c2', timestamp '2025-01-08 11:00:00', 'completed'"
    ).write_parquet(str(path))
    ingest_landing(workspace)
    assert query(
        workspace.warehouse,
        "select order_id, _line_number from raw.orders where _source_file like '%.parquet' order by 1",
    ) == [("p1o", 2), ("p2o", 3)]


def test_missing_landing_folder_fails_with_what_to_do(tmp_path):
    s = make_settings(tmp_path, landing=tmp_path / "nowhere")
    with pytest.raises(IngestError, match="does not exist.*cvw generate"):
        ingest_landing(s)


def test_empty_landing_folder_fails(tmp_path):
    (tmp_path / "landing" / "orders").mkdir(parents=True)
    with pytest.raises(IngestError, match="holds no .csv or .parquet files"):
        ingest_landing(make_settings(tmp_path))


def test_unknown_landing_folders_are_reported_not_loaded(workspace):
    shutil.copytree(workspace.landing_dir / "orders", workspace.landing_dir / "shipments")
    result = ingest_landing(workspace)
    assert any("unknown landing folder" in w and "shipments" in w for w in result.warnings)


def test_each_ingest_loads_later_than_the_one_before_even_when_the_clock_goes_back(workspace, monkeypatch):
    """The incremental validated models read the rows loaded after their newest one: a clock set back between
    two ingests must not stamp the new rows earlier (they would never be validated)."""
    import cvw.engines.base as base

    only_entities(workspace, "orders")
    ingest_landing(workspace)
    first = query(workspace.warehouse, "select max(_loaded_at) from raw.orders")[0][0]
    monkeypatch.setattr(base, "now_utc", lambda: datetime(2000, 1, 1))
    (workspace.landing_dir / "orders" / "orders_2025-01-09.csv").write_text(
        ORDERS_HEADER + "o77,c1,2025-01-09 10:00:00,web,completed,\n")
    ingest_landing(workspace)
    second = query(workspace.warehouse, "select _loaded_at from raw.orders where order_id = 'o77'")[0][0]
    assert second > first
