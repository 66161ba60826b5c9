"""The engine interface. Implementations: duckdb.py (default), postgres.py, spark.py."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import TYPE_CHECKING, Any

from cvw.settings import Settings

if TYPE_CHECKING:
    from cvw.ingest import IngestResult
    from cvw.publish import PublishResult


class Engine(ABC):
    """One warehouse engine. Schemas: raw, quarantine, ingest (ingest), staging, intermediate, marts
    (the audit area), audit (dbt), analytics (published)."""

    name: str

    def __init__(self, settings: Settings):
        self.settings = settings

    @abstractmethod
    def ingest(self, settings: Settings, run_id: str) -> IngestResult:
        """Load new landing files into raw (+ quarantine, manifest, drift), same rules on every engine."""

    @abstractmethod
    def gx_batch(
        self, context: Any, schema: str, table: str, columns: list[str] | None = None
    ) -> tuple[Any, dict, int]:
        """(GX batch definition, batch_parameters, row count) to validate `schema.table` with GX. `columns`: what
        the suite reads (an engine that copies rows out of the database copies only those)."""

    @abstractmethod
    def publish(
        self, as_of: date, run_id: str, tables: tuple[str, ...], gate_checks: int, run_summary: dict | None
    ) -> PublishResult:
        """Make the audit tables the published `analytics` tables, atomically, or only log an older date."""

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
