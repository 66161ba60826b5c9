"""Human-readable status: what is published, the publish log, row accounting, problem rows."""

from __future__ import annotations

import json

from cvw.settings import Settings

EXAMPLE_QUERIES = """\
select customer_type, count(*) as customers from analytics.dim_customers group by 1 order by 2 desc;
select order_date, count(*) as orders, sum(revenue) as revenue
from analytics.fct_orders where is_completed group by 1 order by 1 desc limit 7;
select category, sum(line_revenue) as revenue, sum(line_margin) as margin
from analytics.fct_order_lines where is_completed group by 1 order by 2 desc;
-- whom to contact today and whom not (then: cvw explain-audience --customer <customer_id>):
select audience_status, channel, count(*) as customer_events
from analytics.campaign_audience group by 1, 2 order by 3 desc;
"""


def _table(rows: list[tuple], header: list[str]) -> str:
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def status_text(settings: Settings) -> str:
    from cvw.engines import get_engine

    engine = get_engine(settings)
    out = []
    try:
        log_rows = engine.published_log()
        if not log_rows:
            out.append(f"nothing published yet ({engine.published_location()})")
        else:
            current = next((r for r in log_rows if r["is_current"]), log_rows[0])
            counts = sorted(json.loads(current["row_counts"]).items())
            out.append(f"Published tables in {engine.published_location()}, as of {current['as_of_date']}:")
            out.append(_table(counts, ["table", "rows"]))
            out.append("")
            out.append("Publish log (latest first):")
            out.append(_table(
                [(r["as_of_date"], r["run_id"], r["published_at"], r["is_current"], r["gate_result"],
                  r["gate_checks"], r["total_rows"]) for r in log_rows[:10]],
                ["as_of_date", "run_id", "published_at", "current", "gate", "checks", "rows"],
            ))
            files = json.loads(current.get("run_summary") or "{}").get("activation_files") or []
            csv = [f for f in files if f["format"] == "csv"]
            if csv:
                folder = settings.publish_dir / csv[0]["path"].rsplit("/", 1)[0]
                out.append("")
                out.append(f"Activation files of {current['as_of_date']} ({folder}, .csv and .parquet): "
                           + ", ".join(f"{f['channel']} {f['rows']}" for f in csv) + " contacts")
        try:
            acc = engine.query(
                "select entity, file_rows, accepted_rows, quarantined_rows, rejected_rows, balanced "
                "from audit.row_accounting order by entity"
            )
        except Exception:  # noqa: BLE001 - nothing built yet
            acc = None
        if acc:
            out.append("")
            out.append("Row accounting (file rows = accepted + quarantined + rejected):")
            out.append(_table(acc, ["entity", "file_rows", "accepted", "quarantined", "rejected", "balanced"]))
        hint = engine.reader_hint()
    finally:
        engine.close()
    out.append("")
    out.append("Example queries:")
    out.extend(hint)
    out.append(EXAMPLE_QUERIES)
    return "\n".join(out)


def _problem_section(engine, title: str, table: str, reason: str, columns: list[str], headers: list[str],
                     limit: int) -> list[str]:
    """Counts per (entity, reason) and the first `limit` rows of one problem table."""
    counts = engine.query(f"select entity, {reason}, count(*) from {table} group by 1, 2 order by 1, 2")
    sample = engine.query(
        f"select {', '.join(columns)} from {table} order by entity, source_file, line_number limit {int(limit)}"
    )
    return [title, _table(counts, ["entity", headers[-1], "rows"]), _table(sample, headers)]


def problem_rows(settings: Settings, limit: int = 20) -> str:
    """Quarantined rows (could not parse) and rejected rows (broke a rule), with reasons."""
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        engine.require_ingested()
        out = _problem_section(
            engine, "Quarantined rows (quarantine.rows) by kind:", "quarantine.rows", "error_kind",
            ["entity", "source_file", "line_number", "error_kind", "reason"],
            ["entity", "file", "line", "kind", "reason"], limit,
        )
        try:
            out += [""] + _problem_section(
                engine, "Rejected rows (audit.rejected_rows) by reason:", "audit.rejected_rows", "rejection_reason",
                ["entity", "record_key", "source_file", "line_number", "rejection_reason"],
                ["entity", "key", "file", "line", "reason"], limit,
            )
        except Exception:  # noqa: BLE001 - dbt has not built the audit models yet
            pass
    finally:
        engine.close()
    return "\n".join(out)
