"""Customer events, campaign audience, activation files and `cvw explain-audience` (SPEC 4.11).

On landing_small as of 2025-01-03 (a Friday): c1's birthday (Jan 8) fires for the next week; c1 opted in to email only and was contacted on
Jan 1, so the 1-in-7-days cap suppresses it. On a generated data set run two nights in a row: the gate's
audience rules hold on real volumes, activation files hold exactly the eligible rows, are listed in
publish_log and are byte-identical on a re-run of the date; explain-audience tells why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest
from cvw.catalog import PUBLISHED_TABLES

from tests.helpers import GENERATED_END, GENERATED_NIGHTS, SMALL_AS_OF, private_copy, query, table_checksums

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


def test_small_birthday_event_is_suppressed_by_the_7_day_cap(small_run):
    s, summary = small_run
    assert query(s.analytics_db, "select customer_id, event_type, days_until, event_week, purpose, offer_category, "
                                 "no_offer_reason from analytics.customer_events") == [
        ("c1", "birthday_upcoming", None, date(2025, 1, 6), "birthday_greeting", None,
         "no_rule_to_an_unbought_category")
    ]
    assert query(s.analytics_db, "select customer_id, channel, is_eligible, suppression_reason, contacts_7d_before, "
                                 "opted_in_channels, plan_rank from analytics.campaign_audience") == [
        ("c1", "email", False, "cap_7d", 1, 1, 1)
    ]
    # nobody to contact: every channel still gets its (header-only) files, listed in publish_log
    (log,) = query(s.analytics_db, "select run_summary from analytics.publish_log")
    files = json.loads(log[0])["activation_files"]
    assert sorted((f["channel"], f["format"], f["rows"]) for f in files) == sorted(
        (c, fmt, 0) for c in ("email", "sms", "phone", "mail") for fmt in ("csv", "parquet")
    )
    for f in files:
        assert (s.publish_dir / f["path"]).exists()
    header = (s.publish_dir / f"activation/as_of_date={SMALL_AS_OF}/email.csv").read_text().strip()
    assert header == '"customer_id","event_type","offer_category","priority","channel","as_of_date"'


# --- a generated data set, two nights ----------------------------------------------------------------------

END = GENERATED_END
NIGHTS = GENERATED_NIGHTS


def _audience(s, where="true"):
    return query(s.analytics_db, f"select * from analytics.campaign_audience where {where} order by all")


def test_audience_rules_hold_on_generated_data(generated_nights):
    s, summaries = generated_nights
    assert all(x["gate"]["failed"] == 0 for x in summaries)
    stats = dict(query(s.analytics_db, "select audience_status, count(*) from analytics.campaign_audience group by 1"))
    assert stats.get("eligible", 0) > 50 and stats.get("cap_7d", 0) > 0 and stats.get("no_consent", 0) > 0
    # the second night: date-driven events, and stage changes against the history of the night before
    events = dict(query(s.analytics_db, "select event_type, count(*) from analytics.customer_events group by 1"))
    assert {"birthday_upcoming", "first_purchase_anniversary", "stage_change"} <= set(events)
    assert query(s.analytics_db, "select distinct previous_as_of_date from analytics.customer_events "
                                 "where previous_as_of_date is not null") == [(NIGHTS[0],)]
    # eligible: a current opt-in for the channel, recomputed from the raw consent rows
    bad = query(s.warehouse, f"""
        with latest as (
            select customer_id, channel, arg_max(status, updated_at) as status
            from raw.consents where updated_at < date '{END}' + 1 group by all)
        select a.customer_id from marts.analytics.campaign_audience a
        left join latest l using (customer_id, channel)
        where a.is_eligible and coalesce(l.status, '') != 'opt_in'""")
    assert bad == []
    # caps: past contacts + today's eligible rows per customer
    over = query(s.warehouse, f"""
        with plan as (select customer_id, count(*) n from marts.analytics.campaign_audience where is_eligible group by 1),
        past as (
            select customer_id,
                   count(*) filter (where contact_ts >= date '{END}' - 6) as d7,
                   count(*) filter (where contact_ts >= date '{END}' - 29) as d30
            from raw.marketing_contacts where contact_ts < date '{END}' + 1 group by 1)
        select plan.customer_id from plan left join past using (customer_id)
        where coalesce(d7, 0) + n > 1 or coalesce(d30, 0) + n > 4""")
    assert over == []
    # one customer with several events today gets at most one contact; the first in precedence/priority wins
    multi = query(s.analytics_db, """
        select customer_id, list(event_type order by precedence, priority desc, event_type),
               list(audience_status order by precedence, priority desc, event_type)
        from analytics.campaign_audience where suppression_reason is null or suppression_reason = 'lower_priority_event'
        group by 1 having count(*) > 1""")
    assert multi, "the data set should hold a customer with two contactable events on one day"
    for _, _, statuses in multi:
        assert statuses[0] == "eligible" and set(statuses[1:]) == {"lower_priority_event"}


def test_activation_files_hold_the_eligible_rows_and_are_identical_on_a_rerun(generated_nights, tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from cvw.pipeline import run

    shared, summaries = generated_nights
    s = private_copy(shared, tmp_path / "copy")  # the re-run writes
    files = summaries[-1]["publish"]["activation_files"]
    folder = s.publish_dir / f"activation/as_of_date={END}"
    eligible = _audience(s, "is_eligible")
    got = 0
    for f in files:
        path = s.publish_dir / f["path"]
        table = pacsv.read_csv(path) if f["format"] == "csv" else pq.read_table(path)
        assert table.column_names == ["customer_id", "event_type", "offer_category", "priority", "channel",
                                      "as_of_date"]
        assert set(table.column("channel").to_pylist()) <= {f["channel"]} and table.num_rows == f["rows"]
        got += table.num_rows if f["format"] == "csv" else 0
    assert got == len(eligible) > 0
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    published = table_checksums(s.analytics_db, PUBLISHED_TABLES)
    history = _history_file(s, summaries[-1]["run_id"]).read_bytes()
    again = run(s, END)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # every published table, whole row by whole row, and D's history file, byte for byte (money is exact)
    assert table_checksums(s.analytics_db, PUBLISHED_TABLES) == published
    assert _history_file(s, again["run_id"]).read_bytes() == history
    assert [f["sha256"] for f in again["publish"]["activation_files"]] == [f["sha256"] for f in files]
    assert not list(folder.glob(".*"))  # no temp files left


def _history_file(s, run_id: str):
    [path] = query(s.analytics_db, "select path from analytics.history_files where run_id = ?", [run_id])[0]
    return s.publish_dir / path


def test_explain_audience_tells_why(generated_nights):
    s, _ = generated_nights
    env = {**os.environ, **s.env(), "PYTHONPATH": ":".join(sys.path)}
    (cid,) = query(s.analytics_db, "select customer_id from analytics.campaign_audience "
                                   "where suppression_reason = 'cap_7d' order by customer_id limit 1")[0]
    out = subprocess.run([sys.executable, "-m", "cvw.cli", "explain-audience", "--customer", cid],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert f"customer {cid} as of {END}" in out and "SUPPRESSED cap_7d" in out
    assert "past contacts in the 30 days ending on D:" in out and "CMP-" in out
    (eid,) = query(s.analytics_db, "select customer_id from analytics.campaign_audience where is_eligible "
                                   "order by customer_id limit 1")[0]
    out = subprocess.run([sys.executable, "-m", "cvw.cli", "explain-audience", "--customer", eid],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "ELIGIBLE via" in out and "priority" in out
    old = subprocess.run([sys.executable, "-m", "cvw.cli", "explain-audience", "--customer", eid, "--as-of",
                          NIGHTS[0].isoformat()], capture_output=True, text=True, env=env)
    assert old.returncode == 1 and f"published audience is for {END}" in old.stderr
    assert "activation files are in" in old.stderr
    # `cvw status` points at the day's activation files
    from cvw.report import status_text

    eligible = dict(query(s.analytics_db, "select channel, count(*) from analytics.campaign_audience "
                                          "where is_eligible group by 1"))
    line = next(x for x in status_text(s).splitlines() if x.startswith("Activation files"))
    assert f"as_of_date={END}" in line and f"email {eligible.get('email', 0)}," in line
