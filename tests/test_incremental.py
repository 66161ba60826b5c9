"""Incremental nights equal a full rebuild (issue 16). Files land night by night; every night runs incrementally
(the default) and a copy of the warehouse then runs the same date with --full-refresh on the same raw data.
Both must give the same validated facts, published tables, history of D, activation files, row accounting,
rejected rows, quarantine and manifest (whole-row hashes; ids and timestamps aside where they are per run).

The nights cover: an order before its customer, a line before its order, a return before its line (each
rejected for the missing reference, then accepted once it arrives), quarantined rows (landing_small's bad
rows), a skipped night, a late file dated D-5, a re-delivered file (same rows under a new name), a backfill of
an older date between nights, a night with no new files and a var change between nights."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from cvw.contract import ENTITIES
from cvw.pipeline import run

from tests.helpers import TINY_VARS, landing_until, make_settings, private_copy, published_checksums, query

pytestmark = [pytest.mark.dbt, pytest.mark.slow, pytest.mark.extended]

ORDER_HEADER = "order_id,customer_id,order_ts,channel,status,updated_at\n"
LINE_HEADER = "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
RETURN_HEADER = "return_id,order_id,product_id,return_ts,quantity,refund_amount,reason\n"
CUSTOMER_HEADER = (
    "customer_id,customer_type,name,email,phone,birth_date,gender,city,region,country,occupation,industry,"
    "employee_count,annual_revenue,acquisition_channel,signup_date,updated_at\n"
)

# what lands on each night beyond landing_small's files dated up to it: (folder, file name, text)
EXTRA = {
    date(2025, 1, 1): [
        # an order whose customer arrives the next night; a line and a return whose order/line come later
        ("orders", "orders_c7_2025-01-01.csv", ORDER_HEADER + "o7,c7,2025-01-01 15:00:00,web,completed,\n"),
        ("order_lines", "order_lines_o8_2025-01-01.csv", LINE_HEADER + "o8,1,p1,1,100.00,\n"),
        ("returns", "returns_o8_2025-01-01.csv", RETURN_HEADER + "r8,o8,p1,2025-01-01 18:00:00,1,50.00,other\n"),
    ],
    date(2025, 1, 2): [
        ("customers", "customers_c7_2025-01-02.csv",
         CUSTOMER_HEADER + "c7,B2C,Dan Example,dan@example.com,555-0107,1980-03-03,m,Paris,north,FR,,,,,web,"
         "2025-01-01,2025-01-01 14:00:00\n"),
        ("orders", "orders_o8_2025-01-02.csv", ORDER_HEADER + "o8,c7,2025-01-01 17:00:00,web,completed,\n"),
        ("order_lines", "order_lines_o7_2025-01-02.csv", LINE_HEADER + "o7,1,p2,3,5.00,\n"),
    ],
    # 2025-01-03 is skipped (no run), and backfilled after 2025-01-04
    date(2025, 1, 4): [
        # late: dated five days before the night it lands
        ("orders", "orders_late_2024-12-30.csv", ORDER_HEADER + "o10,c3,2024-12-30 09:00:00,store,completed,\n"),
        ("order_lines", "order_lines_late_2024-12-30.csv", LINE_HEADER + "o10,1,p3,2,50.00,\n"),
    ],
}
# re-delivered on 2025-01-04: a loaded file's rows again under a new name (its rows are duplicate_key)
RESENT = ("orders", "orders_2025-01-02.csv", "orders_resent_2025-01-02.csv")
NIGHTS = [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 4), date(2025, 1, 3), date(2025, 1, 5),
          date(2025, 1, 6)]
VAR_CHANGE_NIGHT = date(2025, 1, 6)


def _land(s, night: date) -> None:
    landing_until(s, min(night, date(2025, 1, 4)))
    for folder, name, text in EXTRA.get(night, []):
        (s.landing_dir / folder).mkdir(parents=True, exist_ok=True)
        (s.landing_dir / folder / name).write_text(text)
    if night == date(2025, 1, 4):
        folder, name, new_name = RESENT
        shutil.copy2(s.landing_dir / folder / name, s.landing_dir / folder / new_name)


def _hashes(db: Path, sql_from: str, columns: str = "t") -> tuple:
    return query(db, f"select count(*), sum(hash({columns})) from {sql_from}")[0]


def _state(s, as_of: date) -> dict:
    """Everything a run of `as_of` leaves that a full refresh must reproduce."""
    out = {f"validated.{e}": _hashes(s.warehouse, f"intermediate.int_crm__{e}_validated t") for e in ENTITIES}
    for table in ("row_accounting", "rejected_rows"):
        out[f"audit.{table}"] = _hashes(s.warehouse, f"audit.{table} t")
    out["quarantine"] = _hashes(s.warehouse, "quarantine.rows t", "t.entity, t.source_file, t.line_number, t.column_name, t.error_kind, t.reason, t.raw_line")
    out["manifest"] = _hashes(
        s.warehouse, "ingest.file_manifest t", "t.file_name, t.sha256, t.rows_loaded, t.rows_quarantined, t.file_records"
    )
    published = published_checksums(s.analytics_db)
    published.pop("publish_log")  # the copy has one more publish (the re-run); the rest must be equal
    out.update(published)
    out["history_of_d"] = _hashes(
        s.analytics_db, "analytics.customer_segments_history t where as_of_date = ?".replace("?", f"'{as_of}'")
    )
    folder = s.publish_dir / f"activation/as_of_date={as_of}"
    out["activation"] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    return out


def test_incremental_nights_equal_a_full_refresh_of_each_night(tmp_path, monkeypatch):
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)
    s = make_settings(tmp_path / "nightly")
    builds = {}
    for i, night in enumerate(NIGHTS):
        if night == VAR_CHANGE_NIGHT:
            monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS[:-1] + ', "max_line_amount": 999}')
        _land(s, night)
        summary = run(s, night)
        builds[night] = summary["build"]["full_refresh"]

        full = private_copy(s, tmp_path / f"full_{i}")
        assert run(full, night, full_refresh=True)["build"]["full_refresh"] == "asked for (--full-refresh)"
        incremental_state, full_state = _state(s, night), _state(full, night)
        differing = sorted(k for k in full_state if incremental_state[k] != full_state[k])
        assert not differing, f"{night}: incremental differs from a full refresh in {differing}"

    # the first night has nothing to continue from, the var change refreshes by itself, the rest are incremental
    assert builds == {
        date(2025, 1, 1): "no earlier build to continue from",
        date(2025, 1, 2): None, date(2025, 1, 4): None, date(2025, 1, 3): None, date(2025, 1, 5): None,
        date(2025, 1, 6): "the dbt project or its vars changed since the last build",
    }
    # the late arrivals were rejected for the missing reference, then accepted once it arrived
    reasons = dict(query(s.warehouse, "select _line_number || ':' || order_id, rejection_reason "
                                      "from intermediate.int_crm__orders_validated where order_id in ('o7', 'o8')"))
    assert reasons == {"2:o7": None, "2:o8": None}
    assert query(s.warehouse, "select order_id, rejection_reason from intermediate.int_crm__order_lines_validated "
                              "where order_id in ('o7', 'o8', 'o10') order by 1") == [
        ("o10", None), ("o7", None), ("o8", None)]
    assert query(s.warehouse, "select rejection_reason from intermediate.int_crm__returns_validated "
                              "where return_id = 'r8'") == [(None,)]
    # the re-delivered file's rows are duplicates of the first delivery; the late order is in the facts
    resent = query(s.warehouse, "select distinct rejection_reason from intermediate.int_crm__orders_validated "
                                "where _source_file like '%orders_resent_2025-01-02.csv'")
    assert resent == [("duplicate_key",)]
    assert query(s.analytics_db, "select count(*) from analytics.fct_orders where order_id = 'o10'") == [(1,)]
