"""Landing files -> raw tables, with lineage, a file manifest and a quarantine (SPEC §3, §8), on every engine.

* A file is loaded once: its SHA-256 goes to `ingest.file_manifest` in the same commit as its rows. Loading
  the same file again is a no-op; a file whose content changed after it was loaded stops the run (nothing is
  loaded) with a message naming the file.
* All or nothing per run: the rows of every new file, the quarantine, drift and manifest rows are committed
  together; a failure anywhere (a file that cannot be read, a crash) leaves the warehouse as it was.
* Rows are counted from the files' bytes (`cvw.reader`): lines, blank lines and records per file are kept in
  the manifest, and a file whose records do not all reach raw or quarantine stops the ingest.
* Rows that cannot be parsed (bad type, bad encoding, wrong column count, bad quoting) go to
  `quarantine.rows` with file, line (the line in the file) and reason; one record is one row, listing every
  bad value. Nothing is rounded, capped or read as infinity.
* Column names are case-insensitive; a missing required column fails the run naming the file; extra columns
  are kept in raw as text under safe names and reported in `ingest.schema_drift`. A header that is not
  comma-separated, a UTF-16 file or an unreadable Parquet file fails the run the same way.
* Timestamps are UTC: a value without offset is taken as UTC, one with an offset or zone name (`Z`,
  `+02:00`, `Europe/Paris`) is converted to UTC, anything else is quarantined as `bad_type`.
* Header-only files, files whose every row was quarantined, files with the content of an earlier file and
  files in an entity folder that are neither .csv nor .parquet are reported as warnings.
* Every raw row carries `_source_file`, `_line_number`, `_loaded_at` and `_ingest_run_id`.

The steps are `cvw.landing` (planning), `cvw.reader` (files -> Arrow), `cvw.typecheck` (types, in SQL) and
the template method `Engine.ingest` (cvw.engines.base).
"""

from __future__ import annotations

from cvw.landing import IngestError, IngestResult, new_ingest_run_id
from cvw.settings import Settings

__all__ = ["IngestError", "IngestResult", "ingest_landing"]


def ingest_landing(settings: Settings, run_id: str | None = None) -> IngestResult:
    """Load every new landing file into the engine of `settings.target` (see the module docstring)."""
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        return engine.ingest(run_id or new_ingest_run_id())
    finally:
        engine.close()
