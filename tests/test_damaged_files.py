"""Damaged exports, on every engine: the classes of damage found by trying the warehouse as a new user would
(issue 14). Each file below carries one class; the whole set is ingested once per engine (DuckDB, PostgreSQL,
Spark), next to landing_small, and every test asserts on what that ingest wrote.

Classes: an unclosed quote and stray quotes (one line lost to quarantine, never the rest of the file), blank
lines (line numbers stay the lines of the file), mixed and old-Mac line endings (read, not a traceback),
`*`, `[` and `'` in file names (exact paths), header names that are not identifiers or try to be SQL (safe
drift names, nothing executed), a 5 MB line and a row with four bad values (one record, one quarantine row),
numbers that would need rounding (refused, not rounded) and non-finite doubles. Row accounting is counted
from the files' bytes.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.helpers import ENGINES, copy_landing_small, engine_query, engine_workspace

pytestmark = pytest.mark.integration

ORDERS = "order_id,customer_id,order_ts,channel,status,updated_at\n"
LINES = "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
INTERACTIONS = "interaction_id,customer_id,interaction_ts,channel,type,duration_minutes,satisfaction_score,resolved\n"
INJECTION = "1 as varchar) as a from (select 1 as order_id); create table main.pwned as select 42 as x; --"
LONG_LINE = "x" * 5_000_000

DAMAGED: dict[str, bytes] = {
    "orders/orders_2025-01-03_unclosed_quote.csv": (
        ORDERS
        + "u1,c1,2025-01-03 09:00:00,web,completed,\n"  # 2
        + "u2,c1,2025-01-03 09:10:00,web,completed,\n"  # 3
        + 'u3,c1,2025-01-03 09:20:00,"web,completed,\n'  # 4: a quote that never closes
        + "u4,c1,2025-01-03 09:30:00,web,completed,\n"  # 5
        + "u5,c1,2025-01-03 09:40:00,web,completed,\n"  # 6
    ).encode(),
    "orders/orders_2025-01-03_stray_quotes.csv": (
        ORDERS
        + "s1,c1,2025-01-03 09:00:00,web,completed,\n"  # 2
        + 's2,c1,2025-01-03 09:00:00,we"b,completed,\n'  # 3: a quote inside an unquoted field
        + "s3,c1,2025-01-03 09:00:00,web,completed,\n"  # 4
        + 's4,c1,2025-01-03 09:00:00,w"e"b,completed,\n'  # 5: two of them
        + 's5,c1,2025-01-03 09:00:00,we"b,completed,\n'  # 6: pairs with line 3's quote
        + "s6,c1,2025-01-03 09:00:00,web,completed,\n"  # 7
    ).encode(),
    "orders/orders_2025-01-03_blank_lines.csv": (
        ORDERS
        + "b1,c1,2025-01-03 09:00:00,web,completed,\n"  # 2
        + "\n"  # 3
        + "b2,c1,2025-01-03 09:00:00,web,completed,\n"  # 4
        + "   \n"  # 5
        + "b3,c1,noon,web,completed,\n"  # 6: bad_type
        + "b4,c1,2025-01-03 09:00:00,web,completed,\n"  # 7
    ).encode(),
    "orders/orders_2025-01-03_crlf_rows.csv": (  # LF header, CRLF rows
        ORDERS + "r1,c1,2025-01-03 09:00:00,web,completed,\r\nr2,c1,2025-01-03 09:00:00,web,cancelled,"
        "2025-01-03 10:00:00\r\n"
    ).encode(),
    "orders/orders_2025-01-03_one_crlf.csv": (
        ORDERS + "r3,c1,2025-01-03 09:00:00,web,completed,\nr4,c1,2025-01-03 09:00:00,web,completed,\r\n"
        "r5,c1,2025-01-03 09:00:00,store,completed,\n"
    ).encode(),
    "orders/orders_2025-01-03_old_mac.csv": (ORDERS + "r6,c1,2025-01-03 09:00:00,web,completed,\n").replace(
        "\n", "\r"
    ).encode(),
    "orders/orders_2025-01-0*.csv": (ORDERS + "x1,c1,2025-01-03 09:00:00,web,completed,\n"
                                     "x2,c1,2025-01-03 09:00:00,web,completed,\n").encode(),
    "orders/orders_2025-01-0[1].csv": (ORDERS + "x3,c1,2025-01-03 09:00:00,web,completed,\n").encode(),
    "orders/o'rders_2025-01-03.csv": (ORDERS + "x4,c1,2025-01-03 09:00:00,web,completed,\n").encode(),
    "orders/orders_2025-01-03_odd_header.csv": (
        f'order_id,customer_id,order_ts,status,Sales Rep,group,(x),"{INJECTION}"\n'
        "d1,c1,2025-01-03 09:00:00,completed,Ann,g1,x1,evil\n"
    ).encode(),
    "order_lines/order_lines_2025-01-03_long_line.csv": (
        LINES + "o1,9,p1,1,5.00,\n" + LONG_LINE + "\n" + "o1,10,p1,1,5.00,\n"
    ).encode(),
    "service_interactions/service_interactions_2025-01-03_four_bad.csv": (
        INTERACTIONS + "fb1,c3,yesterday,phone,inquiry,long,4.5,maybe\n"
    ).encode(),
    "order_lines/order_lines_2025-01-03_rounding.csv": (
        LINES
        + "o1,11,p1,1.5,5.00,\n"  # 2: a quantity of 1.5 is not 2
        + "o1,12,p1,1,1.005,\n"  # 3: money has cents
        + "o1,13,p1,2.0,3.500,0.10\n"  # 4: exactly 2 and 3.50: loaded
        + "o1,14,p1,1,5.00,0.001\n"  # 5
    ).encode(),
    "service_interactions/service_interactions_2025-01-03_infinity.csv": (
        INTERACTIONS
        + "if1,c3,2025-01-03 10:00:00,phone,inquiry,1e400,4,true\n"
        + "if2,c3,2025-01-03 10:00:00,phone,inquiry,inf,4,true\n"
        + "if3,c3,2025-01-03 10:00:00,phone,inquiry,NaN,4,true\n"
        + "if4,c3,2025-01-03 10:00:00,phone,inquiry,2.5,4,true\n"
    ).encode(),
}

QUERIES = {
    "quarantine": "select source_file, line_number, error_kind, column_name, reason, raw_line from quarantine.rows",
    "orders": "select _source_file, _line_number, order_id, channel, status, updated_at from raw.orders",
    "lines": "select _source_file, _line_number, order_id, line_number, quantity, unit_price, discount_amount "
             "from raw.order_lines",
    "interactions": "select _source_file, _line_number, interaction_id, duration_minutes from raw.service_interactions",
    "manifest": "select file_name, rows_loaded, rows_quarantined, file_lines, blank_lines, file_records "
                "from ingest.file_manifest",
    "drift": "select source_file, column_name, stored_as from ingest.schema_drift",
    "drift_values": "select sales_rep, group_, x from raw.orders where order_id = 'd1'",
}


def _tables_named(settings, name: str) -> list[str]:
    """Every table called `name` in any schema/database of the engine's warehouse."""
    if settings.target == "spark":
        from cvw.engines.spark import get_session

        spark = get_session(settings)
        return [
            f"{db[0]}.{t.tableName}" for db in spark.sql("show databases").collect()
            for t in spark.sql(f"show tables in {db[0]}").collect() if t.tableName.lower() == name
        ]
    return [f"{s}.{t}" for s, t in engine_query(
        settings, f"select table_schema, table_name from information_schema.tables where lower(table_name) = '{name}'"
    )]


