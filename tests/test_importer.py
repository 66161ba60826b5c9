"""Tests of the transaction-log importer (cvw.importer)."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from cvw.contract import ENTITIES
from cvw.importer import import_transactions

pytestmark = pytest.mark.integration

lifetimes = pytest.importorskip("lifetimes")
CDNOW = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
CDNOW_COLUMNS = ["customer_id", "customer_index", "date", "quantity", "amount"]


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _money(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    out = tmp_path_factory.mktemp("cdnow")
    res = import_transactions(
        CDNOW,
        out,
        customer_col="customer_id",
        date_col="date",
        amount_col="amount",
        quantity_col="quantity",
        date_format="%Y%m%d",
        header=False,
        columns=CDNOW_COLUMNS,
    )
    return out, res


def test_cdnow_counts_and_amounts(cdnow):
    out, res = cdnow
    src = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    file_total = sum(Decimal(r[4]) for r in src)
    assert res["customers"] == 2357 and res["orders"] == 6919 and res["order_lines"] == 6919
    assert Decimal(res["amount_total"]) == file_total
    orders = _rows(out / "orders" / "CDNOW_sample.csv")
    lines = _rows(out / "order_lines" / "CDNOW_sample.csv")
    customers = _rows(out / "customers" / "CDNOW_sample.csv")
    assert len(orders) == len(lines) == 6919 and len(customers) == 2357
    # row n of the file is order CDNOW_sample-n; each line's revenue equals the row's amount
    for n, (s, o, ln) in enumerate(zip(src, orders, lines, strict=True), start=1):
        assert o["order_id"] == ln["order_id"] == f"CDNOW_sample-{n}"
        assert o["customer_id"] == s[0]
        assert o["order_ts"] == f"{s[2][:4]}-{s[2][4:6]}-{s[2][6:]} 00:00:00"
        assert o["status"] == "completed" and o["channel"] == "" and o["updated_at"] == ""
        assert ln["line_number"] == "1" and ln["product_id"] == "unknown"
        assert int(ln["quantity"]) == int(s[3])
        revenue = int(ln["quantity"]) * Decimal(ln["unit_price"]) - _money(ln["discount_amount"])
        assert revenue == Decimal(s[4]), n
        assert _money(ln["discount_amount"]) < Decimal(int(ln["quantity"])) / 100  # rounding only
    assert (
        sum(int(r["quantity"]) * Decimal(r["unit_price"]) - _money(r["discount_amount"]) for r in lines)
        == file_total
    )
    # customers: first transaction date as updated_at, everything else empty
    first = defaultdict(lambda: "99999999")
    for s in src:
        first[s[0]] = min(first[s[0]], s[2])
    for c in customers:
        d = first[c["customer_id"]]
        assert c["updated_at"] == f"{d[:4]}-{d[4:6]}-{d[6:]} 00:00:00"
        assert all(v == "" for k, v in c.items() if k not in ("customer_id", "updated_at"))
    assert _rows(out / "products" / "CDNOW_sample.csv") == [
        {
            "product_id": "unknown",
            "product_name": "unknown",
            "category": "unknown",
            "unit_cost": "0.00",
            "list_price": "0.00",
        }
    ]
    assert res["rounding_discount_lines"] == sum(1 for r in lines if r["discount_amount"])


def test_cdnow_files_follow_the_contract(cdnow):
    import duckdb

    out, _ = cdnow
    con = duckdb.connect()
    for entity in ("orders", "order_lines", "customers", "products"):
        path = out / entity / "CDNOW_sample.csv"
        with open(path) as fh:
            assert fh.readline().rstrip("\n") == ",".join(ENTITIES[entity].columns)
        cols = ENTITIES[entity].columns
        con.execute(f"""CREATE TABLE {entity} AS SELECT * FROM read_csv('{path}', columns = {cols!r},
                        header = true, delim = ',', quote = '"', escape = '"', auto_detect = false,
                        store_rejects = true, rejects_table = 'rej_{entity}',
                        rejects_scan = 'scan_{entity}')""")
        assert con.execute(f"SELECT count(*) FROM {entity}").fetchone()[0] > 0
        assert con.execute(f"SELECT count(*) FROM rej_{entity}").fetchone()[0] == 0
        for col in ENTITIES[entity].required:
            assert con.execute(f"SELECT count(*) FROM {entity} WHERE {col} IS NULL").fetchone()[0] == 0, (
                entity,
                col,
            )
    assert con.execute(
        "SELECT sum(quantity * unit_price - coalesce(discount_amount, 0)) FROM order_lines"
    ).fetchone()[0] == Decimal("244091.94")


def test_cdnow_default_delimiter_and_deterministic(tmp_path, cdnow):
    out, _ = cdnow
    res = import_transactions(
        CDNOW,
        tmp_path,
        customer_col="column0",
        date_col="column2",
        amount_col="column4",
        quantity_col="column3",
        header=False,
    )  # whitespace detected, YYYYMMDD detected
    assert res["orders"] == 6919 and res["customers"] == 2357
    for entity in ("orders", "order_lines", "customers", "products"):
        assert (tmp_path / entity / "CDNOW_sample.csv").read_bytes() == (
            out / entity / "CDNOW_sample.csv"
        ).read_bytes()


def test_csv_with_header_and_rounding(tmp_path):
    f = tmp_path / "shop log.csv"
    f.write_text(
        "Client,Day,Total,Units\n"
        "a,2024-03-01,10.00,3\n"  # 10.00 / 3: unit 3.34, rounding discount 0.02
        "b,2024-03-02,9.00,3\n"  # exact: unit 3.00, no discount
        "a,2024-02-28,5.5,\n"  # no quantity: 1 x 5.50 (defaulted)
        "c,2024-03-03,-4.00,0\n"  # zero quantity: 1 x -4.00 (defaulted), amount kept
        '"d, inc",2024-03-04,1.99,2\n'
    )
    res = import_transactions(
        f, tmp_path / "out", customer_col="client", date_col="day", amount_col="total", quantity_col="units"
    )
    assert res["orders"] == 5 and res["customers"] == 4 and res["quantity_defaulted"] == 2
    assert res["amount_total"] == "22.49"
    lines = _rows(tmp_path / "out" / "order_lines" / "shop log.csv")
    got = [(r["order_id"], r["quantity"], r["unit_price"], r["discount_amount"]) for r in lines]
    assert got == [
        ("shop log-1", "3", "3.34", "0.02"),
        ("shop log-2", "3", "3.00", ""),
        ("shop log-3", "1", "5.50", ""),
        ("shop log-4", "1", "-4.00", ""),
        ("shop log-5", "2", "1.00", "0.01"),
    ]
    customers = {
        r["customer_id"]: r["updated_at"] for r in _rows(tmp_path / "out" / "customers" / "shop log.csv")
    }
    assert customers == {
        "a": "2024-02-28 00:00:00",
        "b": "2024-03-02 00:00:00",
        "c": "2024-03-03 00:00:00",
        "d, inc": "2024-03-04 00:00:00",
    }


def test_no_quantity_column_and_date_format(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("31/12/2023\tx\t12.345\n01/01/2024\ty\t7\n")
    res = import_transactions(
        f,
        tmp_path / "o",
        customer_col="c",
        date_col="d",
        amount_col="a",
        date_format="%d/%m/%Y",
        header=False,
        columns=["d", "c", "a"],
    )
    assert res["orders"] == 2 and res["quantity_defaulted"] == 0 and res["amount_total"] == "19.35"
    orders = _rows(tmp_path / "o" / "orders" / "t.csv")
    assert [o["order_ts"] for o in orders] == ["2023-12-31 00:00:00", "2024-01-01 00:00:00"]
    lines = _rows(tmp_path / "o" / "order_lines" / "t.csv")
    assert [(r["quantity"], r["unit_price"]) for r in lines] == [("1", "12.35"), ("1", "7.00")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("c,d,a\nx,2024-01-01,1.00\ny,not a date,2.00\n", "unparseable date; first data rows: [2]"),
        ("c,d,a\nx,2024-01-01,abc\n", "unparseable amount"),
        ("c,d,a\n,2024-01-01,1.00\n", "empty customer id"),
    ],
)
def test_bad_rows_fail_loudly(tmp_path, text, message):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_transactions(f, tmp_path / "o", customer_col="c", date_col="d", amount_col="a")


def test_whitespace_wrong_field_count_fails(tmp_path):
    f = tmp_path / "ws.txt"
    f.write_text(" 1 19970101 2 10.00\n 2 19970102 1\n")
    with pytest.raises(ValueError, match="field count"):
        import_transactions(
            f, tmp_path / "o", customer_col="column0", date_col="column1", amount_col="column3", header=False
        )
    with pytest.raises(ValueError, match="not found"):
        import_transactions(
            CDNOW, tmp_path / "o", customer_col="nope", date_col="column2", amount_col="column4", header=False
        )
