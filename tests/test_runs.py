"""Run semantics (SPEC §6): a backfill gives what the nightly runs gave, never replaces newer tables,
shows progress per date, and a failed date can be re-run alone."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from cvw.pipeline import BackfillFailed, backfill, run

from tests.helpers import TINY_VARS, landing_until, make_settings, published_checksums, query

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _landing_small_vars(monkeypatch):
    """Every test here builds landing_small (too few customers to fit CLV)."""
    monkeypatch.setenv("CVW_DBT_VARS", TINY_VARS)

DATES = [date(2025, 1, 2), date(2025, 1, 3), date(2025, 1, 4)]


def test_backfill_equals_the_nightly_runs(tmp_path, caplog):
    # nightly: each night only the files landed so far, one run per date
    nightly = make_settings(tmp_path / "nightly")
    for d in DATES:
        landing_until(nightly, d)
        run(nightly, d)
    # backfill weeks later: every file has landed; one command for the range
    later = make_settings(tmp_path / "backfill")
    landing_until(later, date(2026, 1, 1))
    with caplog.at_level(logging.INFO, logger="cvw.pipeline"):
        result = backfill(later, DATES[0], DATES[-1])
    assert result["published"] == [d.isoformat() for d in DATES] and result["failed"] == {}
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("backfill ")]
    assert [m.split(":")[0] for m in progress if "published" in m] == ["backfill 1/3", "backfill 2/3", "backfill 3/3"]

    expected = published_checksums(nightly.analytics_db)
    assert published_checksums(later.analytics_db) == expected
    # the history holds every date, the transitions of the last date compare it with the one before
    assert [r[0] for r in expected["customer_segments_history"]] == DATES
    assert query(later.analytics_db, "select distinct from_as_of_date from analytics.lifecycle_transitions") == [
        (DATES[1],)
    ]
    # the audience of every date went out as the same activation files (events use the history before D only)
    for d in DATES:
        folder = f"activation/as_of_date={d}"
        files = {p.name: p.read_bytes() for p in (nightly.publish_dir / folder).iterdir()}
        assert len(files) == 8 and {p.name: p.read_bytes() for p in (later.publish_dir / folder).iterdir()} == files


def test_a_failed_date_stops_the_backfill_is_skipped_by_comparisons_and_can_be_rerun_alone(tmp_path, monkeypatch,
                                                                                           caplog):
    """A failed date stops the backfill and names how to go on. The previous date that lifecycle_transitions and
    customer_events compare with is the last *published* one (the failed date is skipped); backfilling that
    date alone later, between the current date and the date it compared with, re-runs the current date so its
    comparisons move to the backfilled date; backfilling older dates again changes no current table."""
    import cvw.pipeline as pipeline

    s = make_settings(tmp_path)
    landing_until(s, date(2026, 1, 1))
    d0, d1, d2 = DATES
    real_gate = pipeline.step_gate

    def gate_failing_on_the_second_date(settings, as_of, run_id):
        if as_of == d1:
            raise RuntimeError("injected gate failure")
        return real_gate(settings, as_of, run_id)

    monkeypatch.setattr(pipeline, "step_gate", gate_failing_on_the_second_date)
    with pytest.raises(BackfillFailed) as err:
        backfill(s, d0, d2)
    message = str(err.value)
    assert f"stopped at {d1} (2/3)" in message and f"cvw run --as-of {d1}" in message
    assert f"cvw backfill --from {d2} --to {d2}" in message
    assert query(s.analytics_db, "select as_of_date, is_current from analytics.publish_log") == [(d0, True)]

    monkeypatch.setattr(pipeline, "step_gate", real_gate)
    run(s, d2)  # d1 was built (its rows are in the warehouse's history), never published

    def compared_with():
        transitions = query(s.analytics_db, "select distinct from_as_of_date from analytics.lifecycle_transitions")
        events = query(s.analytics_db, "select distinct previous_as_of_date from analytics.customer_events "
                                       "where previous_as_of_date is not null")
        return transitions, events

    assert compared_with()[0] == [(d0,)]  # not the unpublished d1
    assert compared_with()[1] in ([], [(d0,)])
    with caplog.at_level(logging.INFO, logger="cvw.pipeline"):
        result = backfill(s, d1, d1)  # the failed date alone
    assert result["published"] == [d1.isoformat()] and result["refreshed_current"] == d2.isoformat()
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"{d1} now lies between the current publish {d2} and the date it compared with ({d0})" in m
               for m in messages)
    assert compared_with()[0] == [(d1,)]
    log = query(s.analytics_db, "select as_of_date, is_current from analytics.publish_log order by published_at")
    assert log == [(d0, False), (d2, False), (d1, False), (d2, True)]

    # backfilling the older dates again changes no current table and only re-publishes their history
    current = published_checksums(s.analytics_db)
    backfill(s, d0, d1)
    again = published_checksums(s.analytics_db)
    assert {t: v for t, v in again.items() if t != "publish_log"} == {
        t: v for t, v in current.items() if t != "publish_log"
    }
    assert [r[:2] for r in again["publish_log"][-2:]] == [(d0, False), (d1, False)]


def test_an_empty_range_is_a_clear_error(tmp_path):
    with pytest.raises(BackfillFailed, match="before --from"):
        backfill(make_settings(tmp_path), DATES[1], DATES[1] - timedelta(days=1))