@pytest.fixture(scope="module", params=ENGINES)
def damaged(request, tmp_path_factory):
    """landing_small + DAMAGED ingested once on one engine; everything the tests read, fetched."""
    from cvw.ingest import ingest_landing

    home = tmp_path_factory.mktemp(f"damaged_{request.param}")
    copy_landing_small(home / "landing")
    for rel, content in DAMAGED.items():
        (home / "landing" / rel).write_bytes(content)
    with engine_workspace(request, request.param, home) as s:
        result = ingest_landing(s)
        rows = {name: sorted(engine_query(s, sql), key=repr) for name, sql in QUERIES.items()}
        rows["pwned"] = _tables_named(s, "pwned")
    return result, rows


def quarantined(rows, file: str) -> list[tuple]:
    return sorted((r[1], r[2], r[3]) for r in rows["quarantine"] if r[0] == file)


def loaded(rows, table: str, file: str) -> list[tuple]:
    return sorted(r[1:] for r in rows[table] if r[0] == file)


def manifest(rows, file: str) -> tuple:
    [row] = [r[1:] for r in rows["manifest"] if r[0] == file]
    return row


def test_an_unclosed_quote_costs_its_line_only(damaged):
    _, rows = damaged
    f = "orders/orders_2025-01-03_unclosed_quote.csv"
    assert [r[:2] for r in loaded(rows, "orders", f)] == [(2, "u1"), (3, "u2"), (5, "u4"), (6, "u5")]
    assert quarantined(rows, f) == [(4, "bad_quoting", None)]
    # rows loaded, quarantined, lines after the header, blank lines, records counted from the bytes
    assert manifest(rows, f) == (4, 1, 5, 0, 5)


