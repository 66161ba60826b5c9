"""The run report: `reports/<D>/index.html`, one self-contained page per publish of D.

What an analyst looks at first: the run's KPIs, the key pictures (the Pareto/Lorenz curve of profit, profit
and revenue by purchase decile and value class, the RFM grid, RAD strategy x value tier, lifecycle stages and
transitions, wallet headroom and the wallet model's error against held-out surveys, CLV by value tier, the
campaign audience and its suppression reasons), then the row accounting, the gate's results per table, seconds
per stage, and links to the GX Data Docs and the model docs (`cvw docs`).

Every number is read from the published tables through the engine (`query_published`), so the page shows
exactly what BI tools see. Each picture is drawn with matplotlib as inline SVG (no JavaScript, no font or
script fetched from anywhere: it renders offline and in air-gapped installs), and its numbers are printed in
a table under it and in one JSON block (`<script type="application/json" id="cvw-report-data">`, data that is
never executed) that tests and scripts compare with SQL.

A date older than the current publish keeps only its `customer_segments_history` rows: its report has the
run's facts (from `publish_log`) and the pictures that history can draw; the others say so.

Re-writing a report gives the same bytes (fixed SVG ids, no render timestamps).
"""

from __future__ import annotations

import html
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from cvw.figures import FIGURES, Figure, num, svg
from cvw.model_docs import docs_path
from cvw.settings import Settings

log = logging.getLogger(__name__)

REPORT_NAME = "index.html"
DATA_ID = "cvw-report-data"
SEGMENTS = "analytics.customer_segments"


class NotPublishedError(RuntimeError):
    """A report was asked for a date that was never published."""


KPIS_SQL = (
    "select count(*) as customers, "
    "sum(case when purchase_decile is not null then 1 else 0 end) as buyers_365d, "
    "sum(revenue_365d) as revenue_365d, sum(profit_contribution_365d) as profit_365d, "
    "sum(clv_12m) as clv_12m from analytics.customer_segments"
)
PARETO_SQL = "select gini_profit, top_profit_share, top_revenue_share from analytics.pareto_summary"
AUDIENCE_SQL = "select count(*) from analytics.campaign_audience where is_eligible"
WALLET_ERROR_SQL = (
    "select mdape_leave_survey_out from analytics.wallet_model_fit where category = 'all' and customer_type = 'all'"
)


@dataclass
class Report:
    as_of: date
    current: bool
    log_row: dict
    kpis: dict = field(default_factory=dict)
    figures: dict[str, list[dict]] = field(default_factory=dict)
    gate: dict | None = None
    links: dict[str, str | None] = field(default_factory=dict)


def report_path(settings: Settings, as_of: date) -> Path:
    return settings.reports_dir / as_of.isoformat() / REPORT_NAME


def _rows(engine, sql: str, columns: tuple[str, ...]) -> list[dict]:
    return [dict(zip(columns, r, strict=True)) for r in engine.query_published(sql)]


def _figure_rows(engine, fig: Figure, seg: str) -> list[dict]:
    rows = _rows(engine, fig.sql.format(seg=seg), fig.columns)
    return fig.derive(rows) if fig.derive else rows


def collect(settings: Settings, as_of: date, engine=None) -> Report:
    """Read D's report from the published tables (and D's `publish_log` row and gate report)."""
    from cvw.engines import get_engine

    own = engine is None
    engine = engine or get_engine(settings)
    try:
        log_rows = [r for r in engine.published_log() if r["as_of_date"] == as_of]
        if not log_rows:
            raise NotPublishedError(
                f"{as_of} was never published here ({engine.published_location()}): run `cvw run --as-of "
                f"{as_of}` first (`cvw status` lists the published dates)")
        row = max(log_rows, key=lambda r: r["published_at"])
        current = bool(row["is_current"])
        report = Report(as_of=as_of, current=current, log_row=row)
        seg = SEGMENTS if current else (
            f"(select * from analytics.customer_segments_history where as_of_date = "
            f"cast('{as_of.isoformat()}' as date)) history")
        for fig in FIGURES:
            if current or fig.history:
                report.figures[fig.name] = _figure_rows(engine, fig, seg)
        if current:
            report.kpis.update(_rows(engine, KPIS_SQL, ("customers", "buyers_365d", "revenue_365d", "profit_365d",
                                                        "clv_12m"))[0])
            pareto = _rows(engine, PARETO_SQL, ("gini_profit", "top_profit_share", "top_revenue_share"))
            report.kpis.update(pareto[0] if pareto else {})
            report.kpis["audience_eligible"] = engine.query_published(AUDIENCE_SQL)[0][0]
            wallet_error = engine.query_published(WALLET_ERROR_SQL)
            if wallet_error and wallet_error[0][0] is not None:
                report.kpis["wallet_model_error"] = wallet_error[0][0]
        else:
            report.kpis["customers"] = engine.query_published(f"select count(*) from {seg}")[0][0]
    finally:
        if own:
            engine.close()
    report.gate = _gate_report(settings, as_of, row["run_id"])
    report.links = _links(settings, as_of)
    return report


