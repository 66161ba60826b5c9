"""Consent as of D (SPEC 4.11, 9): the latest record on or before D wins, no record = no consent, and an
opt-out that lands in a later file is honoured by the next run."""

from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import query

pytestmark = pytest.mark.dbt

HEADER = "customer_id,channel,status,updated_at\n"


def _consent(s, as_of: date) -> dict:
    from cvw.dbt import UNIT_TESTS, run_dbt
    from cvw.pipeline import new_run_id, step_ingest

    step_ingest(s, new_run_id(as_of))
    run_dbt(s, ["build", "--select", "+int_customer_channel_consent", "--exclude", UNIT_TESTS,
                "--indirect-selection", "cautious"], as_of)
    rows = query(s.warehouse, "select customer_id, channel, consent_status, may_contact "
                              "from intermediate.int_customer_channel_consent")
    return {(c, ch): (status, may) for c, ch, status, may in rows}


def test_latest_record_wins_no_record_is_no_consent_and_late_opt_outs_count(workspace):
    folder = workspace.landing_dir / "consents"
    # c1 opted out of e-mail yesterday and in again today
    (folder / "consents_2025-01-03.csv").write_text(
        HEADER + "c1,email,opt_out,2025-01-02 09:00:00\nc1,email,opt_in,2025-01-03 18:00:00\n"
    )
    today = _consent(workspace, date(2025, 1, 3))
    assert today[("c1", "email")] == ("opt_in", True)
    assert today[("c1", "sms")] == ("opt_out", False)  # from the first file
    assert today[("c3", "email")] == ("opt_in", True)
    assert today[("c2", "email")] == ("no_record", False)  # never answered: no consent
    assert today[("c1", "phone")] == ("no_record", False)
    assert len(today) == 4 * 4  # every known customer x every channel

    # as of the day before, c1's e-mail opt-out was the latest record
    yesterday = _consent(workspace, date(2025, 1, 2))
    assert yesterday[("c1", "email")] == ("opt_out", False)

    # c3's opt-out arrives in a later file: the next run honours it, the earlier date stays as it was
    (folder / "consents_2025-01-04.csv").write_text(HEADER + "c3,email,opt_out,2025-01-04 08:00:00\n")
    assert _consent(workspace, date(2025, 1, 4))[("c3", "email")] == ("opt_out", False)
    assert _consent(workspace, date(2025, 1, 3))[("c3", "email")] == ("opt_in", True)
