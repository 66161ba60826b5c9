"""The bad-input corpus (SPEC §8, docs/bad_input.md): one test per kind of malformed input.

Every kind is written as a small file of its own next to a copy of landing_small, so each test can name
the file and line it expects. The row-level kinds share ONE workspace that is ingested (twice: the
duplicate file arrives in a second delivery) and built once for SMALL_AS_OF (`corpus`); each test then
asserts where its rows landed (raw / quarantine.rows / audit.rejected_rows), with which kind or reason,
file and line, and that row accounting balances. The kinds that stop the run get a fresh workspace each
and only run ingest (it fails before loading anything).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from decimal import Decimal

import pytest
from cvw.ingest import IngestError, ingest_landing

from tests.helpers import SMALL_AS_OF, copy_landing_small, make_settings, query, tiny_data

pytestmark = pytest.mark.integration

ORDERS = "order_id,customer_id,order_ts,channel,status,updated_at\n"
LINES = "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
RETURNS = "return_id,order_id,product_id,return_ts,quantity,refund_amount,reason\n"
CUSTOMERS = "customer_id,customer_type,name,updated_at\n"
INTERACTIONS = "interaction_id,customer_id,interaction_ts,channel,type,duration_minutes,satisfaction_score,resolved\n"

# file (relative to the landing folder) -> content; first delivery
CORPUS: dict[str, bytes] = {
    # --- parse failures (quarantine.rows) ---
    "orders/orders_2025-01-03_bad_type.csv": (
        ORDERS
        + "bt1,c2,2025-01-03 09:00:00,web,completed,\n"  # 2
        + "bt2,c2,yesterday,web,completed,\n"  # 3: bad_type (order_ts)
        + "bt3,c2,2025-01-03 09:30:00,web,completed,\n"  # 4
    ).encode(),
    "service_interactions/service_interactions_2025-01-03_bad_encoding.csv": (
        INTERACTIONS.encode()
        + b"se1,c3,2025-01-03 10:00:00,phone,inquiry,4,4,true\n"  # 2
        + b"se2,c3,2025-01-03 11:00:00,ph\xe2\x82,inquiry,4,4,true\n"  # 3: a cut UTF-8 sequence (half a euro sign)
    ),
    "order_lines/order_lines_2025-01-03_column_count.csv": (
        LINES
        + "o4,2,p1,1,100.00,,surplus\n"  # 2: 7 fields
        + "o4,3,p1\n"  # 3: 3 fields
    ).encode(),
    # --- business rules (audit.rejected_rows) ---
    "order_lines/order_lines_2025-01-03_negative_quantity.csv": (LINES + "o4,4,p3,-2,50.00,\n").encode(),
    "orders/orders_2025-01-03_unknown_customer.csv": (ORDERS + "uc1,c404,2025-01-03 10:00:00,web,completed,\n").encode(),
    "order_lines/order_lines_2025-01-03_unknown_product.csv": (LINES + "o4,5,p999,1,5.00,\n").encode(),
    "orders/orders_2025-01-03_duplicate_key.csv": (
        ORDERS + "o3,c3,2025-01-01 12:00:00,store,completed,\n"  # o3 again, same version (no updated_at)
    ).encode(),
    # a correction: o2 re-sent cancelled, with a later updated_at (a new version, in force from then on)
    "orders/orders_2025-01-03_correction.csv": (
        ORDERS + "o2,c2,2025-01-01 11:00:00,sales_rep,cancelled,2025-01-03 08:00:00\n"
    ).encode(),
    "orders/orders_2025-01-03_future.csv": (ORDERS + "fu1,c1,2025-02-15 10:00:00,web,completed,\n").encode(),
    # o4 line 1 is 4 x p2 at 5.00 = 20.00
    "returns/returns_2025-01-03_refund.csv": (RETURNS + "rf1,o4,p2,2025-01-03 10:00:00,1,25.00,damaged\n").encode(),
    # --- further kinds ---
    "orders/orders_2025-01-03_empty.csv": b"",
    "order_lines/order_lines_2025-01-03_header_only.csv": LINES.encode(),
    "returns/returns_2025-01-03_semicolons.csv": (
        RETURNS + "rs1;o1;p1;2025-01-03 10:00:00;1;10.00;damaged\n" + "rs2;o1;p1;2025-01-03 11:00:00;1;10.00;\n"
    ).encode(),
    "customers/customers_2025-01-03_latin1.csv": (
        CUSTOMERS + "c6,B2C,Zoe Example,2025-01-03 08:00:00\n" + "c7,B2C,Renée Example,2025-01-03 09:00:00\n"
    ).encode("latin-1"),
    "order_lines/order_lines_2025-01-03_too_large.csv": (
        LINES
        + "o3,2,p1,99999999999999999999,100.00,\n"  # 2: no INTEGER
        + "o3,3,p1,1,1e400,\n"  # 3: no DECIMAL(18,2)
        + "o3,4,p1,1,12345678901234567.00,\n"  # 4: 17 digits before the point, DECIMAL(18,2) holds 16
        + "o3,5,p1,2000000000,99999999.99,\n"  # 5: parses, but the line is worth 2e17: invalid_value
    ).encode(),
    "service_interactions/service_interactions_2025-01-03_too_large.csv": (
        INTERACTIONS + "sl1,c3,2025-01-03 12:00:00,phone,inquiry,1e400,4,true\n"  # 2: DOUBLE infinity
    ).encode(),
    "orders/orders_2025-01-03_timezones.csv": (
        ORDERS
        + "tz1,c3,2025-01-03T10:00:00Z,web,completed,\n"  # 2: UTC, ISO 'T' and 'Z'
        + "tz2,c3,2025-01-03 10:00:00+02:00,web,completed,\n"  # 3: offset: 08:00 UTC
        + "tz3,c3,2025-01-03 10:00:00,web,completed,\n"  # 4: no offset: UTC
        + "tz4,c3,2025-01-03 10:00:00 Mars/Olympus,web,completed,\n"  # 5: unknown zone: bad_type
        + "tz5,c3,2025-01-03 00:30:00 America/New_York,web,completed,\n"  # 6: zone name: 05:30 UTC
    ).encode(),
}
# second delivery: the same content as an already-loaded file, under a new name
RESENT = ("order_lines/order_lines_2025-01-02_resent.csv", "order_lines/order_lines_2025-01-02.csv")


def _write(landing, files: dict[str, bytes]) -> None:
    for rel, content in files.items():
        path = landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """landing_small + CORPUS, ingested; then RESENT delivered and ingested; then built for SMALL_AS_OF."""
    from cvw.pipeline import step_build, step_ingest

    home = tmp_path_factory.mktemp("bad_input")
    copy_landing_small(home / "landing")
    s = make_settings(home)
    _write(s.landing_dir, CORPUS)
    first = step_ingest(s, "corpus-1")
    shutil.copy(s.landing_dir / RESENT[1], s.landing_dir / RESENT[0])
    second = step_ingest(s, "corpus-2")
    with tiny_data():
        step_build(s, SMALL_AS_OF)
    return s, first, second


def quarantined(s, file: str) -> list[tuple]:
    return query(
        s.warehouse,
        "select line_number, error_kind, column_name, reason from quarantine.rows where source_file = ? order by 1",
        [file],
    )


def rejected(s, file: str) -> list[tuple]:
    return query(
        s.warehouse,
        "select line_number, record_key, rejection_reason from audit.rejected_rows where source_file = ? order by 1",
        [file],
    )


def raw_lines(s, entity: str, file: str, key: str = "1") -> list[tuple]:
    return query(
        s.warehouse, f"select _line_number, {key} from raw.{entity} where _source_file = ? order by 1", [file]
    )


def manifest(s, file: str) -> tuple:
    return query(s.warehouse, "select rows_loaded, rows_quarantined from ingest.file_manifest where file_name = ?",
                 [file])[0]


def accounting(s, entity: str) -> tuple:
    """(file rows, accepted, quarantined, rejected, balanced) of one entity in audit.row_accounting."""
    return query(
        s.warehouse,
        "select file_rows, accepted_rows, quarantined_rows, rejected_rows, balanced from audit.row_accounting "
        "where entity = ?",
        [entity],
    )[0]


# --- parse failures: quarantine.rows with file, line, reason ------------------------------------------------

@pytest.mark.dbt
def test_bad_type_is_quarantined_with_file_line_and_column(corpus):
    s, _, _ = corpus
    f = "orders/orders_2025-01-03_bad_type.csv"
    assert quarantined(s, f) == [
        (3, "bad_type", "order_ts",
         "Error when converting column \"order_ts\". Could not convert string \"yesterday\" to 'TIMESTAMP'"),
    ]
    # the rows around it load with their own line numbers
    assert raw_lines(s, "orders", f, "order_id") == [(2, "bt1"), (4, "bt3")]
    assert manifest(s, f) == (2, 1)
    assert accounting(s, "orders")[-1] is True


@pytest.mark.dbt
def test_bad_encoding_is_quarantined(corpus):
    s, _, _ = corpus
    f = "service_interactions/service_interactions_2025-01-03_bad_encoding.csv"
    [(line, kind, column, reason)] = quarantined(s, f)
    assert (line, kind, column) == (3, "bad_encoding", "channel")
    assert "not utf-8" in reason.lower()
    assert raw_lines(s, "service_interactions", f, "interaction_id") == [(2, "se1")]
    assert accounting(s, "service_interactions")[-1] is True


@pytest.mark.dbt
def test_wrong_column_count_is_one_quarantine_row_per_line(corpus):
    s, _, _ = corpus
    f = "order_lines/order_lines_2025-01-03_column_count.csv"
    assert [(line, kind, reason) for line, kind, _, reason in quarantined(s, f)] == [
        (2, "wrong_column_count", "Expected Number of Columns: 6 Found: 7"),
        (3, "wrong_column_count", "Expected Number of Columns: 6 Found: 3"),
    ]
    assert manifest(s, f) == (0, 2)
    assert accounting(s, "order_lines")[-1] is True


# --- business rules: audit.rejected_rows with reason, excluded from the marts -------------------------------

@pytest.mark.dbt
def test_negative_quantity_is_rejected(corpus):
    s, _, _ = corpus
    assert rejected(s, "order_lines/order_lines_2025-01-03_negative_quantity.csv") == [
        (2, "o4|4", "negative_quantity")
    ]
    assert query(s.warehouse, "select count(*) from marts.analytics.fct_order_lines where order_id = 'o4' and line_number = 4") == [
        (0,)
    ]


@pytest.mark.dbt
def test_unknown_customer_is_rejected(corpus):
    s, _, _ = corpus
    assert rejected(s, "orders/orders_2025-01-03_unknown_customer.csv") == [(2, "uc1", "unknown_customer")]
    assert query(s.warehouse, "select count(*) from marts.analytics.fct_orders where order_id = 'uc1'") == [(0,)]


@pytest.mark.dbt
def test_unknown_product_is_rejected(corpus):
    s, _, _ = corpus
    assert rejected(s, "order_lines/order_lines_2025-01-03_unknown_product.csv") == [(2, "o4|5", "unknown_product")]
    assert query(s.warehouse, "select count(*) from marts.analytics.fct_order_lines where product_id = 'p999'") == [(0,)]


@pytest.mark.dbt
def test_duplicate_key_is_rejected_and_the_first_copy_wins(corpus):
    s, _, _ = corpus
    assert rejected(s, "orders/orders_2025-01-03_duplicate_key.csv") == [(2, "o3", "duplicate_key")]
    assert query(s.warehouse, "select status from marts.analytics.fct_orders where order_id = 'o3'") == [("cancelled",)]


@pytest.mark.dbt
def test_a_correction_with_a_later_updated_at_is_in_force_from_then_on(corpus):
    """An order re-sent cancelled with a later updated_at is the order as of that date (earlier dates keep the
    first version: dbt unit tests of int_orders_as_of); the superseded version stays in raw, accepted."""
    s, _, _ = corpus
    assert rejected(s, "orders/orders_2025-01-03_correction.csv") == []
    assert query(s.warehouse, "select status from marts.analytics.fct_orders where order_id = 'o2'") == [("cancelled",)]
    assert query(s.warehouse, "select status, rejection_reason from intermediate.int_crm__orders_validated "
                 "where order_id = 'o2' order by _loaded_at, _source_file") == [
        ("completed", None), ("cancelled", None)]


@pytest.mark.dbt
def test_order_in_the_future_is_rejected(corpus):
    s, _, _ = corpus
    # later than the day after the file's date (2025-01-03)
    assert rejected(s, "orders/orders_2025-01-03_future.csv") == [(2, "fu1", "order_in_future")]
    assert query(s.warehouse, "select count(*) from marts.analytics.fct_orders where order_id = 'fu1'") == [(0,)]


@pytest.mark.dbt
def test_refund_larger_than_the_line_is_rejected(corpus):
    s, _, _ = corpus
    assert rejected(s, "returns/returns_2025-01-03_refund.csv") == [(2, "rf1", "refund_exceeds_line")]
    assert query(s.warehouse, "select count(*) from marts.analytics.fct_returns where return_id = 'rf1'") == [(0,)]


# --- further kinds -----------------------------------------------------------------------------------------

@pytest.mark.dbt
def test_empty_file_is_recorded_with_zero_rows_and_a_warning(corpus):
    s, first, _ = corpus
    f = "orders/orders_2025-01-03_empty.csv"
    assert f"{f}: empty file (0 bytes), recorded with 0 rows" in first["warnings"]
    assert manifest(s, f) == (0, 0)


@pytest.mark.dbt
def test_header_only_file_is_recorded_with_zero_rows_and_a_warning(corpus):
    s, first, _ = corpus
    f = "order_lines/order_lines_2025-01-03_header_only.csv"
    assert f"{f}: no data rows (header only), recorded with 0 rows" in first["warnings"]
    assert manifest(s, f) == (0, 0)


@pytest.mark.dbt
def test_semicolon_rows_under_a_comma_header_are_quarantined_and_reported(corpus):
    s, first, _ = corpus
    f = "returns/returns_2025-01-03_semicolons.csv"
    assert [(line, kind, reason) for line, kind, _, reason in quarantined(s, f)] == [
        (2, "wrong_column_count", "Expected Number of Columns: 7 Found: 1"),
        (3, "wrong_column_count", "Expected Number of Columns: 7 Found: 1"),
    ]
    assert any(w.startswith(f"{f}: all 2 row(s) quarantined, none loaded") for w in first["warnings"])
    assert accounting(s, "returns")[-1] is True


@pytest.mark.dbt
def test_latin1_bytes_quarantine_the_row_not_the_file(corpus):
    s, _, _ = corpus
    f = "customers/customers_2025-01-03_latin1.csv"
    [(line, kind, column, _)] = quarantined(s, f)
    assert (line, kind, column) == (3, "bad_encoding", "name")
    raw_line = query(s.warehouse, "select raw_line from quarantine.rows where source_file = ?", [f])[0][0]
    assert raw_line.startswith("c7,B2C,Ren")  # shown with a replacement character for the é byte
    assert raw_lines(s, "customers", f, "customer_id") == [(2, "c6")]
    assert accounting(s, "customers")[-1] is True


@pytest.mark.dbt
def test_numbers_too_large_are_quarantined_not_wrapped_or_infinite(corpus):
    s, _, _ = corpus
    lines = "order_lines/order_lines_2025-01-03_too_large.csv"
    assert [(line, kind, column) for line, kind, column, _ in quarantined(s, lines)] == [
        (2, "bad_type", "quantity"), (3, "bad_type", "unit_price"), (4, "bad_type", "unit_price"),
    ]
    # each value fits its type, but not the line's value: rejected (the build does not overflow on it)
    assert rejected(s, lines) == [(5, "o3|5", "invalid_value")]
    assert manifest(s, lines) == (1, 3)
    interactions = "service_interactions/service_interactions_2025-01-03_too_large.csv"
    assert quarantined(s, interactions) == [
        (2, "bad_type", "duration_minutes",
         "Error when converting column \"duration_minutes\". Could not convert string \"1e400\" to 'DOUBLE': "
         "not a finite number"),
    ]
    assert manifest(s, interactions) == (0, 1)
    assert query(s.warehouse, "select count(*) from raw.service_interactions where not isfinite(duration_minutes)") == [
        (0,)
    ]
    assert accounting(s, "service_interactions")[-1] is True


@pytest.mark.dbt
def test_mixed_timezone_formats_are_converted_to_utc_or_quarantined(corpus):
    s, _, _ = corpus
    f = "orders/orders_2025-01-03_timezones.csv"
    assert raw_lines(s, "orders", f, "order_id, order_ts") == [
        (2, "tz1", datetime(2025, 1, 3, 10, 0)),
        (3, "tz2", datetime(2025, 1, 3, 8, 0)),
        (4, "tz3", datetime(2025, 1, 3, 10, 0)),
        (6, "tz5", datetime(2025, 1, 3, 5, 30)),
    ]
    assert [(line, kind, column) for line, kind, column, _ in quarantined(s, f)] == [(5, "bad_type", "order_ts")]
    assert query(
        s.warehouse, "select order_id, order_ts from marts.analytics.fct_orders where order_id like 'tz%' order by 1"
    ) == [("tz1", datetime(2025, 1, 3, 10, 0)), ("tz2", datetime(2025, 1, 3, 8, 0)),
          ("tz3", datetime(2025, 1, 3, 10, 0)), ("tz5", datetime(2025, 1, 3, 5, 30))]


@pytest.mark.dbt
def test_duplicate_file_is_reported_and_its_rows_rejected_as_duplicates(corpus):
    s, _, second = corpus
    new, old = RESENT
    assert (second["files_loaded"], second["files_skipped"]) == (1, 15 + len(CORPUS))
    [warning] = [w for w in second["warnings"] if w.startswith(new)]
    assert "same content" in warning and f"as {old}, loaded before" in warning and "duplicate_key" in warning
    assert rejected(s, new) == [(2, "o4|1", "duplicate_key"), (3, "o1|1", "duplicate_key")]
    # o4 is counted once in the marts
    assert query(s.warehouse, "select revenue from marts.analytics.fct_orders where order_id = 'o4'") == [(Decimal("20.00"),)]


@pytest.mark.dbt
def test_row_accounting_balances_for_the_whole_corpus(corpus):
    s, _, _ = corpus
    rows = {
        r[0]: r[1:]
        for r in query(
            s.warehouse,
            "select entity, file_rows, accepted_rows, quarantined_rows, rejected_rows, balanced from audit.row_accounting",
        )
    }
    assert all(r[-1] for r in rows.values()), rows
    # landing_small's own counts (tests/expected_small.py) + the corpus files
    assert rows["orders"] == (10 + 12, 5 + 7, 2 + 2, 3 + 3, True)
    assert rows["order_lines"] == (10 + 10, 6, 1 + 5, 3 + 5, True)
    assert rows["returns"] == (2 + 3, 1, 0 + 2, 1 + 1, True)
    assert rows["customers"] == (6 + 2, 5 + 1, 1 + 1, 0, True)
    assert rows["service_interactions"] == (2 + 3, 2 + 1, 0 + 2, 0, True)
    # every quarantined line is one quarantine.rows row
    assert query(s.warehouse, "select count(*) from quarantine.rows") == [
        (sum(r[2] for r in rows.values()),)
    ]


# --- kinds that stop the run: IngestError naming the file and what to do; nothing is loaded -----------------

def _raw_count(s, entity: str) -> int:
    return query(s.warehouse, f"select count(*) from raw.{entity}")[0][0]


@pytest.mark.parametrize(
    ("delimiter", "name"), [(";", "semicolons"), ("\t", "tabs"), ("|", "pipes")], ids=["semicolon", "tab", "pipe"]
)
def test_wrong_delimiter_fails_the_run_naming_the_file(workspace, delimiter, name):
    f = workspace.landing_dir / "orders" / "orders_2025-01-03_export.csv"
    f.write_text(
        ORDERS.replace(",", delimiter) + delimiter.join(["wd1", "c1", "2025-01-03 10:00:00", "web", "completed", ""])
        + "\n"
    )
    with pytest.raises(IngestError) as err:
        ingest_landing(workspace)
    message = str(err.value)
    assert "\n" not in message
    assert f"{f}: the header is separated by {name}, not commas" in message
    assert "export the file again with ',' as the delimiter and replace it" in message
    assert _raw_count(workspace, "orders") == 0  # nothing at all was loaded, not even the good files


def test_missing_required_column_fails_the_run_naming_file_and_column(workspace):
    f = workspace.landing_dir / "returns" / "returns_2025-01-03_no_refund.csv"
    f.write_text("return_id,order_id,product_id,return_ts,quantity,reason\nmr1,o1,p1,2025-01-03 10:00:00,1,\n")
    with pytest.raises(IngestError, match=rf"{f}: missing required column\(s\) refund_amount for returns \(found: "
                       r"return_id, order_id, product_id, return_ts, quantity, reason\)\. Fix the export"):
        ingest_landing(workspace)
    assert _raw_count(workspace, "returns") == 0


def test_file_changed_after_load_fails_the_run_and_loads_nothing(workspace):
    ingest_landing(workspace)
    before = _raw_count(workspace, "products")
    f = workspace.landing_dir / "products" / "products_2024-01-01.csv"
    f.write_text(f.read_text() + "p4,Desk,furniture,80.00,150.00\n")  # a row appended in place
    (workspace.landing_dir / "orders" / "orders_2025-01-05.csv").write_text(
        ORDERS + "ch1,c1,2025-01-05 10:00:00,web,completed,\n"
    )
    with pytest.raises(IngestError) as err:
        ingest_landing(workspace)
    message = str(err.value)
    assert f"{f}: content changed after it was loaded" in message and "\n" not in message
    assert "deliver the correction as a new file with a new name, or restore the original" in message
    assert _raw_count(workspace, "products") == before
    assert query(workspace.warehouse, "select count(*) from raw.orders where order_id = 'ch1'") == [(0,)]


def test_missing_landing_folder_fails_the_run_with_what_to_do(tmp_path, monkeypatch, capsys):
    from cvw.cli import main

    nowhere = tmp_path / "exports" / "landing"
    with pytest.raises(IngestError, match=rf"landing folder {nowhere} does not exist.*CVW_LANDING_DIR"):
        ingest_landing(make_settings(tmp_path, landing=nowhere))
    # the CLI prints it as one line, without a traceback
    monkeypatch.setenv("CVW_HOME", str(tmp_path))
    monkeypatch.setenv("CVW_LANDING_DIR", str(nowhere))
    assert main(["ingest"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cvw ingest: error: landing folder {nowhere} does not exist")
    assert err.count("\n") == 1 and "Traceback" not in err
    # an existing landing folder with no files in any entity folder fails too
    (nowhere / "orders").mkdir(parents=True)
    with pytest.raises(IngestError, match="holds no .csv or .parquet files in any entity folder"):
        ingest_landing(make_settings(tmp_path, landing=nowhere))


def test_a_missing_entity_folder_is_a_warning_not_a_failure(workspace):
    shutil.rmtree(workspace.landing_dir / "wallet_surveys")
    (workspace.landing_dir / "installed_base" / "installed_base_2025-01-01.csv").unlink()
    result = ingest_landing(workspace)
    assert "no landing folder for wallet_surveys: raw.wallet_surveys stays as it is" in result.warnings
    assert (f"landing folder {workspace.landing_dir / 'installed_base'} holds no .csv or .parquet files: "
            "raw.installed_base stays as it is") in result.warnings
    assert result.files_loaded == 13


@pytest.mark.parametrize(
    ("file", "content", "expected"),
    [
        ("orders/orders_2025-01-03_utf16.csv", (ORDERS + "u1,c1,2025-01-03 10:00:00,web,completed,\n").encode("utf-16"),
         "the file is UTF-16 encoded; landing CSV files must be UTF-8"),
        ("orders/orders_2025-01-03.parquet", b"order_id,customer_id\n", "not a readable Parquet file"),
        ("orders/orders_2025-01-03_dup_columns.csv", (ORDERS.rstrip() + ",Order_ID\nd1,c1,2025-01-03,web,completed,,d1\n"
                                                      ).encode(),
         "duplicate column(s) order_id (names are case-insensitive). Rename or drop the extra one"),
    ],
    ids=["utf16", "not_parquet", "duplicate_column"],
)
def test_unreadable_file_fails_the_run_naming_it(workspace, file, content, expected):
    (workspace.landing_dir / file).write_bytes(content)
    with pytest.raises(IngestError) as err:
        ingest_landing(workspace)
    assert f"{workspace.landing_dir / file}: {expected}" in str(err.value)
    assert _raw_count(workspace, "orders") == 0


# --- ingest-only details -----------------------------------------------------------------------------------

def test_duplicate_file_within_one_delivery_is_reported(workspace):
    src = workspace.landing_dir / "orders" / "orders_2025-01-04.csv"
    shutil.copy(src, workspace.landing_dir / "orders" / "orders_2025-01-04_copy.csv")
    result = ingest_landing(workspace)
    [warning] = [w for w in result.warnings if "same content" in w]
    assert warning.startswith("orders/orders_2025-01-04_copy.csv: same content")
    assert "as orders/orders_2025-01-04.csv, also new in this run" in warning
    # both copies are loaded (the validation rejects the second as duplicate_key)
    assert query(workspace.warehouse, "select _source_file from raw.orders where order_id = 'o6' order by 1") == [
        ("orders/orders_2025-01-04.csv",), ("orders/orders_2025-01-04_copy.csv",)
    ]


def test_parquet_timestamps_with_offsets_and_non_finite_numbers(workspace):
    import pyarrow as pa
    import pyarrow.parquet as pq

    landing = workspace.landing_dir
    pq.write_table(pa.table({
        "order_id": ["pz1", "pz2", "pz3", "pz4"],
        "customer_id": ["c1"] * 4,
        "order_ts": ["2025-01-03T10:00:00Z", "2025-01-03 10:00:00+02:00", "2025-01-03 10:00:00",
                     "2025-01-03 10:00:00 Mars/Olympus"],
        "status": ["completed"] * 4,
    }), landing / "orders" / "orders_2025-01-03.parquet")
    pq.write_table(pa.table({
        "interaction_id": ["pd1", "pd2"],
        "customer_id": ["c1", "c1"],
        "interaction_ts": pa.array([datetime(2025, 1, 3, 9), datetime(2025, 1, 3, 10)], pa.timestamp("us", tz="UTC")),
        "type": ["inquiry", "inquiry"],
        "duration_minutes": [float("inf"), 3.5],
    }), landing / "service_interactions" / "service_interactions_2025-01-03.parquet")
    ingest_landing(workspace)
    assert query(
        workspace.warehouse,
        "select order_id, order_ts, _line_number from raw.orders where _source_file like '%.parquet' order by 1",
    ) == [("pz1", datetime(2025, 1, 3, 10), 2), ("pz2", datetime(2025, 1, 3, 8), 3),
          ("pz3", datetime(2025, 1, 3, 10), 4)]
    assert query(
        workspace.warehouse,
        "select source_file, line_number, column_name, error_kind from quarantine.rows "
        "where source_file like '%.parquet' order by 1",
    ) == [("orders/orders_2025-01-03.parquet", 5, "order_ts", "bad_type"),
          ("service_interactions/service_interactions_2025-01-03.parquet", 2, "duration_minutes", "bad_type")]
    assert query(
        workspace.warehouse,
        "select interaction_id, duration_minutes from raw.service_interactions where _source_file like '%.parquet'",
    ) == [("pd2", 3.5)]


def test_files_that_are_neither_csv_nor_parquet_are_reported(workspace):
    (workspace.landing_dir / "orders" / "orders_2025-01-03.csv.gz").write_bytes(b"\x1f\x8b")
    (workspace.landing_dir / "orders" / "orders_2025-01-03.xlsx").write_bytes(b"PK")
    (workspace.landing_dir / "orders" / "_SUCCESS").write_bytes(b"")
    result = ingest_landing(workspace)
    ignored = sorted(w for w in result.warnings if "only .csv and .parquet files are loaded" in w)
    assert [w.split(":")[0] for w in ignored] == ["orders/orders_2025-01-03.csv.gz", "orders/orders_2025-01-03.xlsx"]
    assert result.files_loaded == 15
