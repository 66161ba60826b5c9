"""The steps of a run for as-of date D: ingest -> dbt build (facts and value models) -> CLV fit and
scoring -> wallet model fit and scoring -> dbt build (what depends on CLV and the wallet model) -> quality
gate -> publish.

The CLI (`cvw run`) and the Airflow DAG call these same functions. Each step returns a small JSON-able
summary (the DAG passes them on through XCom) and raises on failure, so nothing after a failed step runs.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from cvw.settings import Settings

log = logging.getLogger(__name__)


def new_run_id(as_of: date) -> str:
    """A run id that sorts by time and names its as-of date."""
    return f"{as_of.isoformat()}__{datetime.now(timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def step_ingest(settings: Settings, run_id: str) -> dict:
    from cvw.ingest import ingest_landing

    return ingest_landing(settings, run_id=run_id).as_dict()


def step_build_core(settings: Settings, as_of: date, full_refresh: bool = False) -> dict:
    """dbt build of everything that does not depend on the CLV step (facts, RFM, profitability, wallet...),
    after pointing the build at what is published now (the previous date it compares with).

    Incremental by default: the validated facts (int_crm__*_validated) check only the rows loaded since their
    last build and the rows rejected for a reference that may have arrived since; every as-of model is
    rebuilt from them. It runs as a dbt --full-refresh (every fact re-validated from raw) when asked
    (`full_refresh`), on the first build, and when the project or vars differ from those of the last build
    (cvw.dbt.build_fingerprint): the same tables either way (tests/test_incremental.py)."""
    from cvw.dbt import CLV_DOWNSTREAM, UNIT_TESTS, build_fingerprint, run_dbt
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        engine.require_ingested()
        engine.prepare_build()
        stored = engine.stored_fingerprint()
    finally:
        engine.close()

    if full_refresh:
        reason = "asked for (--full-refresh)"
    elif stored is None:
        reason = "no earlier build to continue from"
    elif stored != build_fingerprint():
        reason = "the dbt project or its vars changed since the last build"
    else:
        reason = None
    log.info("dbt build for %s: %s", as_of, f"full refresh, {reason}" if reason else "incremental")
    args = ["build", "--exclude", CLV_DOWNSTREAM, UNIT_TESTS, *(["--full-refresh"] if reason else [])]
    result = run_dbt(settings, args, as_of=as_of)
    return {"seconds": round(result.seconds, 3), "statuses": result.statuses, "full_refresh": reason}


def step_clv(settings: Settings, as_of: date) -> dict:
    """Fit BG/NBD + Gamma-Gamma on the activity summary and score every customer (cvw.scoring)."""
    from cvw.scoring import step_clv as clv

    return clv(settings, as_of)


def step_wallet(settings: Settings, as_of: date) -> dict:
    """Fit the high-quantile wallet model on int_wallet_grid, validate it leave-survey-out and score every
    customer x category (cvw.scoring.step_wallet)."""
    from cvw.scoring import step_wallet as wallet

    return wallet(settings, as_of)


def step_build_value(settings: Settings, as_of: date) -> dict:
    """dbt build of the models that read the CLV and wallet steps' output (customer_clv, customer_wallet,
    segments, history...)."""
    from cvw.dbt import CLV_DOWNSTREAM, UNIT_TESTS, run_dbt

    result = run_dbt(settings, ["build", "--select", CLV_DOWNSTREAM, "--exclude", UNIT_TESTS], as_of=as_of)
    return {"seconds": round(result.seconds, 3), "statuses": result.statuses}


def step_build(settings: Settings, as_of: date, full_refresh: bool = False) -> dict:
    """The whole build for D: dbt (core) -> CLV -> wallet model -> dbt (value). What `cvw build` runs."""
    return {
        "core": step_build_core(settings, as_of, full_refresh),
        "clv": step_clv(settings, as_of),
        "wallet": step_wallet(settings, as_of),
        "value": step_build_value(settings, as_of),
    }


def step_gate(settings: Settings, as_of: date, run_id: str) -> dict:
    from cvw.engines import get_engine
    from cvw.gate import run_gate

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
    from cvw.audience import write_activation_files
    from cvw.catalog import PUBLISHED_TABLES
    from cvw.engines import get_engine

    if gate["failed"]:
        raise ValueError("refusing to publish: the gate reported failures")
    engine = get_engine(settings)
    try:
        engine.check_audit_area(PUBLISHED_TABLES, as_of)  # DuckDB checks again inside its publish, under its lock
        # the day's contacts per channel, from the gated audience; listed in this publish's log row
        files = write_activation_files(settings, engine, as_of)
        log.info("activation files for %s: %s", as_of, ", ".join(
            f"{f['channel']} {f['rows']} rows" for f in files if f["format"] == "csv"))
        run_summary = {**(run_summary or {}), "activation_files": files}
        result = engine.publish(as_of, run_id, PUBLISHED_TABLES, gate["checks"], run_summary)
    finally:
        engine.close()
    return {
        "seconds": round(result.seconds, 3),
        "replaced_current": result.replaced_current,
        "row_counts": result.row_counts,
        "location": str(result.path),
        "activation_files": files,
    }


def accounting(settings: Settings, ingest_run_id: str | None = None) -> dict:
    """Row accounting of the data as of the last build (audit.row_accounting): loaded = accepted +
    quarantined + rejected, summed over the entities. With the run's ingest id: the rows of its new files
    rejected as duplicate_key, per entity, each logged as a warning (a correction needs a later updated_at)."""
    from cvw.contract import ENTITIES
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        row = engine.query(
            "select sum(file_rows), sum(accepted_rows), sum(quarantined_rows), sum(rejected_rows), "
            "bool_and(balanced) from audit.row_accounting"
        )[0]
        duplicates = engine.query(
            "select m.ingest_run_id, r.entity, count(*) from audit.rejected_rows r "
            "join ingest.file_manifest m on m.file_name = r.source_file "
            "where r.rejection_reason = 'duplicate_key' group by 1, 2"
        ) if ingest_run_id else []
    finally:
        engine.close()
    keys = ("rows_loaded", "rows_accepted", "rows_quarantined", "rows_rejected")
    out = {**{k: int(v or 0) for k, v in zip(keys, row[:4], strict=True)}, "balanced": bool(row[4])}
    new = {entity: int(n) for run, entity, n in sorted(duplicates) if run == ingest_run_id}
    for entity, n in new.items():
        key = ", ".join(ENTITIES[entity].key)
        log.warning(
            "%s: %d row(s) of this run's new files rejected as duplicate_key: a row with the same %s was loaded "
            "before (see audit.rejected_rows). A correction is delivered with a later updated_at%s.",
            entity, n, key, "" if "updated_at" in ENTITIES[entity].key else f" ({entity} keeps no versions)",
        )
    if new:
        out["duplicate_rows_in_new_files"] = new
    return out


def run_summary(summary: dict) -> dict:
    """The run's summary in one flat, readable record: rows in / quarantined / rejected / published, gate
    result and seconds per stage. Logged at the end of a run and stored in publish_log.run_summary."""
    stages = {
        "ingest": summary.get("ingest"), "dbt_core": summary.get("build"), "clv": summary.get("clv"),
        "wallet": summary.get("wallet"), "dbt_value": summary.get("build_value"), "gate": summary.get("gate"),
        "publish": summary.get("publish"),
    }
    gate = summary.get("gate") or {}
    ingest = summary.get("ingest") or {}
    return {
        "as_of_date": summary.get("as_of_date"),
        "run_id": summary.get("run_id"),
        "new_files": ingest.get("files_loaded"),
        "new_rows_ingested": sum((ingest.get("rows_loaded") or {}).values()),
        "new_rows_quarantined": sum((ingest.get("rows_quarantined") or {}).values()),
        **(summary.get("accounting") or {}),
        "rows_published": sum(((summary.get("publish") or gate).get("row_counts") or {}).values()),
        "gate_checks": gate.get("checks"),
        "gate_failed": gate.get("failed"),
        "activation_rows": {
            f["channel"]: f["rows"] for f in (summary.get("publish") or {}).get("activation_files", [])
            if f["format"] == "csv"
        },
        "seconds": {k: v["seconds"] for k, v in stages.items() if v and "seconds" in v},
    }


def stale_comparison(settings: Settings) -> dict | None:
    """The current publish's comparisons are stale when a date between the date its lifecycle_transitions and
    customer_events compared with and its own date was published since (a backfill of an older date): then
    {"current": C, "compared_with": F, "previous_now": P} and `cvw run --as-of C` refreshes them; else None."""
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        log_rows = engine.published_log()
        current = next((r["as_of_date"] for r in log_rows if r["is_current"]), None)
        if current is None:
            return None
        compared = engine.query_published("select max(from_as_of_date) from analytics.lifecycle_transitions")[0][0]
    finally:
        engine.close()
    previous = max((r["as_of_date"] for r in log_rows if r["as_of_date"] < current), default=None)
    if previous == compared:
        return None
    return {"current": current, "compared_with": compared, "previous_now": previous}


def step_publish_run(settings: Settings, as_of: date, run_id: str, steps: dict, started: float | None = None) -> dict:
    """Publish after a passed gate, with the run summary (row accounting, gate, seconds per stage) stored in
    publish_log and logged. `steps`: the summaries of ingest, build, clv, wallet, build_value and gate."""
    ingest_run_id = (steps.get("ingest") or {}).get("run_id")
    summary = {"as_of_date": as_of.isoformat(), "run_id": run_id, **steps,
               "accounting": accounting(settings, ingest_run_id)}
    summary["publish"] = step_publish(settings, as_of, run_id, steps["gate"], run_summary=run_summary(summary))
    summary["summary"] = run_summary(summary)
    if not summary["publish"]["replaced_current"]:
        stale = stale_comparison(settings)
        if stale:
            summary["stale_current"] = stale
            log.warning(
                "%s now lies between the current publish %s and the date it compared with (%s): its "
                "lifecycle_transitions and customer_events are stale; re-run it with `cvw run --as-of %s` (cvw "
                "backfill does that itself at its end)",
                as_of, stale["current"], stale["compared_with"] or "none", stale["current"],
            )
    if started is not None:
        summary["seconds"] = summary["summary"]["seconds_total"] = round(time.monotonic() - started, 3)
    log.info("run %s published: %s", run_id, json.dumps(summary["summary"]))
    return summary


def step_report(settings: Settings, as_of: date) -> dict:
    """Write D's run report (reports/<D>/index.html) from what was published for D; after the publish."""
    from cvw.run_report import write_report

    return write_report(settings, as_of)


