"""Failure notification for the DAG: logs by default; set CVW_ALERT_HOOK=module:function to add your own
(e.g. a Slack or e-mail sender). Receives the Airflow task context as a plain mapping."""

from __future__ import annotations

import importlib
import logging
import os

log = logging.getLogger(__name__)


def notify_failure(context) -> None:
    ti = context.get("task_instance") or context.get("ti")
    message = (
        f"customer_value run failed: dag={getattr(ti, 'dag_id', '?')} task={getattr(ti, 'task_id', '?')} "
        f"run={context.get('run_id')} logical_date={context.get('logical_date')} "
        f"error={context.get('exception')!r}"
    )
    log.error(message)
    hook = os.environ.get("CVW_ALERT_HOOK")
    if hook:
        module, _, func = hook.partition(":")
        getattr(importlib.import_module(module), func)(message, context)
