"""Publishing rules every engine follows (write-audit-publish, SPEC §6); the mechanics are the engine's
(`engines/<engine>/publish.py`: DuckDB swaps a new file in, PostgreSQL renames schemas in one transaction,
Spark repoints views at a new versioned database).

* A publish makes the gated audit tables (`marts`) the published `analytics` tables, all at once or not at
  all, and records a `publish_log` row (`log_row`).
* It replaces the current tables only when its as-of date is not older than the current publish
  (`replaces_current`); an older date (a backfill) adds its history and its log row and leaves the current
  tables alone. Earlier log rows are carried over, losing their `is_current` flag when the new publish
  replaces the current tables (`carried_over_log`).
* The history (`cvw.catalog.HISTORY_TABLES`) is never copied: each publish adds or replaces D's part only.
* Before publishing, every audit table must carry this run's as-of date (`check_built_for`): two runs
  interleaving on one warehouse fail instead of publishing a mix.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

# publish_log columns, in order, with contract (DuckDB-spelled) types; engines render them with their dialect
PUBLISH_LOG_COLUMNS = {
    "as_of_date": "DATE",
    "run_id": "VARCHAR",
    "published_at": "TIMESTAMP",
    "is_current": "BOOLEAN",
    "gate_result": "VARCHAR",
    "gate_checks": "INTEGER",
    "gate_failed": "INTEGER",
    "total_rows": "BIGINT",
    "row_counts": "VARCHAR",
    "run_summary": "VARCHAR",
}


class AuditAreaChanged(RuntimeError):
    """The audit tables hold another as-of date than this run's: another run rebuilt them in between."""


def check_built_for(query, tables: tuple[str, ...], as_of: date, schema: str = "marts") -> None:
    """Raise AuditAreaChanged unless every row of `schema.<table>` carries as_of_date = D. `query` runs SQL
    and returns rows (an engine's `query`, or a DuckDB connection's execute().fetchall()).

    Two runs must not interleave on one warehouse (Airflow keeps one active nightly run; run backfills with
    --max-active-runs 1). If they do anyway, this check turns a would-be wrong publish into a failed run."""
    sql = " union all ".join(
        f"select '{t}' as t, min(as_of_date) as lo, max(as_of_date) as hi from {schema}.{t}" for t in tables
    )
    wrong = [(t, lo, hi) for t, lo, hi in query(sql) if lo is not None and (str(lo) != str(as_of) or lo != hi)]
    if wrong:
        found = "; ".join(f"{t} holds {lo}..{hi}" for t, lo, hi in wrong)
        raise AuditAreaChanged(
            f"the audit area was rebuilt for another as-of date while this run (as of {as_of}) was going: "
            f"{found}. Nothing was published. Runs on one warehouse must not overlap (one active run; "
            f"`airflow backfill create ... --max-active-runs 1`). Re-run {as_of} (`cvw run --as-of {as_of}`)."
        )


def replaces_current(current_as_of: date | None, as_of: date) -> bool:
    """A publish of D replaces the current tables unless a later date is already current."""
    return current_as_of is None or as_of >= current_as_of


def publish_log_ddl(name: str, type_of=lambda t: t, not_null: bool = True, suffix: str = "") -> str:
    """`create table <name>` for publish_log, in an engine's types (`type_of`); run_summary may be null."""
    cols = ", ".join(
        f"{c} {type_of(t)}{' not null' if not_null and c != 'run_summary' else ''}"
        for c, t in PUBLISH_LOG_COLUMNS.items()
    )
    return f"create table {name} ({cols}){suffix}"


def carried_over_log(source: str, replace_current: bool) -> str:
    """SQL selecting the rows of an earlier `publish_log` for the new one: when the new publish replaces the
    current tables, no earlier row is current any more."""
    cols = [
        f"is_current and not {str(replace_current).lower()} as is_current" if c == "is_current" else c
        for c in PUBLISH_LOG_COLUMNS
    ]
    return f"select {', '.join(cols)} from {source}"


def log_row(as_of: date, run_id: str, published_at: datetime, replace_current: bool, gate_checks: int,
            row_counts: dict[str, int], run_summary: dict | None) -> list:
    """The new `publish_log` row, in PUBLISH_LOG_COLUMNS order (a publish only follows a passed gate)."""
    return [
        as_of, run_id, published_at, replace_current, "passed", gate_checks, 0, sum(row_counts.values()),
        json.dumps(row_counts, sort_keys=True), json.dumps(run_summary or {}, sort_keys=True, default=str),
    ]


@dataclass
class PublishResult:
    as_of: date
    run_id: str
    replaced_current: bool
    path: Path | str  # the published file (DuckDB) or schema (server engines)
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        what = "current tables replaced" if self.replaced_current else "older than current: history + log only"
        return (
            f"publish {self.as_of} ({self.run_id}): {what}; {sum(self.row_counts.values())} rows in "
            f"{len(self.row_counts)} tables -> {self.path} in {self.seconds:.1f}s"
        )


def fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries (a rename), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
