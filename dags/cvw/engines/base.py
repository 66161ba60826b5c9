"""The engine interface and the steps every engine shares. Implementations: the packages duckdb/ (default),
postgres/ and spark/, each with the same parts (connection or session, ingest, gate, publish) mixed into one
Engine class; `get_engine` picks one by `settings.target`.

`Engine.ingest` is the template method of an ingest: discover and plan the landing files (cvw.landing),
read each group of new files into Arrow batches (cvw.reader), type-check them in SQL (cvw.typecheck), write
raw / quarantine / drift / manifest rows, check that every record of every file arrived, commit. An engine
supplies an `IngestSession`: where the rows go and how the whole ingest becomes visible at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cvw import failpoints
from cvw.bookkeeping import drift_row, manifest_row
from cvw.landing import (
    IngestError,
    IngestResult,
    KnownFile,
    LandingFile,
    check_accounting,
    discover,
    file_warning,
    fill_sha256,
    finish,
    groups_of,
    now_utc,
    one_line,
    plan,
)
from cvw.reader import FileStats, field_name, file_batches
from cvw.settings import Settings
from cvw.typecheck import Dialect, Field

if TYPE_CHECKING:
    from cvw.publish import PublishResult

log = logging.getLogger(__name__)

# per file: (rows written to raw, rows written to quarantine, what the file holds)
GroupCounts = dict[str, tuple[int, int, FileStats]]
# What was published before a run, for the models that compare D with the previous date (dbt source
# `published`): a view over the engine's published history, the columns they read. Kept current by
# `Engine.prepare_build` before every build.
PUBLISHED_HISTORY_VIEW = "published_history.customer_segments_history"
PUBLISHED_HISTORY_COLUMNS = {
    "customer_id": "VARCHAR", "lifecycle_stage": "VARCHAR", "rad_strategy": "VARCHAR", "p_alive": "DOUBLE",
    "as_of_date": "DATE",
}


def arrow_schema(columns) -> Any:
    """The Arrow schema of `columns`, (name, type) pairs in the contract's lower-case type names."""
    import pyarrow as pa

    types = {"varchar": pa.string(), "double": pa.float64(), "bigint": pa.int64(), "integer": pa.int32(),
             "boolean": pa.bool_()}
    return pa.schema([(name, types[t]) for name, t in columns])


def group_fields(group: list[LandingFile]) -> list[Field]:
    """The stage column, stored column and contract type of every column of a group of files."""
    f = group[0]
    return [
        Field(field_name(i), stored, f.entity.columns.get(c, "VARCHAR"))
        for i, (c, stored) in enumerate(zip(f.columns, f.stored, strict=True))
    ]


READ_THREADS = 2  # files parsed at once (numpy and Arrow release the GIL for the bulk of the work)
READ_AHEAD = 4  # files read before the engine asks for them: what is held in memory beyond the engine's batch


def read_group(group: list[LandingFile]) -> tuple[Iterator, dict[str, FileStats]]:
    """The Arrow batches of a group's files, in the group's order, and the counts of each file, filled in as
    the batches are consumed. Files are parsed by a small thread pool a few files ahead of the consumer."""
    stats: dict[str, FileStats] = {f.name: FileStats() for f in group}

    def read(f: LandingFile) -> list:
        return list(file_batches(f.path, f.name, f.columns))

    def batches():
        files = iter(group)
        with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="cvw-read") as pool:
            pending: deque = deque()

            def submit_next() -> None:
                f = next(files, None)
                if f is not None:
                    pending.append((f, pool.submit(read, f)))

            for _ in range(READ_AHEAD):
                submit_next()
            try:
                while pending:
                    f, future = pending.popleft()
                    submit_next()
                    for batch, counts in future.result():
                        stats[f.name].add(counts)
                        yield batch
            finally:  # stopped early (an error downstream): do not parse the files still queued
                for _, future in pending:
                    future.cancel()

    return batches(), stats


class IngestSession(ABC):
    """One ingest on one engine: whatever it writes becomes visible at `commit`, or never."""

    warnings: list[str]  # what the engine found on the way (e.g. repairs), reported with the ingest

    @abstractmethod
    def known_files(self) -> dict[str, KnownFile]:
        """Manifest file name -> what was recorded of every file loaded before (landing.KNOWN_FILES_SQL)."""

    @abstractmethod
    def add_columns(self, entity: str, columns: list[str]) -> None:
        """Add text columns (schema drift, safe names) to raw.<entity> if it lacks them."""

    @abstractmethod
    def load(self, group: list[LandingFile], fields: list[Field], loaded_at: datetime, run_id: str) -> GroupCounts:
        """Read a group of new files (same entity and header), write good rows to raw.<entity> and bad ones to
        quarantine.rows; per file the rows written to each and what the file holds."""

    @abstractmethod
    def commit(self, drift: list[dict], manifest: list[dict]) -> None:
        """Write the drift and manifest rows and make everything of this ingest visible at once."""


