"""The DAG's failure callback: logs by default, and calls CVW_ALERT_HOOK (e.g. an e-mail or Slack sender)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from cvw.alerts import notify_failure

pytestmark = pytest.mark.unit

RECEIVED: list = []


def record(message: str, context) -> None:
    """A stand-in alert sender (CVW_ALERT_HOOK=tests.test_alerts:record)."""
    RECEIVED.append((message, context))


CONTEXT = {
    "task_instance": SimpleNamespace(dag_id="customer_value_nightly", task_id="quality_gate"),
    "run_id": "scheduled__2025-12-31",
    "logical_date": "2025-12-31T00:00:00+00:00",
    "exception": RuntimeError("quality gate failed for as_of_date 2025-12-31"),
}


def test_a_failure_is_logged_with_task_run_and_error(caplog, monkeypatch):
    monkeypatch.delenv("CVW_ALERT_HOOK", raising=False)
    with caplog.at_level(logging.ERROR, logger="cvw.alerts"):
        notify_failure(CONTEXT)
    [line] = [r.getMessage() for r in caplog.records]
    assert "task=quality_gate" in line and "run=scheduled__2025-12-31" in line and "quality gate failed" in line


def test_the_hook_gets_the_message_and_the_context(monkeypatch):
    RECEIVED.clear()
    monkeypatch.setenv("CVW_ALERT_HOOK", "tests.test_alerts:record")
    notify_failure(CONTEXT)
    [(message, context)] = RECEIVED
    assert "dag=customer_value_nightly task=quality_gate" in message and context is CONTEXT