def _gate_report(settings: Settings, as_of: date, run_id: str) -> dict | None:
    from cvw.gate.runner import gate_report_path

    path = gate_report_path(settings, as_of, run_id)
    return json.loads(path.read_text()) if path.exists() else None


def _links(settings: Settings, as_of: date) -> dict[str, str | None]:
    from cvw.gate.runner import data_docs_index

    here = settings.reports_dir / as_of.isoformat()
    data_docs = data_docs_index(settings)
    model_docs = docs_path(settings)
    return {
        "data_docs": os.path.relpath(data_docs, here) if data_docs.exists() else None,
        "model_docs": os.path.relpath(model_docs, here) if model_docs.exists() else None,
    }


# --- rendering --------------------------------------------------------------------------------------------

def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.2f}"
    if isinstance(v, (int, Decimal)):
        return f"{v:,}"
    return str(v)


def _table(columns, rows: list[dict] | list[tuple], cls: str = "data") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r[c] if isinstance(r, dict) else r[i]))}</td>"
                         for i, c in enumerate(columns)) + "</tr>"
        for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _jsonable(v):
    if isinstance(v, Decimal):
        return str(v)  # exact: money stays decimal
    if isinstance(v, date):
        return v.isoformat()
    return v


def _data(report: Report, summary: dict) -> dict:
    return {
        "as_of_date": report.as_of.isoformat(),
        "current": report.current,
        "run_id": report.log_row["run_id"],
        "published_at": _jsonable(report.log_row["published_at"]),
        "gate_result": report.log_row.get("gate_result"),
        "kpis": {k: _jsonable(v) for k, v in report.kpis.items()},
        "figures": {name: [{k: _jsonable(v) for k, v in r.items()} for r in rows]
                    for name, rows in report.figures.items()},
        "row_counts": json.loads(report.log_row.get("row_counts") or "{}"),
        "summary": summary,
    }


STYLE = """
body { font-family: sans-serif; margin: 0 auto; max-width: 1400px; padding: 1rem 2rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .sub { color: #555; margin-top: 0; }
.kpis { display: flex; flex-wrap: wrap; gap: 0.6rem; margin: 1rem 0; }
.kpi { border: 1px solid #ccd; border-radius: 6px; padding: 0.5rem 0.8rem; min-width: 9rem; }
.kpi .v { font-size: 1.3rem; font-weight: bold; } .kpi .k { color: #555; font-size: 0.8rem; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #e3e3ea; border-radius: 6px; padding: 0.5rem; }
figure h3 { margin: 0.2rem 0; font-size: 1rem; } figure svg { width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.85rem; } .missing { color: #a60; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.4rem 0; }
th, td { border: 1px solid #dde; padding: 2px 6px; text-align: right; } th { background: #f3f3f8; }
.failed { color: #b00; font-weight: bold; }
"""


def _kpi(label: str, value) -> str:
    return (f'<div class="kpi" data-kpi="{html.escape(label)}"><div class="v">{html.escape(_cell(value))}</div>'
            f'<div class="k">{html.escape(label)}</div></div>')


