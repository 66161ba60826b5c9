"""The publish gate: Great Expectations suites over the freshly built audit marts.

The engine hands GX a batch for each table (DuckDB: Arrow -> pandas dataframe, PITFALLS 3; PostgreSQL:
GX's SQL datasource, in-database; Spark: a Spark dataframe). One suite per published table (suite name ==
table name), one checkpoint per table (`publish_gate__<table>`), Data Docs as the human-readable report.
dbt tests own structure (keys, not-null, accepted values, relationships); these suites own ranges,
point-in-time bounds, freshness and row-count bands against the previous publish.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from cvw import failpoints
from cvw.engines import get_engine
from cvw.settings import EXPECTATIONS_DIR, Settings

log = logging.getLogger(__name__)

# Keys used to show sample failing rows.
TABLE_KEYS: dict[str, list[str]] = {
    "dim_customers": ["customer_id"],
    "fct_orders": ["order_id"],
    "fct_order_lines": ["order_id", "line_number"],
    "fct_returns": ["return_id"],
    "fct_service_interactions": ["interaction_id"],
    "fct_marketing_contacts": ["contact_id"],
    "customer_rfm": ["customer_id"],
    "customer_profitability": ["customer_id"],
    "customer_wallet": ["customer_id", "category"],
    "customer_clv": ["customer_id"],
    "clv_model_fit": ["model", "parameter"],
    "customer_segments": ["customer_id"],
    "purchase_decile_summary": ["purchase_decile"],
    "pareto_summary": ["as_of_date"],
    "segment_summary": ["rfm_segment", "rad_strategy", "lifecycle_stage", "value_tier"],
    "lifecycle_transitions": ["from_stage", "to_stage"],
    "category_affinity": ["antecedent_category", "consequent_category"],
    "customer_events": ["customer_id", "event_type"],
    "campaign_audience": ["customer_id", "event_type"],
}
GATE_DEFAULTS = {
    "gate_row_count_min_ratio": 0.5,
    "gate_row_count_max_ratio": 2.0,
    "gate_row_count_slack": 1000,
    "gate_freshness_days": 3,
}


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


def gate_vars() -> dict:
    """Gate thresholds and the vars the suites read: dbt vars (dbt_project.yml + CVW_DBT_VARS), with defaults."""
    from cvw.config import project_vars

    return {**GATE_DEFAULTS, **project_vars()}


# --- suites: small functions, one per table; `cvw expectations export` writes them to expectations/ ---

def _facts_dated(column: str, as_of: date, freshness_days: int | None = None) -> list:
    """Point-in-time guard (nothing after D) and, optionally, freshness (something within N days of D)."""
    import great_expectations.expectations as gxe

    low = (as_of - timedelta(days=freshness_days)).isoformat() if freshness_days is not None else None
    return [gxe.ExpectColumnMaxToBeBetween(column=column, min_value=low, max_value=as_of.isoformat())]


def _stamped(as_of: date) -> list:
    """Every row carries the run's as_of_date."""
    import great_expectations.expectations as gxe

    d = as_of.isoformat()
    return [
        gxe.ExpectColumnMinToBeBetween(column="as_of_date", min_value=d, max_value=d),
        gxe.ExpectColumnMaxToBeBetween(column="as_of_date", min_value=d, max_value=d),
    ]


def suite_dim_customers(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="age_years", min_value=0, max_value=120),
        gxe.ExpectColumnValuesToBeBetween(column="employee_count", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="annual_revenue", min_value=0),
        *_stamped(as_of),
    ]


def suite_fct_orders(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="discount_amount", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="line_count", min_value=1, mostly=0.99),
        *_facts_dated("order_date", as_of, int(v["gate_freshness_days"])),
        *_stamped(as_of),
    ]


def suite_fct_order_lines(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="unit_cost", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="line_revenue", min_value=0, mostly=0.999),
        *_facts_dated("order_date", as_of),
    ]


def suite_fct_returns(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="refund_amount", min_value=0),
        *_facts_dated("return_date", as_of),
    ]