class Engine(ABC):
    """One warehouse engine. Schemas: raw, quarantine, ingest (ingest), staging, intermediate, marts
    (the audit area), audit (dbt), analytics (published)."""

    name: str
    dialect: Dialect
    # where dbt builds the audit marts, as a prefix of `<audit_schema>.<table>` (DuckDB: a catalog and schema)
    audit_schema: str = "marts"  # how this engine spells literals, identifiers, casts (cvw.typecheck)

    def __init__(self, settings: Settings):
        self.settings = settings

    # --- ingest ----------------------------------------------------------------------------------------

    @abstractmethod
    def ingest_session(self, run_id: str) -> contextlib.AbstractContextManager[IngestSession]:
        """An open ingest (connection, lock, transaction); leaving it without commit undoes what it wrote."""

    def ingest(self, run_id: str) -> IngestResult:
        """Load every new landing file: all of this ingest is committed, or none of it (SPEC §8)."""
        started = time.monotonic()
        result = IngestResult(run_id=run_id)
        files, warnings = discover(self.settings)
        result.warnings.extend(warnings)
        last_loaded_at = self.last_loaded_at()
        with self.ingest_session(run_id) as session:
            known = session.known_files()
            fill_sha256(files, known)  # only new or changed files are read
            new, result.files_skipped = plan({name: k.sha256 for name, k in known.items()}, files, result.warnings)
            # later than every earlier ingest, even when the clock went back: the incremental validated models
            # take the rows loaded after their newest one, and the first loaded copy of a key wins
            loaded_at = max(now_utc(), last_loaded_at + timedelta(seconds=1)) if last_loaded_at else now_utc()
            manifest, drift = [], []
            for f in new:
                if not f.size:
                    manifest.append(manifest_row(f, 0, 0, FileStats(), loaded_at, run_id))
                    result.warnings.append(file_warning(f, 0, 0))
            groups = groups_of(new)
            for i, group in enumerate(groups, start=1):
                entity = group[0].entity
                log.info("ingest %d/%d: %s, %d %s file(s)", i, len(groups), entity.name, len(group),
                         group[0].path.suffix.lower())
                extras = [(c, s) for c, s in zip(group[0].columns, group[0].stored, strict=True)
                          if c not in entity.columns]
                if extras:
                    session.add_columns(entity.name, [s for _, s in extras])
                try:
                    counts = session.load(group, group_fields(group), loaded_at, run_id)
                except IngestError:
                    raise
                except Exception as exc:  # a file gone or unreadable mid-run: nothing of this ingest stays
                    raise IngestError(
                        f"ingest stopped, nothing was loaded: reading the {entity.name} files "
                        f"{', '.join(f.name for f in group[:3])}{' …' if len(group) > 3 else ''} failed: "
                        f"{one_line(exc)}"
                    ) from exc
                for f in group:
                    loaded, quarantined, stats = counts[f.name]
                    check_accounting(f, stats, loaded, quarantined)
                    manifest.append(manifest_row(f, loaded, quarantined, stats, loaded_at, run_id))
                    result.add(entity.name, loaded, quarantined, stats.records)
                    for column, stored in extras:
                        drift.append(drift_row(f, column, stored, loaded_at, run_id))
                        result.schema_drift.append(
                            f"{f.name}: extra column {column}" + (f" (stored as {stored})" if stored != column else "")
                        )
                    warning = file_warning(f, loaded, quarantined)
                    if warning:
                        result.warnings.append(warning)
                failpoints.hit("ingest.between_groups")
            session.commit(drift, manifest)
        result.warnings.extend(session.warnings)
        result.files_loaded = len(new)
        return finish(result, started)

    def last_loaded_at(self) -> datetime | None:
        """The load time of the latest ingest (ingest.file_manifest), None before the first."""
        try:
            value = self.query("select max(loaded_at) from ingest.file_manifest")[0][0]
        except Exception:  # noqa: BLE001 - no manifest yet reads differently on each engine; all mean "none"
            return None
        return value.replace(tzinfo=None) if value is not None else None

    def require_ingested(self) -> None:
        """Raise NotReadyError unless something was ingested into this warehouse (steps after ingest say so)."""
        from cvw.db import NotReadyError

        try:
            loaded = self.query("select count(*) from ingest.file_manifest")[0][0]
        except NotReadyError:
            raise
        except Exception:  # no such table: nothing was ever ingested
            loaded = 0
        if not loaded:
            raise NotReadyError(
                f"nothing has been ingested into this warehouse ({self.settings.target}, CVW_HOME "
                f"{self.settings.home}): run `cvw ingest` first, or `cvw run --as-of YYYY-MM-DD`, which ingests, "
                "builds, gates and publishes"
            )

    # --- build ---------------------------------------------------------------------------------------------

    def before_dbt(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Whatever dbt needs from the engine in this process before it runs (Spark: the session that
        dbt-spark's `session` method reuses is started with the engine)."""

    def check_audit_area(self, tables: tuple[str, ...], as_of: date) -> None:
        """Every audit table holds this run's as-of date (cvw.publish.check_built_for)."""
        from cvw.publish import check_built_for

        check_built_for(self.query, tables, as_of, self.audit_schema)

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement (DDL) on the working warehouse."""

    @abstractmethod
    def published_history_source(self) -> str | None:
        """SQL of the relation holding the published customer_segments_history; None before the first publish."""

    def stored_fingerprint(self) -> str | None:
        """The fingerprint the incremental models were last built with (audit.build_fingerprint), or None
        when there is none (no build yet, or one from before the table existed)."""
        try:
            rows = self.query("select fingerprint from audit.build_fingerprint")
        except Exception:  # noqa: BLE001 - a missing table reads differently on each engine; all mean "none"
            return None
        return rows[0][0] if rows and rows[0][0] else None

    def prepare_build(self) -> None:
        """Point PUBLISHED_HISTORY_VIEW at what is published now (an empty view before the first publish), so
        the build compares D with published dates only."""
        source = self.published_history_source()
        if source:
            select = f"select {', '.join(PUBLISHED_HISTORY_COLUMNS)} from {source}"
        else:
            select = "select " + ", ".join(
                f"cast(null as {self.dialect.type(t)}) as {c}" for c, t in PUBLISHED_HISTORY_COLUMNS.items()
            ) + " limit 0"
        self.execute(f"create schema if not exists {PUBLISHED_HISTORY_VIEW.split('.')[0]}")
        self.execute(f"drop view if exists {PUBLISHED_HISTORY_VIEW}")  # its column types may change
        self.execute(f"create view {PUBLISHED_HISTORY_VIEW} as {select}")

    # --- gate and publish ------------------------------------------------------------------------------

    @abstractmethod
    def gate_relation(self, schema: str, table: str) -> str:
        """The relation the gate's aggregate queries read for `schema.table` (cvw.gate.aggregate), after
        checking it exists (NotReadyError naming the command that builds it) and, where the engine caches
        tables, that it reads what dbt built last."""

    @abstractmethod
    def publish(
        self, as_of: date, run_id: str, tables: tuple[str, ...], gate_checks: int, run_summary: dict | None
    ) -> PublishResult:
        """Make the audit tables the published `analytics` tables, atomically, or only log an older date."""

    @abstractmethod
    def published_location(self) -> str:
        """Where BI reads the published tables (for people: `cvw status`)."""

    def reader_hint(self) -> list[str]:
        """How a BI tool or a person connects to the published tables (SQL comment lines)."""
        return []

    @abstractmethod
    def published_log(self) -> list[dict]:
        """Rows of analytics.publish_log (as dicts), newest first; [] before the first publish."""

    @abstractmethod
    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run SQL on the warehouse (raw, quarantine, audit area); fetch all rows."""

    @abstractmethod
    def query_published(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run SQL where BI reads (`analytics.*`); fetch all rows."""

    # --- Python steps (CLV): Arrow in and out -----------------------------------------------------------

    @abstractmethod
    def read_arrow(self, sql: str) -> Any:
        """Run a query on the warehouse and return a pyarrow Table (for small results: fit inputs)."""

    @abstractmethod
    def write_arrow(self, table: Any, schema: str, name: str) -> None:
        """Create or replace `schema.name` from a (small) pyarrow Table."""

    @abstractmethod
    def map_batches(self, source_sql: str, fn: Any, schema: str, name: str, columns: tuple) -> int:
        """Stream the rows of `source_sql` through `fn` (Arrow RecordBatch -> RecordBatch of `columns`, a tuple
        of (name, duckdb type)) into a new table `schema.name`, without holding all rows in one process.
        Returns the number of rows written."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections/sessions (no-op by default)."""

    # shared logic on top of published_log -------------------------------------------------------

    def published_state(self) -> tuple[date | None, dict[str, int]]:
        """As-of date and row counts of the current published tables (None, {} before any publish)."""
        import json

        current = [r for r in self.published_log() if r["is_current"]]
        if not current:
            return None, {}
        return current[0]["as_of_date"], json.loads(current[0]["row_counts"])

    def previous_row_counts(self, as_of: date) -> dict[str, int]:
        """Row counts of the latest publish with as_of_date <= D: the gate's row-count reference."""
        import json

        earlier = sorted(
            (r for r in self.published_log() if r["as_of_date"] <= as_of),
            key=lambda r: (r["as_of_date"], r["published_at"]),
            reverse=True,
        )
        return json.loads(earlier[0]["row_counts"]) if earlier else {}