def test_stray_quotes_are_quarantined_and_the_lines_between_them_load(damaged):
    _, rows = damaged
    f = "orders/orders_2025-01-03_stray_quotes.csv"
    assert [r[:2] for r in loaded(rows, "orders", f)] == [(2, "s1"), (4, "s3"), (7, "s6")]
    assert quarantined(rows, f) == [(3, "bad_quoting", None), (5, "bad_quoting", None), (6, "bad_quoting", None)]
    assert manifest(rows, f) == (3, 3, 6, 0, 6)


def test_line_numbers_are_the_lines_of_the_file_after_blank_lines(damaged):
    _, rows = damaged
    f = "orders/orders_2025-01-03_blank_lines.csv"
    assert [r[:2] for r in loaded(rows, "orders", f)] == [(2, "b1"), (4, "b2"), (7, "b4")]
    assert quarantined(rows, f) == [(6, "bad_type", "order_ts")]
    assert manifest(rows, f) == (3, 1, 6, 2, 4)


def test_mixed_and_old_mac_line_endings_are_read(damaged):
    _, rows = damaged
    from datetime import datetime

    assert loaded(rows, "orders", "orders/orders_2025-01-03_crlf_rows.csv") == [
        (2, "r1", "web", "completed", None), (3, "r2", "web", "cancelled", datetime(2025, 1, 3, 10)),
    ]
    assert loaded(rows, "orders", "orders/orders_2025-01-03_one_crlf.csv") == [
        (2, "r3", "web", "completed", None), (3, "r4", "web", "completed", None),
        (4, "r5", "store", "completed", None),
    ]
    assert loaded(rows, "orders", "orders/orders_2025-01-03_old_mac.csv") == [(2, "r6", "web", "completed", None)]


def test_wildcard_characters_in_file_names_are_characters(damaged):
    _, rows = damaged
    for f, ids in [("orders/orders_2025-01-0*.csv", ["x1", "x2"]), ("orders/orders_2025-01-0[1].csv", ["x3"]),
                   ("orders/o'rders_2025-01-03.csv", ["x4"])]:
        assert [r[1] for r in loaded(rows, "orders", f)] == ids
        assert manifest(rows, f)[:2] == (len(ids), 0)
    # every file once: its raw and quarantine rows are exactly its records, and no file was read twice
    names = [r[0] for r in rows["manifest"]]
    assert len(names) == len(set(names))
    for name, loaded_rows, quarantined_rows, _, _, records in rows["manifest"]:
        table = {"orders": "orders", "order_lines": "lines", "service_interactions": "interactions"}.get(
            name.split("/")[0])
        if table:
            assert len(loaded(rows, table, name)) == loaded_rows, name
        assert len(quarantined(rows, name)) == quarantined_rows, name
        assert loaded_rows + quarantined_rows == records, name


