"""Human-readable status: what is published, the publish log, row accounting, problem rows."""

from __future__ import annotations


from cvw import db
from cvw.settings import Settings

EXAMPLE_QUERIES = """\
-- open the published file read-only (what a BI tool does):
--   duckdb -readonly {db}      or   duckdb.connect('{db}', read_only=True)
select customer_type, count(*) as customers from analytics.dim_customers group by 1 order by 2 desc;
select order_date, count(*) as orders, sum(revenue) as revenue
from analytics.fct_orders where is_completed group by 1 order by 1 desc limit 7;
select category, sum(line_revenue) as revenue, sum(line_margin) as margin
from analytics.fct_order_lines where is_completed group by 1 order by 2 desc;
"""


def _table(rows: list[tuple], header: list[str]) -> str:
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def status_text(settings: Settings) -> str:
    out = []
    if not settings.analytics_db.exists():
        out.append(f"nothing published yet ({settings.analytics_db} does not exist)")
    else:
        with db.connect(settings.analytics_db, read_only=True) as con:
            tables = con.execute(
                "select table_name, estimated_size from duckdb_tables() where schema_name = 'analytics' "
                "order by table_name"
            ).fetchall()
            counts = [(t, con.execute(f"select count(*) from analytics.{t}").fetchall()[0][0]) for t, _ in tables]
            log_rows = con.execute(
                "select as_of_date, run_id, published_at, is_current, gate_result, gate_checks, total_rows "
                "from analytics.publish_log order by published_at desc limit 10"
            ).fetchall()
        out.append(f"Published tables in {settings.analytics_db} (schema analytics):")
        out.append(_table(counts, ["table", "rows"]))
        out.append("")
        out.append("Publish log (latest first):")
        out.append(_table(log_rows, ["as_of_date", "run_id", "published_at", "current", "gate", "checks", "rows"]))
    if settings.warehouse.exists():
        with db.connect(settings.warehouse, read_only=True) as con:
            has = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'audit' and table_name = 'row_accounting'"
            ).fetchall()[0][0]
            if has:
                acc = con.execute(
                    "select entity, file_rows, accepted_rows, quarantined_rows, rejected_rows, balanced "
                    "from audit.row_accounting order by entity"
                ).fetchall()
                out.append("")
                out.append("Row accounting (file rows = accepted + quarantined + rejected):")
                out.append(_table(acc, ["entity", "file_rows", "accepted", "quarantined", "rejected", "balanced"]))
    out.append("")
    out.append("Example queries:")
    out.append(EXAMPLE_QUERIES.format(db=settings.analytics_db))
    return "\n".join(out)


def problem_rows(settings: Settings, limit: int = 20) -> str:
    """Quarantined rows (could not parse) and rejected rows (broke a rule), with reasons."""
    if not settings.warehouse.exists():
        return f"no warehouse yet at {settings.warehouse}"
    out = []
    with db.connect(settings.warehouse, read_only=True) as con:
        q = con.execute(
            "select entity, error_kind, count(*) from quarantine.rows group by 1, 2 order by 1, 2"
        ).fetchall()
        out.append("Quarantined rows (quarantine.rows) by kind:")
        out.append(_table(q, ["entity", "kind", "rows"]))
        sample = con.execute(
            f"select entity, source_file, line_number, error_kind, reason from quarantine.rows "
            f"order by entity, source_file, line_number limit {int(limit)}"
        ).fetchall()
        out.append(_table(sample, ["entity", "file", "line", "kind", "reason"]))
        has = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'audit' and table_name = 'rejected_rows'"
        ).fetchall()[0][0]
        if has:
            r = con.execute(
                "select entity, rejection_reason, count(*) from audit.rejected_rows group by 1, 2 order by 1, 2"
            ).fetchall()
            out.append("")
            out.append("Rejected rows (audit.rejected_rows) by reason:")
            out.append(_table(r, ["entity", "reason", "rows"]))
            sample = con.execute(
                f"select entity, record_key, source_file, line_number, rejection_reason from audit.rejected_rows "
                f"order by entity, source_file, line_number limit {int(limit)}"
            ).fetchall()
            out.append(_table(sample, ["entity", "key", "file", "line", "reason"]))
    return "\n".join(out)