def suite_fct_service_interactions(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="duration_minutes", min_value=0, max_value=24 * 60),
        *_facts_dated("interaction_date", as_of),
    ]


def suite_fct_marketing_contacts(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnMeanToBeBetween(column="responded", min_value=0, max_value=1),
        *_facts_dated("contact_date", as_of),
    ]


def _between(column: str, low=None, high=None, **kw):
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high, **kw)


def _in_set(column: str, values: list):
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values)


def _scores(*columns: str) -> list:
    return [_between(c, 1, 5) for c in columns]


def suite_customer_rfm(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        *_scores("r_score", "f_score", "m_score", "fm_score"),
        _between("frequency", 0),
        _between("avg_repeat_value", 0),
        _between("revenue_lifetime", 0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="tenure_days", column_B="recency_days", or_equal=True),
        gxe.ExpectColumnValuesToNotBeNull(column="rfm_segment"),
        *_facts_dated("last_purchase_date", as_of),
        *_stamped(as_of),
    ]


def suite_customer_profitability(as_of: date, v: dict) -> list:
    return [
        _between("purchase_decile", 1, 10),
        _in_set("value_class", [1, 2, 3]),
        _between("revenue_365d", 0),
        _between("cost_to_serve_365d", 0),
        *_stamped(as_of),
    ]


def suite_customer_wallet(as_of: date, v: dict) -> list:
    # W >= own spend is a dbt test on the model (exact in SQL; here a double would meet a decimal)
    return [
        _between("share_of_wallet", 0, 1),
        _between("wallet_estimate", 0),
        _in_set("wallet_method", ["survey", "installed_base", "peer_quantile", "none"]),
        *_stamped(as_of),
    ]


def suite_customer_clv(as_of: date, v: dict) -> list:
    return [
        _between("p_alive", 0, 1),
        _between("expected_purchases_365d", 0),
        _between("expected_avg_value", 0),
        _between("clv_12m", 0),
        _between("margin_rate", 0, 1),
        *_stamped(as_of),
    ]


def suite_clv_model_fit(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    checks = [_between("value", 0, strict_min=True), gxe.ExpectTableRowCountToEqual(value=7), *_stamped(as_of)]
    if str(v.get("clv_fit_required", True)).lower() not in ("false", "0", "no"):
        # a fit that did not converge blocks the publish (booleans reach GX as 1/0 on every engine)
        checks.append(_in_set("converged", [1]))
    return checks


def suite_customer_segments(as_of: date, v: dict) -> list:
    return [
        _in_set("rad_strategy", ["reduce_cost", "retain", "develop", "acquire", "maintain"]),
        _in_set("lifecycle_stage", ["prospect", "churned", "win_back", "new", "decline", "growth", "mature"]),
        _in_set("value_tier", ["A+", "A", "B", "C", "D"]),
        _between("share_of_wallet", 0, 1),
        _between("p_alive", 0, 1),
        _between("clv_12m", 0),
        *_scores("r_score", "fm_score"),
        *_stamped(as_of),
    ]


def suite_purchase_decile_summary(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        _between("purchase_decile", 1, 10),
        gxe.ExpectTableRowCountToBeBetween(min_value=0, max_value=10),
        gxe.ExpectColumnMaxToBeBetween(column="cumulative_revenue_share", min_value=1 - 1e-9, max_value=1 + 1e-9),
        *_stamped(as_of),
    ]


def suite_pareto_summary(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectTableRowCountToEqual(value=1), _between("top_revenue_share", 0, 1), *_stamped(as_of)]


def suite_segment_summary(as_of: date, v: dict) -> list:
    return [_between("customers", 1), _between("avg_share_of_wallet", 0, 1), *_stamped(as_of)]


def suite_lifecycle_transitions(as_of: date, v: dict) -> list:
    return [_between("customers", 1), _between("share_of_from_stage", 0, 1), *_stamped(as_of)]


def suite_category_affinity(as_of: date, v: dict) -> list:
    # recomputed against mlxtend in tests/test_category_affinity.py; here: shares are shares, lift positive
    return [
        _between("support", 0, 1),
        _between("confidence", 0, 1),
        _between("lift", 0, strict_min=True),
        _between("customers_both", 1),
        *_stamped(as_of),
    ]


def suite_customer_events(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    from cvw.config import seed_column

    return [
        gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=seed_column("event_types", "event_type")),
        _between("days_until", 0, int(v["event_anniversary_days"])),  # anniversaries only (null for birthdays)
        # reference_date <= D and previous_as_of_date < D: dbt tests (both columns may be all null)
        *_stamped(as_of),
    ]


def suite_campaign_audience(as_of: date, v: dict) -> list:
    """The audience's rules as expectations; dbt tests recompute consent and caps from their sources
    (data-tests/events/), these check every row's own columns."""
    import great_expectations.expectations as gxe

    from cvw.audience import SUPPRESSION_RULES

    reasons = list(SUPPRESSION_RULES)
    cap7, cap30 = int(v["contact_cap_7d"]), int(v["contact_cap_30d"])
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="is_eligible"),
        gxe.ExpectColumnValuesToBeInSet(column="suppression_reason", value_set=reasons),
        # exactly one of eligible / suppressed: an eligible row has no reason, a suppressed one has one
        # (1/0: every engine hands booleans to GX as integers, see Engine.gx_batch)
        gxe.ExpectColumnPairValuesToBeInSet(
            column_A="is_eligible", column_B="audience_status",
            value_pairs_set=[(1, "eligible"), *((0, r) for r in reasons)],
        ),
        _between("response_rate", 0, 1, strict_min=True, strict_max=True),
        _between("priority", 0),
        _between("expected_value", 0),
        _between("planned_contacts_7d", 1, cap7),
        _between("planned_contacts_30d", 1, cap30),
        *_stamped(as_of),
    ]


