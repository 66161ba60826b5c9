"""
### customer_value_nightly

Loads the day's CRM landing files, builds the customer facts and value models with dbt into the
audit area (`dbt_build`), fits and scores the CLV models (`clv_fit`) and the wallet model
(`wallet_fit`), builds what depends on them (wallets, segments, tiers, lifecycle: `dbt_build_value`),
gates them with Great Expectations, then publishes them atomically to the `analytics` schema of
`$CVW_PUBLISH_DIR/customer_value.duckdb` (what BI tools open, read-only).

**Which day a run covers.** The as-of date D is the day of the run's `logical_date` (UTC). With the
daily `CronDataIntervalTimetable("0 0 * * *")` the scheduled run for D starts just after midnight at the
end of D, so it sees all of D's files. `airflow dags test customer_value_nightly D` runs D, and
`airflow backfill create --dag-id customer_value_nightly --from-date D1 --to-date D2` runs D1..D2.

**Backfills.** Create them with `--max-active-runs 1` (Airflow's backfill default is 10 concurrent runs):
DuckDB has one writer and the runs share the audit area. Overlapping runs cannot publish wrong data (each
step checks the audit tables carry its as-of date and fails the run otherwise), but they fail. A backfilled
date older than the current publish fills its history and never replaces the current tables.

**Asset.** `publish` updates the Asset `customer_value_analytics` (`cvw://analytics`) with the published
as-of date in the event's extra: schedule downstream DAGs on it. The extra also lists the day's campaign
activation files (`activation/as_of_date=D/<channel>.{csv,parquet}` under `$CVW_PUBLISH_DIR`, written after
the gate passed) and their row counts per channel, for a sending DAG.

**Incremental.** A run validates only the facts that arrived since the last build (and re-checks rows
rejected for a reference that may have arrived since); trigger with `{"full_refresh": true}` (the DAG param)
to re-validate every fact from raw. A changed dbt project or var does that by itself. Both give the same
tables.

**Run report.** After the publish, `run_report` writes `reports/<D>/index.html` under `$CVW_HOME`: the
run's KPIs, the key pictures, row accounting, gate results and seconds per stage, self-contained (opens
offline). `cvw report --as-of D` rewrites it.

**Safe to re-run.** Ingest skips files it has loaded; every model is a pure function of (raw data <= D, D);
nothing reaches `analytics` unless dbt tests and the GX gate pass. Logic lives in the `cvw` package
(`cvw run --as-of D` does the same without Airflow).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from airflow.sdk import Asset, Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

# updated by every successful publish: `schedule=[ANALYTICS]` on a downstream DAG runs it after each publish
ANALYTICS = Asset(name="customer_value_analytics", uri="cvw://analytics")


def _as_of():
    """D = the day of the run's logical_date (PITFALLS 5: not the data interval), as a plain `datetime.date`:
    Airflow's is pendulum's subclass, which PySpark's createDataFrame refuses (the Spark publish log row)."""
    context = get_current_context()
    day = context["logical_date"].date()
    return date(day.year, day.month, day.day), f"{day}__{context['run_id']}"


def _on_failure(context) -> None:
    from cvw.alerts import notify_failure

    notify_failure(context)


@dag(
    dag_id="customer_value_nightly",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["customer_value"],
    params={
        "full_refresh": Param(
            False, type="boolean",
            description="re-validate every fact from raw instead of only what arrived since the last build",
        ),
    },
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": _on_failure,
    },
)
def customer_value_nightly():
    @task
    def ingest() -> dict:
        from cvw import settings
        from cvw.pipeline import step_ingest

        _, run_id = _as_of()
        return step_ingest(settings.load(), run_id)

    @task
    def dbt_build(ingested: dict) -> dict:
        from cvw import settings
        from cvw.pipeline import step_build_core

        as_of, _ = _as_of()
        full_refresh = bool(get_current_context()["params"]["full_refresh"])
        return step_build_core(settings.load(), as_of, full_refresh=full_refresh)

    @task
    def clv_fit(built: dict) -> dict:
        from cvw import settings
        from cvw.pipeline import step_clv

        as_of, _ = _as_of()
        return step_clv(settings.load(), as_of)

    @task
    def wallet_fit(clv: dict) -> dict:
        from cvw import settings
        from cvw.pipeline import step_wallet

        as_of, _ = _as_of()
        return step_wallet(settings.load(), as_of)

    @task
    def dbt_build_value(wallet: dict) -> dict:
        from cvw import settings
        from cvw.pipeline import step_build_value

        as_of, _ = _as_of()
        return step_build_value(settings.load(), as_of)

    @task
    def quality_gate(built: dict) -> dict:
        from cvw import settings
        from cvw.pipeline import step_gate

        as_of, run_id = _as_of()
        return step_gate(settings.load(), as_of, run_id)

    @task(outlets=[ANALYTICS])
    def publish(ingested: dict, built: dict, clv: dict, wallet: dict, built_value: dict, gate: dict) -> dict:
        from cvw import settings
        from cvw.pipeline import step_publish_run

        as_of, run_id = _as_of()
        steps = {"ingest": ingested, "build": built, "clv": clv, "wallet": wallet, "build_value": built_value,
                 "gate": gate}
        summary = step_publish_run(settings.load(), as_of, run_id, steps)
        # downstream DAGs scheduled on the Asset see which date was published and whether it is current
        get_current_context()["outlet_events"][ANALYTICS].extra = {
            "as_of_date": as_of.isoformat(), "run_id": run_id,
            "replaced_current": summary["publish"]["replaced_current"],
            "rows_published": summary["summary"]["rows_published"],
            # the day's contacts per channel: a sending DAG scheduled on the Asset picks up these files
            "activation_files": [f["path"] for f in summary["publish"]["activation_files"]],
            "activation_rows": summary["summary"]["activation_rows"],
        }
        return summary["summary"]

    @task
    def run_report(published: dict) -> dict:
        from cvw import settings
        from cvw.pipeline import step_report

        as_of, _ = _as_of()
        return step_report(settings.load(), as_of)

    ingested = ingest()
    built = dbt_build(ingested)
    clv = clv_fit(built)
    wallet = wallet_fit(clv)
    built_value = dbt_build_value(wallet)
    gate = quality_gate(built_value)
    run_report(publish(ingested, built, clv, wallet, built_value, gate))


customer_value_nightly()
