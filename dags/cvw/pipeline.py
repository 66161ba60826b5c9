"""The steps of a run for as-of date D: ingest -> dbt build (facts and value models) -> CLV fit and
scoring -> dbt build (what depends on CLV) -> quality gate -> publish.

The CLI (`cvw run`) and the Airflow DAG call these same functions. Each step returns a small JSON-able
summary (the DAG passes them on through XCom) and raises on failure, so nothing after a failed step runs.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import date, datetime, timezone

from cvw.settings import Settings

log = logging.getLogger(__name__)


def new_run_id(as_of: date) -> str:
    """A run id that sorts by time and names its as-of date."""
    return f"{as_of.isoformat()}__{datetime.now(timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def step_ingest(settings: Settings, run_id: str) -> dict:
    from cvw.ingest import ingest_landing

    return ingest_landing(settings, run_id=run_id).as_dict()


def step_build_core(settings: Settings, as_of: date) -> dict:
    """dbt build of everything that does not depend on the CLV step (facts, RFM, profitability, wallet...)."""
    from cvw.dbt import CLV_DOWNSTREAM, UNIT_TESTS, run_dbt

    result = run_dbt(settings, ["build", "--exclude", CLV_DOWNSTREAM, UNIT_TESTS], as_of=as_of)
    return {"seconds": round(result.seconds, 3), "statuses": result.statuses}


def step_clv(settings: Settings, as_of: date) -> dict:
    """Fit BG/NBD + Gamma-Gamma on the activity summary and score every customer (cvw.scoring)."""
    from cvw.scoring import step_clv as clv

    return clv(settings, as_of)


def step_build_value(settings: Settings, as_of: date) -> dict:
    """dbt build of the models that read the CLV step's output (customer_clv, segments, history...)."""
    from cvw.dbt import CLV_DOWNSTREAM, UNIT_TESTS, run_dbt

    result = run_dbt(settings, ["build", "--select", CLV_DOWNSTREAM, "--exclude", UNIT_TESTS], as_of=as_of)
    return {"seconds": round(result.seconds, 3), "statuses": result.statuses}


def step_build(settings: Settings, as_of: date) -> dict:
    """The whole build for D: dbt (core) -> CLV -> dbt (value). What `cvw build` runs."""
    return {
        "core": step_build_core(settings, as_of),
        "clv": step_clv(settings, as_of),
        "value": step_build_value(settings, as_of),
    }


def step_gate(settings: Settings, as_of: date, run_id: str) -> dict:
    from cvw.engines import get_engine
    from cvw.quality import run_gate

    engine = get_engine(settings)
    try:
        result = run_gate(settings, as_of, run_id, previous_rows=engine.previous_row_counts(as_of), engine=engine)
    finally:
        engine.close()
    return {
        "seconds": round(result.seconds, 3),
        "checks": len(result.checks),
        "failed": len(result.failed),
        "row_counts": result.row_counts,
        "report": str(result.report),
        "data_docs": result.data_docs,
    }


def step_publish(settings: Settings, as_of: date, run_id: str, gate: dict, run_summary: dict | None = None) -> dict:
    from cvw.engines import get_engine
    from cvw.quality import PUBLISHED_TABLES

    if gate["failed"]:
        raise ValueError("refusing to publish: the gate reported failures")
    engine = get_engine(settings)
    try:
        result = engine.publish(as_of, run_id, PUBLISHED_TABLES, gate["checks"], run_summary)
    finally:
        engine.close()
    return {
        "seconds": round(result.seconds, 3),
        "replaced_current": result.replaced_current,
        "row_counts": result.row_counts,
        "location": str(result.path),
    }


def run(settings: Settings, as_of: date, run_id: str | None = None) -> dict:
    """Run every step for D; returns the run summary (also stored in publish_log)."""
    run_id = run_id or new_run_id(as_of)
    started = time.monotonic()
    summary: dict = {"as_of_date": as_of.isoformat(), "run_id": run_id}
    log.info("run %s: as_of_date=%s warehouse=%s", run_id, as_of, settings.warehouse)
    summary["ingest"] = step_ingest(settings, run_id)
    summary["build"] = step_build_core(settings, as_of)
    summary["clv"] = step_clv(settings, as_of)
    summary["build_value"] = step_build_value(settings, as_of)
    summary["gate"] = step_gate(settings, as_of, run_id)
    summary["publish"] = step_publish(settings, as_of, run_id, summary["gate"], run_summary=dict(summary))
    summary["seconds"] = round(time.monotonic() - started, 3)
    log.info("run %s finished in %.1fs", run_id, summary["seconds"])
    return summary