SUITES: dict[str, Callable[[date, dict], list]] = {
    "dim_customers": suite_dim_customers,
    "fct_orders": suite_fct_orders,
    "fct_order_lines": suite_fct_order_lines,
    "fct_returns": suite_fct_returns,
    "fct_service_interactions": suite_fct_service_interactions,
    "fct_marketing_contacts": suite_fct_marketing_contacts,
    "customer_rfm": suite_customer_rfm,
    "customer_profitability": suite_customer_profitability,
    "customer_wallet": suite_customer_wallet,
    "customer_clv": suite_customer_clv,
    "clv_model_fit": suite_clv_model_fit,
    "customer_segments": suite_customer_segments,
    "purchase_decile_summary": suite_purchase_decile_summary,
    "pareto_summary": suite_pareto_summary,
    "segment_summary": suite_segment_summary,
    "lifecycle_transitions": suite_lifecycle_transitions,
    "category_affinity": suite_category_affinity,
    "customer_events": suite_customer_events,
    "campaign_audience": suite_campaign_audience,
}
PUBLISHED_TABLES = tuple(SUITES)


# Tables that can never be empty; the others come from optional landing entities (a plain transaction
# log such as CDNOW has no returns, service interactions or marketing contacts).
NON_EMPTY_TABLES = frozenset({
    "dim_customers", "fct_orders", "fct_order_lines", "customer_rfm", "customer_profitability", "customer_segments",
    "clv_model_fit", "pareto_summary", "segment_summary", "lifecycle_transitions",
})


def row_count_expectation(table: str, previous: int | None, v: dict):
    """Row count within a band around the previous publish; on the first publish, non-empty where required."""
    import great_expectations.expectations as gxe

    if previous is None:
        return gxe.ExpectTableRowCountToBeBetween(min_value=1 if table in NON_EMPTY_TABLES else 0)
    slack = int(v["gate_row_count_slack"])
    return gxe.ExpectTableRowCountToBeBetween(
        min_value=max(0, int(previous * float(v["gate_row_count_min_ratio"])) - slack),
        max_value=int(previous * float(v["gate_row_count_max_ratio"])) + slack,
    )