def render(report: Report) -> str:
    """The page of `report`, as one self-contained HTML string."""
    summary = json.loads(report.log_row.get("run_summary") or "{}")
    k = report.kpis
    kpis = [("as-of date", report.as_of.isoformat()),
            ("published at", f"{str(report.log_row['published_at'])[:19]} UTC"),
            ("gate", f"{report.log_row.get('gate_result')} ({report.log_row.get('gate_checks')} checks, "
                     f"{report.log_row.get('gate_failed')} failed)")]
    for key, label in (("customers", "customers"), ("buyers_365d", "buyers, last 365 days"),
                       ("revenue_365d", "revenue, last 365 days"), ("profit_365d", "profit, last 365 days"),
                       ("top_profit_share", "profit share of the top 20%"), ("gini_profit", "Gini of profit"),
                       ("clv_12m", "CLV, next 12 months"), ("audience_eligible", "contacts eligible today"),
                       ("wallet_model_error", "wallet model error vs held-out surveys")):
        if key in k:
            kpis.append((label, f"{num(k[key]):.1%}" if key in ("top_profit_share", "wallet_model_error") else
                         f"{num(k[key]):.3f}" if key == "gini_profit" else k[key]))
    for key, label in (("rows_loaded", "rows loaded (all files)"), ("rows_quarantined", "rows quarantined"),
                       ("rows_rejected", "rows rejected")):
        if key in summary:
            kpis.append((label, summary[key]))
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Customer value, as of {report.as_of.isoformat()}: run report</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Customer value, as of {report.as_of.isoformat()}</h1>",
        f'<p class="sub">run {html.escape(str(report.log_row["run_id"]))}; '
        + ("the current publish." if report.current else
           "a date older than the current publish: only its customer_segments_history is kept, so the pictures "
           "that need other tables are not drawn.") + "</p>",
        '<section class="kpis">' + "".join(_kpi(label, v) for label, v in kpis) + "</section>",
        '<section class="figures">',
    ]
    for fig in FIGURES:
        if fig.name not in report.figures:
            parts.append(f'<figure data-figure="{fig.name}" class="missing"><h3>{html.escape(fig.title)}</h3>'
                         "<p>Not kept for dates older than the current publish.</p></figure>")
            continue
        rows = report.figures[fig.name]
        title = fig.title
        if fig.name == "lorenz" and "gini_profit" in k:
            title += f": top 20% bring {num(k['top_profit_share']):.1%} of profit, Gini {num(k['gini_profit']):.3f}"
        if fig.name == "lifecycle_transitions" and rows:
            title += f" ({rows[0]['from_as_of_date']})"
        caption = f"<figcaption>{html.escape(fig.caption)}</figcaption>" if fig.caption else ""
        columns = list(rows[0]) if rows else fig.columns
        parts.append(
            f'<figure id="fig-{fig.name}" data-figure="{fig.name}"><h3>{html.escape(title)}</h3>{svg(fig, rows)}'
            f"{caption}<details><summary>numbers ({len(rows)} rows)</summary>{_table(columns, rows)}"
            "</details></figure>")
    parts.append("</section>")
    parts.append(_facts(report, summary))
    data = json.dumps(_data(report, summary), sort_keys=True, default=str).replace("<", "\\u003c")
    parts.append(f'<script type="application/json" id="{DATA_ID}">{data}</script>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _facts(report: Report, summary: dict) -> str:
    out = ['<section id="run">', "<h2>The run</h2>"]
    seconds = summary.get("seconds") or {}
    if seconds:
        out.append("<h3>Seconds per stage</h3>" + _table(("stage", "seconds"), list(seconds.items())))
    acc = [(k, summary[k]) for k in ("rows_loaded", "rows_accepted", "rows_quarantined", "rows_rejected",
                                     "balanced", "new_files", "new_rows_ingested", "new_rows_quarantined")
           if k in summary]
    if acc:
        out.append("<h3>Row accounting (loaded = accepted + quarantined + rejected)</h3>"
                   + _table(("", "rows"), acc))
    gate = report.gate
    if gate:
        per_table: dict[str, list[int]] = {}
        for c in gate.get("checks", []):
            t = per_table.setdefault(c["table"], [0, 0])
            t[0] += 1
            t[1] += 0 if c["success"] else 1
        rows = [(t, gate.get("row_counts", {}).get(t), n, f) for t, (n, f) in per_table.items()]
        out.append(f"<h3>Quality gate: {'passed' if gate.get('success') else 'FAILED'}</h3>"
                   + _table(("table", "rows", "checks", "failed"), rows))
    else:
        out.append('<p class="missing">The gate report of this run is not in the reports folder.</p>')
    links = []
    if report.links.get("data_docs"):
        links.append(f'<li><a href="{html.escape(report.links["data_docs"])}">Great Expectations Data Docs</a> '
                     "(every check, with failing rows)</li>")
    if report.links.get("model_docs"):
        links.append(f'<li><a href="{html.escape(report.links["model_docs"])}">Model docs</a> (dbt: every '
                     "published table and column, lineage)</li>")
    else:
        links.append("<li>Model docs: run <code>cvw docs</code> to write them next to the reports.</li>")
    activation = summary.get("activation_rows") or {}
    if activation:
        links.append("<li>Activation files (rows per channel): " + html.escape(
            ", ".join(f"{c} {n}" for c, n in sorted(activation.items()))) + "</li>")
    out.append("<h3>More</h3><ul>" + "".join(links) + "</ul></section>")
    return "\n".join(out)


def write_report(settings: Settings, as_of: date, engine=None) -> dict:
    """(Re)write `reports/<D>/index.html` from what is published for D; returns {path, seconds, figures}."""
    started = time.monotonic()
    report = collect(settings, as_of, engine)
    page = render(report)
    path = report_path(settings, as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    seconds = round(time.monotonic() - started, 3)
    log.info("run report for %s: %s (%d pictures, %.1f s)", as_of, path, len(report.figures), seconds)
    return {"path": str(path), "seconds": seconds, "figures": sorted(report.figures)}


def current_date(settings: Settings) -> date:
    """The as-of date of the current publish (a clear error before the first one)."""
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        as_of, _ = engine.published_state()
        where = engine.published_location()
    finally:
        engine.close()
    if as_of is None:
        raise NotPublishedError(f"nothing is published yet ({where}): run `cvw run --as-of YYYY-MM-DD` first")
    return as_of


def read_data(path: Path) -> dict:
    """The numbers a written report shows (its JSON block)."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index(f'<script type="application/json" id="{DATA_ID}">')
    start = text.index(">", start) + 1
    return json.loads(text[start:text.index("</script>", start)])
