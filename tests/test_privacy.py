"""Privacy (SPEC §9): no direct identifier (name, email, phone, exact birth date) reaches `analytics`.

The check scans every published table and view, column by column, against the identifiers in
`raw.customers` and against the shapes of e-mails and phone numbers. A birth date also leaks when it can be
derived: a published date on the customer's birthday (with the published birth year, the exact date), or a day
count that added to as_of_date lands on it (`days_until` of a birthday event). It is run on planted leaks
first, so a check that can no longer see a leak fails too.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.dbt

IDENTIFIER_COLUMNS = re.compile(r"(^|_)(name|e_?mail|phone|mobile|birth|dob|address|street|zip|postcode)($|_)")
EMAIL = r"[^@\s]+@[^@\s]+\.[a-z]{2,}"
PHONE = r"\+?\d[\d ().-]{5,}\d"
# named like an identifier, and known not to be one
NOT_IDENTIFIERS = {
    "dim_customers.birth_year": "the year only (SPEC §9 bans the exact birth date)",
    "history_files.table_name": "the name of a published table",
}


def identifier_leaks(analytics_db, warehouse) -> list[str]:
    """Every (table, column, what) where a published column holds or is named like a direct identifier."""
    from cvw import db

    leaks = []
    with db.connect(warehouse, read_only=True) as con:
        con.execute(f"attach '{analytics_db}' as pub (read_only)")
        try:
            people = con.execute(
                "select list(distinct v) filter (where v is not null) from (select unnest([name, email, phone]) as v "
                "from raw.customers)"
            ).fetchone()[0] or []
            con.execute("create temp table births as select distinct customer_id, try_cast(birth_date as date) as d "
                        "from raw.customers where try_cast(birth_date as date) is not null")
            columns = con.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_catalog = 'pub' and table_schema = 'analytics' order by all"
            ).fetchall()
            by_table: dict[str, list[str]] = {}
            for table, column, _ in columns:
                by_table.setdefault(table, []).append(column)
            for table, column, data_type in columns:
                if IDENTIFIER_COLUMNS.search(column) and f"{table}.{column}" not in NOT_IDENTIFIERS:
                    leaks.append(f"{table}.{column}: named like a direct identifier")
                ref = f'pub.analytics.{table}."{column}"'
                if data_type == "VARCHAR":
                    hits = con.execute(
                        f'select count(*) from pub.analytics.{table} where "{column}" in (select unnest(?)) '
                        f"or regexp_full_match(\"{column}\", '{EMAIL}') or regexp_full_match(\"{column}\", '{PHONE}')",
                        [people],
                    ).fetchone()[0]
                    if hits:
                        leaks.append(f"{ref}: {hits} value(s) are names, e-mails or phone numbers")
                elif data_type in ("DATE", "TIMESTAMP") and "customer_id" in by_table[table]:
                    hits = con.execute(
                        f'select count(*) from pub.analytics.{table} t join births b '
                        f'on b.customer_id = t.customer_id and b.d = cast(t."{column}" as date)'
                    ).fetchone()[0]
                    if hits:
                        leaks.append(f"{ref}: {hits} value(s) are the customer's birth date")
                    elif _lands_on_birthdays(con, table, f'cast(t."{column}" as date)'):
                        leaks.append(f"{ref}: the values fall on the customer's birthday (with birth_year: the "
                                     "birth date)")
                elif (data_type in ("INTEGER", "BIGINT") and "day" in column
                      and {"customer_id", "as_of_date"} <= set(by_table[table])):
                    for sign in ("+", "-"):  # days until / days since
                        if _lands_on_birthdays(con, table, f't.as_of_date {sign} cast(t."{column}" as integer)'):
                            leaks.append(f"{ref}: as_of_date {sign} {column} falls on the customer's birthday (with "
                                         "birth_year: the birth date)")
        finally:
            con.execute("detach database if exists pub")  # the instance may be shared in-process
    return leaks


def _lands_on_birthdays(con, table: str, day_sql: str) -> bool:
    """Whether `day_sql` (over `t`, a row of the published table) falls on the customer's birthday (month and
    day) for most of the rows that have a value and a known birth date: a coincidence is one row in 365."""
    hits, rows = con.execute(
        f"select count(*) filter (where month({day_sql}) = month(b.d) and day({day_sql}) = day(b.d)), "
        f"count({day_sql}) from pub.analytics.{table} t join births b on b.customer_id = t.customer_id"
    ).fetchone()
    return hits > 0 and hits * 2 > rows


def test_nothing_published_holds_a_direct_identifier(small_run):
    s, _ = small_run
    assert identifier_leaks(s.analytics_db, s.warehouse) == []


def test_the_check_finds_planted_leaks(small_run, tmp_path):
    import shutil

    from cvw import db

    s, _ = small_run
    leaky = tmp_path / "leaky.duckdb"
    shutil.copy(s.analytics_db, leaky)
    with db.connect(leaky) as con:
        con.execute("create table analytics.leak as select customer_id, city as note, as_of_date as seen "
                    "from analytics.dim_customers")
        con.execute("update analytics.leak set note = 'ann@example.com' where customer_id = 'c1'")
        con.execute("update analytics.leak set note = 'Bob Example', seen = date '1985-12-24' where customer_id = 'c3'")
        con.execute("alter table analytics.dim_customers add column customer_email varchar")
        # what customer_events published before issue 14: days to the birthday (c1: Jan 8, as of Jan 3)
        con.execute("create table analytics.early_events as select 'c1' as customer_id, 5 as days_until, "
                    "as_of_date, as_of_date + 5 as greeting_day from analytics.dim_customers limit 1")
    leaks = identifier_leaks(leaky, s.warehouse)
    assert leaks == [
        "dim_customers.customer_email: named like a direct identifier",
        "pub.analytics.early_events.\"days_until\": as_of_date + days_until falls on the customer's birthday "
        "(with birth_year: the birth date)",
        "pub.analytics.early_events.\"greeting_day\": the values fall on the customer's birthday (with birth_year: "
        "the birth date)",
        "pub.analytics.leak.\"note\": 2 value(s) are names, e-mails or phone numbers",
        "pub.analytics.leak.\"seen\": 1 value(s) are the customer's birth date",
    ]
