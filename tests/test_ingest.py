"""Ingest: lineage, quarantine through DuckDB's reject tables, manifest idempotency, clear failures."""

from __future__ import annotations

import shutil

import pytest
from cvw.ingest import IngestError, ingest_landing

from tests.helpers import make_settings, query

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


def test_reloading_the_same_files_changes_nothing(workspace):
    ingest_landing(workspace)
    before = query(workspace.warehouse, "select count(*), sum(hash(order_id, _line_number)) from raw.orders")
    again = ingest_landing(workspace)
    assert again.files_loaded == 0 and again.files_skipped == 15
    assert query(workspace.warehouse, "select count(*), sum(hash(order_id, _line_number)) from raw.orders") == before
    assert query(workspace.warehouse, "select count(*) from quarantine.rows") == [(4,)]


def test_a_new_file_is_loaded_next_to_the_old_ones(workspace):
    ingest_landing(workspace)
    (workspace.landing_dir / "orders" / "orders_2025-01-05.csv").write_text(
        "order_id,customer_id,order_ts,channel,status,updated_at\no7,c2,2025-01-05 10:00:00,web,completed,\n"
    )
    result = ingest_landing(workspace)
    assert (result.files_loaded, result.files_skipped) == (1, 15)
    assert query(workspace.warehouse, "select count(*) from raw.orders") == [(9,)]


def test_a_file_changed_after_loading_stops_ingest_and_names_it(workspace):
    ingest_landing(workspace)
    changed = workspace.landing_dir / "orders" / "orders_2025-01-04.csv"
    changed.write_text(changed.read_text().replace("o6", "o66"))
    (workspace.landing_dir / "orders" / "orders_2025-01-09.csv").write_text(
        "order_id,customer_id,order_ts,channel,status,updated_at\no8,c2,2025-01-09 10:00:00,web,completed,\n"
    )
    with pytest.raises(IngestError, match=r"orders_2025-01-04\.csv: content changed after it was loaded"):
        ingest_landing(workspace)
    # nothing at all was loaded, not even the good new file
    assert query(workspace.warehouse, "select count(*) from raw.orders where order_id in ('o66', 'o8')") == [(0,)]


def test_missing_required_column_fails_naming_file_and_column(workspace):
    (workspace.landing_dir / "orders" / "orders_2025-01-06.csv").write_text(
        "order_id,order_ts,status\no8,2025-01-06 10:00:00,completed\n"
    )
    with pytest.raises(IngestError, match=r"orders_2025-01-06\.csv: missing required column\(s\) customer_id"):
        ingest_landing(workspace)


def test_extra_columns_are_kept_and_reported_as_drift(workspace):
    (workspace.landing_dir / "orders" / "orders_2025-01-07.csv").write_text(
        "ORDER_ID,Customer_Id,order_ts,status,coupon_code\no9b,c1,2025-01-07 10:00:00,completed,WELCOME\n"
    )
    result = ingest_landing(workspace)
    assert result.schema_drift == ["orders/orders_2025-01-07.csv: extra column coupon_code"]
    assert query(workspace.warehouse, "select coupon_code from raw.orders where order_id = 'o9b'") == [("WELCOME",)]
    assert query(workspace.warehouse, "select column_name from ingest.schema_drift") == [("coupon_code",)]


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


def test_empty_and_header_only_files_load_no_rows(workspace):
    (workspace.landing_dir / "orders" / "orders_2025-01-10.csv").write_text("")
    (workspace.landing_dir / "orders" / "orders_2025-01-11.csv").write_text(
        "order_id,customer_id,order_ts,channel,status,updated_at\n"
    )
    result = ingest_landing(workspace)
    assert result.files_loaded == 17
    assert any("orders_2025-01-10.csv: empty file" in w for w in result.warnings)
    assert query(
        workspace.warehouse,
        "select rows_loaded from ingest.file_manifest where file_name like '%2025-01-1_.csv' order by file_name",
    ) == [(0,), (0,)]


def test_unknown_landing_folders_are_reported_not_loaded(workspace):
    shutil.copytree(workspace.landing_dir / "orders", workspace.landing_dir / "shipments")
    result = ingest_landing(workspace)
    assert any("unknown landing folder" in w and "shipments" in w for w in result.warnings)