def test_header_names_are_data_never_sql(damaged):
    _, rows = damaged
    f = "orders/orders_2025-01-03_odd_header.csv"
    drift = {c: stored for file, c, stored in rows["drift"] if file == f}
    stored = drift.pop(INJECTION.lower())
    assert drift == {"(x)": "x", "group": "group_", "sales rep": "sales_rep"}
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,62}", stored)
    assert rows["drift_values"] == [("Ann", "g1", "x1")]
    assert rows["pwned"] == []  # the crafted header created nothing


def test_one_record_is_one_quarantine_row_listing_every_reason(damaged):
    _, rows = damaged
    f = "order_lines/order_lines_2025-01-03_long_line.csv"
    assert quarantined(rows, f) == [(3, "wrong_column_count", None)]
    [raw_line] = [r[5] for r in rows["quarantine"] if r[0] == f]
    assert raw_line.startswith("xxxx") and len(raw_line) < 70_000 and "5,000,000 characters" in raw_line
    assert [r[:2] for r in loaded(rows, "lines", f)] == [(2, "o1"), (4, "o1")]
    f = "service_interactions/service_interactions_2025-01-03_four_bad.csv"
    [(line, kind, column, reason, _)] = [r[1:] for r in rows["quarantine"] if r[0] == f]
    assert (line, kind, column) == (2, "bad_type", "interaction_ts")
    assert reason.count("Error when converting column") == 4
    for column, value in [("interaction_ts", "yesterday"), ("duration_minutes", "long"),
                          ("satisfaction_score", "4.5"), ("resolved", "maybe")]:
        assert f'column "{column}". Could not convert string "{value}"' in reason


def test_numbers_are_never_rounded(damaged):
    _, rows = damaged
    f = "order_lines/order_lines_2025-01-03_rounding.csv"
    assert quarantined(rows, f) == [(2, "bad_type", "quantity"), (3, "bad_type", "unit_price"),
                                    (5, "bad_type", "discount_amount")]
    reasons = {r[1]: r[4] for r in rows["quarantine"] if r[0] == f}
    assert reasons[2].endswith("a whole number is expected, it is not rounded")
    assert reasons[3].endswith("money has at most 2 decimal places, it is not rounded")
    # trailing zeros are exact: 2.0 is 2 and 3.500 is 3.50
    assert loaded(rows, "lines", f) == [(4, "o1", 13, 2, Decimal("3.50"), Decimal("0.10"))]


def test_non_finite_doubles_are_quarantined(damaged):
    _, rows = damaged
    f = "service_interactions/service_interactions_2025-01-03_infinity.csv"
    assert quarantined(rows, f) == [(2, "bad_type", "duration_minutes"), (3, "bad_type", "duration_minutes"),
                                    (4, "bad_type", "duration_minutes")]
    assert loaded(rows, "interactions", f) == [(5, "if4", 2.5)]


def test_the_ingest_summary_counts_records_from_the_files(damaged):
    result, rows = damaged
    for entity in ("orders", "order_lines", "service_interactions"):
        assert result.file_records[entity] == result.rows_loaded[entity] + result.rows_quarantined[entity]
    assert sum(result.file_records.values()) == sum(r[5] for r in rows["manifest"])


def test_a_failed_ingest_loads_nothing_of_any_entity(engine_settings, monkeypatch):
    """All or nothing per run: a file that vanishes while the ingest runs (read after other entities were
    written) stops the ingest naming it, and nothing of the run stays, on every engine."""
    from cvw.engines import base
    from cvw.ingest import IngestError, ingest_landing

    s = engine_settings
    plan = base.plan

    def plan_then_lose_a_file(known, files, warnings=None):
        new, skipped = plan(known, files, warnings)
        (s.landing_dir / "wallet_surveys" / "wallet_surveys_2025-01-01.csv").unlink()  # read last
        return new, skipped

    monkeypatch.setattr(base, "plan", plan_then_lose_a_file)
    with pytest.raises(IngestError) as err:
        ingest_landing(s)
    message = str(err.value)
    assert "\n" not in message and "nothing was loaded" in message
    assert "wallet_surveys/wallet_surveys_2025-01-01.csv" in message
    for table in ("raw.customers", "raw.orders", "raw.order_lines", "quarantine.rows", "ingest.file_manifest"):
        assert engine_query(s, f"select count(*) from {table}") == [(0,)], table
