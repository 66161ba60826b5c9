"""The gate's runner: each audit table through its GX suite, a JSON report and Data Docs.

One suite per published table (suite name == table name, cvw.gate.suites). Each suite is evaluated in the
database as one aggregate query per table (cvw.gate.aggregate: the same SQL on every engine, failing rows
fetched only for a check that failed), its results stored in the GX context as a suite validation result,
and Data Docs are rendered from them once per run. A failure raises GateFailed naming table, check and
sample rows.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from cvw import failpoints
from cvw.catalog import PUBLISHED_TABLES, TABLE_KEYS
from cvw.gate.aggregate import evaluate
from cvw.gate.offline import make_site_offline
from cvw.gate.suites import build_suite, gate_vars
from cvw.settings import Settings

log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """At least one expectation failed; nothing is published. The message names table, check, rows."""


@dataclass
class CheckResult:
    table: str
    check: str
    kwargs: dict
    success: bool
    unexpected_count: int | None = None
    sample: list = field(default_factory=list)
    error: str | None = None  # the check could not be evaluated: the exception it raised

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items() if k != "result_format")
        if self.error:
            return f"{self.table}: {self.check}({args}) raised an exception: {self.error}"
        sample = self.sample[:5] if isinstance(self.sample, list) else self.sample  # observed value, or None
        return f"{self.table}: {self.check}({args}) failed on {self.unexpected_count} row(s); sample: {sample}"


@dataclass
class GateResult:
    as_of: date
    checks: list[CheckResult] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    report: Path | None = None
    data_docs: str | None = None
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return all(c.success for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success]

    def summary(self) -> str:
        state = "passed" if self.success else "FAILED"
        return (
            f"gate {state}: {len(self.checks) - len(self.failed)}/{len(self.checks)} checks passed over "
            f"{len(self.row_counts)} tables in {self.seconds:.1f}s; report {self.report}"
        )

    def failure_message(self) -> str:
        lines = [f"quality gate failed for as_of_date {self.as_of}; nothing was published:"]
        for c in self.failed:
            lines.append(f"  {c.describe()}")
        lines.append(f"Report: {self.report}  Data Docs: {self.data_docs}")
        return "\n".join(lines)


def _raised(info) -> str | None:
    """The exception a GX check raised (GX 1.x keeps it in exception_info, flat or per metric), one line."""
    if not info:
        return None
    found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    messages = [" ".join(str(i.get("exception_message") or "").split()) for i in found if i.get("raised_exception")]
    return "; ".join(m[:500] for m in messages if m) or None


def _quiet_gx() -> None:
    """GX is chatty (PITFALLS 4): no analytics, no progress bars, warnings only."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ("great_expectations", "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.WARNING)


def gate_report_path(settings: Settings, as_of: date, run_id: str) -> Path:
    """The JSON report of the gate of `run_id` for D (Airflow run ids hold ':' and '+': made file-safe)."""
    return settings.reports_dir / as_of.isoformat() / f"gate_{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id)}.json"


def data_docs_index(settings: Settings) -> Path:
    """The index of the Data Docs site the gate renders (GX's default local site under $CVW_HOME/gx)."""
    return settings.home / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _context(settings: Settings):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = settings.home / "gx"
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _as_jsonable(value):
    if isinstance(value, dict):
        return {k: _as_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def evaluate_suite(engine_query, relation: str, suite, keys: list[str]) -> tuple[int, list]:
    """(rows, GX results) of a suite on a table, in one aggregate query (cvw.gate.aggregate). When that query
    fails, each expectation is evaluated alone, so the one that raised is reported with its exception."""
    from great_expectations.core import ExpectationValidationResult

    try:
        return evaluate(engine_query, relation, suite, keys)
    except Exception:  # noqa: BLE001 - find which expectation raised, below
        log.warning("gate %s: the aggregate query failed; evaluating each check alone", relation)
    rows, outcomes = 0, []
    for expectation in suite.expectations:
        one = type(suite)(name=suite.name, expectations=[expectation.copy()])
        try:
            rows, [outcome] = evaluate(engine_query, relation, one, keys)
        except Exception as exc:  # noqa: BLE001 - reported as the check's exception, the gate fails
            outcome = ExpectationValidationResult(
                success=False, expectation_config=expectation.configuration,
                exception_info={"raised_exception": True, "exception_message": f"{type(exc).__name__}: {exc}"},
            )
        outcomes.append(outcome)
    return rows, outcomes


def _store(ctx, table: str, relation: str, run_identifier, outcomes: list):
    """Store one table's results as a GX suite validation result (what Data Docs render); its key."""
    from great_expectations import __version__ as great_expectations_version
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    passed = sum(bool(r.success) for r in outcomes)
    validation = ExpectationSuiteValidationResult(
        success=passed == len(outcomes),
        results=outcomes,
        suite_name=table,
        statistics={
            "evaluated_expectations": len(outcomes), "successful_expectations": passed,
            "unsuccessful_expectations": len(outcomes) - passed,
            "success_percent": 100.0 * passed / len(outcomes) if outcomes else None,
        },
        meta={
            "run_id": run_identifier, "validation_time": run_identifier.run_time.isoformat(),
            "batch_spec": {"data_asset_name": relation},  # what Data Docs show as the data asset
            "great_expectations_version": great_expectations_version,
            "checkpoint_name": f"publish_gate__{table}",
        },
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=table),
        run_id=run_identifier,
        batch_identifier=relation,
    )
    ctx.validation_results_store.set(key, validation)
    return key