def build_suite(
    table: str, as_of: date, previous_rows: int | None = None, v: dict | None = None, empty: bool = False
):
    """The GX suite for one table as of D (an empty table only gets its row-count check)."""
    import great_expectations as gx

    v = v or gate_vars()
    expectations = [row_count_expectation(table, previous_rows, v), *([] if empty else SUITES[table](as_of, v))]
    return gx.ExpectationSuite(name=table, expectations=expectations)


def suite_columns(suite, keys: list[str]) -> list[str]:
    """The columns a suite reads plus the table's keys (for sample failing rows): all a gate batch needs."""
    wanted = list(keys)
    for e in suite.expectations:
        for arg in ("column", "column_A", "column_B"):
            name = e.configuration.kwargs.get(arg)
            if name and name not in wanted:
                wanted.append(name)
    return wanted


def _quiet_gx() -> None:
    """GX is chatty (PITFALLS 4): no analytics, no progress bars, warnings only."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ("great_expectations", "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.WARNING)


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


def run_gate(
    settings: Settings,
    as_of: date,
    run_id: str,
    previous_rows: dict[str, int] | None = None,
    schema: str = "marts",
    tables: tuple[str, ...] = PUBLISHED_TABLES,
    engine=None,
) -> GateResult:
    """Validate every audit table; write a JSON report and Data Docs; raise GateFailed on any failure."""
    _quiet_gx()
    import great_expectations as gx

    started = time.monotonic()
    v = gate_vars()
    ctx = _context(settings)
    engine = engine or get_engine(settings)
    result = GateResult(as_of=as_of)
    validation_ids = []
    for table in tables:
        suite = build_suite(table, as_of, (previous_rows or {}).get(table), v)
        columns = suite_columns(suite, TABLE_KEYS[table])
        batch, batch_parameters, rows = engine.gx_batch(ctx, schema, table, columns=columns)
        result.row_counts[table] = rows
        if rows == 0:
            suite = build_suite(table, as_of, (previous_rows or {}).get(table), v, empty=True)
        suite = ctx.suites.add_or_update(suite)
        validation = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"publish_gate__{table}", data=batch, suite=suite)
        )
        checkpoint = ctx.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"publish_gate__{table}",
                validation_definitions=[validation],
                actions=[],  # Data Docs are built once, after the last table (below)
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": TABLE_KEYS[table],
                    "partial_unexpected_count": 5,
                },
            )
        )
        outcome = checkpoint.run(batch_parameters=batch_parameters)
        del batch_parameters  # the table's rows (pandas on DuckDB): free them before the next table
        if rows > 100_000:
            gc.collect()
        failpoints.hit("gate.between_tables")
        validation_ids.extend(outcome.run_results)
        for run_result in outcome.run_results.values():
            for r in run_result.results:
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
    # render this run's validation pages and the index (not every page of every earlier run)
    ctx.build_data_docs(resource_identifiers=validation_ids)
    result.seconds = time.monotonic() - started
    sites = ctx.get_docs_sites_urls()
    result.data_docs = sites[0]["site_url"] if sites else None
    report_dir = settings.reports_dir / as_of.isoformat()
    report_dir.mkdir(parents=True, exist_ok=True)
    result.report = report_dir / f"gate_{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id)}.json"
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


def export_suites(out: Path = EXPECTATIONS_DIR, as_of: date = date(2000, 1, 1)) -> list[Path]:
    """Write every suite (for a fixed example as-of date, first publish, the vars of dbt_project.yml without
    CVW_DBT_VARS) to `expectations/<table>.json`."""
    from cvw.config import project_vars

    _quiet_gx()
    defaults = {**GATE_DEFAULTS, **project_vars(with_overrides=False)}
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for table in PUBLISHED_TABLES:
        suite = build_suite(table, as_of, None, dict(defaults))
        doc = {
            "name": table,
            "example_as_of_date": as_of.isoformat(),
            "expectations": [
                {"type": e.expectation_type, "kwargs": _as_jsonable(e.configuration.kwargs)}
                for e in suite.expectations
            ],
        }
        path = out / f"{table}.json"
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