def run(settings: Settings, as_of: date, run_id: str | None = None, ingested: dict | None = None,
        full_refresh: bool = False) -> dict:
    """Run every step for D and return the run summary (also stored in publish_log). `ingested`: the
    summary of an ingest already done for this run (a backfill ingests once for all its dates).
    `full_refresh`: re-validate every fact from raw instead of only what arrived (step_build_core)."""
    run_id = run_id or new_run_id(as_of)
    started = time.monotonic()
    log.info("run %s: as_of_date=%s warehouse=%s", run_id, as_of, settings.warehouse)
    steps = {"ingest": ingested if ingested is not None else step_ingest(settings, run_id)}
    steps["build"] = step_build_core(settings, as_of, full_refresh)
    steps["clv"] = step_clv(settings, as_of)
    steps["wallet"] = step_wallet(settings, as_of)
    steps["build_value"] = step_build_value(settings, as_of)
    steps["gate"] = step_gate(settings, as_of, run_id)
    summary = step_publish_run(settings, as_of, run_id, steps, started)
    summary["report"] = step_report(settings, as_of)
    return summary


class BackfillFailed(RuntimeError):
    """A date of a backfill failed; the message names it and how to re-run it alone."""


def dates_between(start: date, end: date) -> list[date]:
    if end < start:
        raise BackfillFailed(f"--to {end} is before --from {start}: nothing to run")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def backfill(settings: Settings, start: date, end: date, keep_going: bool = False, full_refresh: bool = False) -> dict:
    """Run every date from `start` to `end` (inclusive, oldest first) exactly as a nightly run of that date.

    Landing files are ingested once, then each date is built, gated and published in turn (one writer at a
    time, as DuckDB needs). A date older than the current publish fills its history and publish_log row
    and leaves the current tables alone (cvw.publish). A failed date stops the backfill (or, with
    `keep_going`, is listed at the end); `cvw run --as-of D` re-runs it alone.

    The facts are validated once: the first date's build validates what arrived (all of raw with
    `full_refresh`), and every later date reuses them (step_build_core: nothing new to validate).
    """
    dates = dates_between(start, end)
    started = time.monotonic()
    ingested = step_ingest(settings, f"backfill_{start}_{end}__{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    done, failed = [], {}
    for i, as_of in enumerate(dates, start=1):
        log.info("backfill %d/%d: %s", i, len(dates), as_of)
        try:
            summary = run(settings, as_of, ingested=ingested, full_refresh=full_refresh and i == 1)
        except Exception as exc:
            failed[as_of.isoformat()] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log.error("backfill %d/%d: %s FAILED (%s); re-run it alone with `cvw run --as-of %s`",
                      i, len(dates), as_of, failed[as_of.isoformat()], as_of)
            if not keep_going:
                raise BackfillFailed(
                    f"backfill stopped at {as_of} ({i}/{len(dates)}): {exc}\n"
                    f"Dates before it are published. Re-run the failed date with `cvw run --as-of {as_of}`, "
                    f"then continue with `cvw backfill --from {as_of + timedelta(days=1)} --to {end}`."
                ) from exc
            continue
        done.append(as_of.isoformat())
        elapsed = time.monotonic() - started
        eta = elapsed / i * (len(dates) - i)
        log.info("backfill %d/%d: %s published (%s) in %.1fs; %.0fs elapsed, about %.0fs left",
                 i, len(dates), as_of, "current" if summary["publish"]["replaced_current"] else "history only",
                 summary["seconds"], elapsed, eta)
    stale = stale_comparison(settings) if done else None
    if stale and not failed:
        # an older date now lies between the current publish and the date it compared with: build the current
        # date again (same raw data, same D), so its transitions and events compare with the right date
        log.info("backfill: refreshing the current date %s (it compared with %s, the previous published date is "
                 "now %s)", stale["current"], stale["compared_with"] or "none", stale["previous_now"])
        run(settings, stale["current"], ingested=ingested)
    result = {"from": start.isoformat(), "to": end.isoformat(), "dates": len(dates), "published": done,
              "failed": failed, "refreshed_current": stale["current"].isoformat() if stale and not failed else None,
              "seconds": round(time.monotonic() - started, 3)}
    if failed:
        raise BackfillFailed(
            f"backfill {start}..{end}: {len(failed)} of {len(dates)} date(s) failed: {', '.join(failed)}. "
            "Re-run each with `cvw run --as-of D`."
        )
    return result