def run_gate(
    settings: Settings,
    as_of: date,
    run_id: str,
    previous_rows: dict[str, int] | None = None,
    schema: str | None = None,
    tables: tuple[str, ...] = PUBLISHED_TABLES,
    engine=None,
) -> GateResult:
    """Validate every audit table; write a JSON report and Data Docs; raise GateFailed on any failure."""
    _quiet_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    started = time.monotonic()
    v = gate_vars()
    ctx = _context(settings)
    if engine is None:
        from cvw.engines import get_engine

        engine = get_engine(settings)
    result = GateResult(as_of=as_of)
    run_identifier = RunIdentifier(run_name=run_id, run_time=datetime.now(timezone.utc))
    validation_ids = []
    for table in tables:
        suite = build_suite(table, as_of, (previous_rows or {}).get(table), v)
        relation = engine.gate_relation(schema or engine.audit_schema, table)
        rows, outcomes = evaluate_suite(engine.query, relation, suite, TABLE_KEYS[table])
        if rows == 0:  # an empty table is only held to its row count
            suite = build_suite(table, as_of, (previous_rows or {}).get(table), v, empty=True)
            rows, outcomes = evaluate_suite(engine.query, relation, suite, TABLE_KEYS[table])
        result.row_counts[table] = rows
        ctx.suites.add_or_update(suite)
        validation_ids.append(_store(ctx, table, relation, run_identifier, outcomes))
        failpoints.hit("gate.between_tables")
        for r in outcomes:
            cfg = r.expectation_config
            res = r.result or {}
            result.checks.append(
                CheckResult(
                    table=table,
                    check=cfg.type,
                    kwargs=_as_jsonable({k: v for k, v in cfg.kwargs.items() if k != "batch_id"}),
                    success=bool(r.success),
                    unexpected_count=res.get("unexpected_count"),
                    sample=_as_jsonable((res.get("unexpected_index_list") or [])[:5]
                                        or res.get("observed_value")),
                    error=_raised(r.exception_info),
                )
            )
        log.info("gate %s: %d rows, %s", table, rows,
                 "ok" if all(c.success for c in result.checks if c.table == table) else "FAILED")
    # render this run's validation pages and the index (not every page of every earlier run), then make
    # what was rendered load only the site's own files (cvw.gate.offline)
    rendering = time.time()
    ctx.build_data_docs(resource_identifiers=validation_ids)
    make_site_offline(data_docs_index(settings).parent, since=rendering - 1)
    result.seconds = time.monotonic() - started
    sites = ctx.get_docs_sites_urls()
    result.data_docs = sites[0]["site_url"] if sites else None
    result.report = gate_report_path(settings, as_of, run_id)
    result.report.parent.mkdir(parents=True, exist_ok=True)
    result.report.write_text(json.dumps({
        "as_of_date": as_of.isoformat(),
        "run_id": run_id,
        "success": result.success,
        "row_counts": result.row_counts,
        "data_docs": result.data_docs,
        "checks": [c.__dict__ for c in result.checks],
    }, indent=2, default=str))
    log.info(result.summary())
    if not result.success:
        raise GateFailed(result.failure_message())
    return result


