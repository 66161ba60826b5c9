"""Landing files and ingest planning: what is there, what is new, what may be loaded. Engine-neutral.

* `discover` lists the files of every entity folder (exact paths; a `*` in a name is a character).
* A file's sha256 is read from the manifest when its size and modification time are those recorded when it
  was loaded (and it was not modified in the seconds before that load); otherwise it is hashed. A night
  hashes its new files only (at 1M customers: 1.7 s of re-hashing 6,570 files gone). Like git and rsync,
  this trusts a size and mtime that did not change: rewriting a loaded file with the same size and then
  restoring its mtime (`touch -r`) is not seen.
* `plan` splits them into new and already-loaded files by the manifest (name -> sha256): the same file
  again is a no-op, a file whose content changed after it was loaded stops the run naming it, a file
  whose header cannot be loaded (missing column, other delimiter, UTF-16, unreadable Parquet, duplicate
  column) stops the run before anything is read.
* `stored_columns` names where each header column goes in raw: a contract column under its own name, an
  extra column (schema drift) under a safe name made of `[a-z0-9_]` only, so nothing read from a file is
  ever pasted into SQL (`Sales Rep` -> `sales_rep`, `group` -> `group_`).
* `IngestResult`, the warnings every engine gives and the row-accounting check of a loaded file.

Every engine's ingest is the template method `Engine.ingest` (cvw.engines.base) over these functions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cvw.contract import ENTITIES, Entity
from cvw.reader import FileStats
from cvw.settings import Settings

log = logging.getLogger(__name__)

LANDING_SUFFIXES = (".csv", ".parquet")
LINEAGE_COLUMNS = {
    "_source_file": "VARCHAR",
    "_line_number": "BIGINT",
    "_loaded_at": "TIMESTAMP",
    "_ingest_run_id": "VARCHAR",
}
# Identifiers reserved in DuckDB, PostgreSQL or Spark SQL: a drift column named like one gets a trailing `_`.
RESERVED_WORDS = frozenset("""
    all analyse analyze and any array as asc asymmetric between both by case cast check collate column
    constraint create cross current_catalog current_date current_role current_time current_timestamp
    current_user default deferrable delete desc distinct do drop else end except exists false fetch for
    foreign from full grant group having ilike in initially inner insert intersect interval into is join
    lateral leading left like limit localtime localtimestamp natural not null offset on only or order outer
    over overlaps partition placing primary range references returning right row rows select session_user
    similar some symmetric table tablesample then time timestamp to trailing true union unique update user
    using values variadic verbose when where window with
""".split())
MAX_IDENTIFIER = 63  # PostgreSQL's limit; the shortest of the engines


class IngestError(RuntimeError):
    """A landing problem the run must not continue past; the message says what to do."""


@dataclass
class LandingFile:
    entity: Entity
    path: Path
    name: str  # path relative to the landing dir: the manifest key
    size: int
    modified_ns: int  # st_mtime_ns when discovered
    sha256: str = ""  # set by `fill_sha256`, once the manifest has been read
    columns: list[str] = field(default_factory=list)  # lower-cased header, file order

    @property
    def extra_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.entity.columns]

    @property
    def stored(self) -> list[str]:
        """The raw column each header column is stored in (same order as `columns`)."""
        return stored_columns(self.entity, self.columns)

    @property
    def group_key(self) -> tuple:
        """Files with the same key are read together (same entity, format and header)."""
        return (self.entity.name, self.path.suffix.lower(), tuple(self.columns))


@dataclass
class IngestResult:
    run_id: str
    files_loaded: int = 0
    files_skipped: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_quarantined: dict[str, int] = field(default_factory=dict)
    file_records: dict[str, int] = field(default_factory=dict)  # counted from the files' bytes
    schema_drift: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, entity: str, loaded: int, quarantined: int, records: int) -> None:
        self.rows_loaded[entity] = self.rows_loaded.get(entity, 0) + loaded
        self.rows_quarantined[entity] = self.rows_quarantined.get(entity, 0) + quarantined
        self.file_records[entity] = self.file_records.get(entity, 0) + records

    def summary(self) -> str:
        loaded = sum(self.rows_loaded.values())
        quarantined = sum(self.rows_quarantined.values())
        return (
            f"ingest {self.run_id}: {self.files_loaded} new file(s), {self.files_skipped} already loaded; "
            f"{sum(self.file_records.values())} record(s) in the new files: {loaded} to raw, {quarantined} "
            f"quarantined; {len(self.schema_drift)} drift column(s); {self.seconds:.1f}s"
        )

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "files_loaded": self.files_loaded,
            "files_skipped": self.files_skipped,
            "file_records": self.file_records,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "schema_drift": self.schema_drift,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


# --- safe names for what a file's header says -------------------------------------------------------------


def safe_identifier(name: str, position: int) -> str:
    """A name made of [a-z0-9_] that needs no quoting in any engine, for a header column that is not in the
    contract (the original name is kept in ingest.schema_drift)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        slug = f"col_{position + 1}"
    elif not slug[0].isalpha():
        slug = f"col_{slug}"
    slug = slug[: MAX_IDENTIFIER - 4].rstrip("_")
    return f"{slug}_" if slug in RESERVED_WORDS else slug


def stored_columns(entity: Entity, columns: list[str]) -> list[str]:
    """Where each header column is stored in raw.<entity>: contract columns under their names, the others
    under `safe_identifier` names, made unique against the contract, the lineage columns and each other."""
    taken = set(entity.columns) | set(LINEAGE_COLUMNS)
    out = []
    for i, c in enumerate(columns):
        if c in entity.columns:
            out.append(c)
            continue
        base = name = safe_identifier(c, i)
        k = 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        out.append(name)
    return out


# --- discovery and planning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownFile:
    """What the manifest recorded of a file it loaded."""

    sha256: str
    size: int | None
    modified_ns: int | None
    loaded_at: datetime | None


# a file modified this close before its load may have changed again within the same mtime tick: hashed again
RACY_NS = 2_000_000_000


def known_from_rows(rows) -> dict[str, KnownFile]:
    """The manifest's rows (file_name, sha256, size_bytes, modified_ns, loaded_at) as name -> KnownFile."""
    return {name: KnownFile(sha, size, modified, loaded) for name, sha, size, modified, loaded in rows}


KNOWN_FILES_SQL = "select file_name, sha256, size_bytes, modified_ns, loaded_at from ingest.file_manifest"


def _recorded_sha256(known: KnownFile | None, size: int, modified_ns: int) -> str | None:
    """The manifest's sha256 of a file whose size and mtime are those recorded at its load; else None."""
    if known is None or known.modified_ns is None or known.loaded_at is None:
        return None
    loaded_ns = int(known.loaded_at.replace(tzinfo=timezone.utc).timestamp()) * 1_000_000_000
    if known.size != size or known.modified_ns != modified_ns or modified_ns > loaded_ns - RACY_NS:
        return None
    return known.sha256


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _csv_header(path: Path) -> list[str]:
    """The lower-cased header of a CSV file (an empty list for an empty file). A header ends at the first LF
    or, in a file without LF, at the first CR."""
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    if b"\n" not in first and b"\r" in first:
        first = first.split(b"\r", 1)[0]
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    if not text:
        return []
    return [c.strip().lower() for c in next(csv.reader(io.StringIO(text)))]


def _parquet_header(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [name.lower() for name in pq.read_schema(path).names]


def fill_sha256(files: list[LandingFile], known: dict[str, KnownFile]) -> None:
    """Set every file's sha256: the manifest's for a loaded file unchanged since (see the module docstring),
    else read from its bytes."""
    for f in files:
        f.sha256 = _recorded_sha256(known.get(f.name), f.size, f.modified_ns) or sha256_of(f.path)


def discover(settings: Settings) -> tuple[list[LandingFile], list[str]]:
    """List landing files per known entity (not hashed yet: `fill_sha256`); returns (files, warnings). Raises on
    a missing landing dir."""
    landing = settings.landing_dir
    if not landing.is_dir():
        raise IngestError(
            f"landing folder {landing} does not exist. Put one folder per entity there "
            f"(e.g. {landing}/orders/*.csv), generate demo data with `cvw generate --out {landing}`, "
            "or point CVW_LANDING_DIR at your landing folder."
        )
    warnings = []
    for child in sorted(landing.iterdir()):
        if child.is_dir() and child.name not in ENTITIES and not child.name.startswith(("_", ".")):
            warnings.append(f"unknown landing folder {child} ignored (known: {', '.join(ENTITIES)})")
    files = []
    for entity in ENTITIES.values():
        folder = landing / entity.name
        if not folder.is_dir():
            warnings.append(f"no landing folder for {entity.name}: raw.{entity.name} stays as it is")
            continue
        found = 0
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.suffix.lower() not in LANDING_SUFFIXES:
                if path.name.startswith("_"):  # _SUCCESS and other writers' marker files
                    continue
                warnings.append(
                    f"{path.relative_to(landing).as_posix()}: ignored, only .csv and .parquet files are loaded "
                    "(unpack or convert it and deliver it under a new name)"
                )
                continue
            found += 1
            stat = path.stat()
            files.append(
                LandingFile(
                    entity=entity,
                    path=path,
                    name=path.relative_to(landing).as_posix(),
                    size=stat.st_size,
                    modified_ns=stat.st_mtime_ns,
                )
            )
        if not found:
            warnings.append(
                f"landing folder {folder} holds no .csv or .parquet files: raw.{entity.name} stays as it is"
            )
    if not files:
        raise IngestError(
            f"landing folder {landing} holds no .csv or .parquet files in any entity folder "
            f"({', '.join(ENTITIES)}). Nothing to load: check CVW_LANDING_DIR or the upstream export."
        )
    return files, warnings


# Delimiters a header may be split by when an export was not comma-separated (name for the message).
OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "pipes"}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _header_problem(f: LandingFile) -> str | None:
    """Read the header of a new, non-empty file into `f.columns`; a message when the file cannot be loaded."""
    if f.path.suffix.lower() == ".parquet":
        try:
            f.columns = _parquet_header(f.path)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a file that is not Parquet
            return (
                f"{f.path}: not a readable Parquet file ({' '.join(str(exc).split())}). Export it again and replace it "
                "(it was not loaded)."
            )
    else:
        with f.path.open("rb") as fh:
            start = fh.read(2)
        if start in UTF16_BOMS:
            return (
                f"{f.path}: the file is UTF-16 encoded; landing CSV files must be UTF-8. Export it again as "
                "UTF-8 (e.g. 'CSV UTF-8' in Excel) and replace it (it was not loaded)."
            )
        f.columns = _csv_header(f.path)
    missing = sorted(f.entity.required - set(f.columns))
    if not missing:
        return None
    if len(f.columns) == 1:
        for delim, name in OTHER_DELIMITERS.items():
            if delim in f.columns[0] and set(f.columns[0].split(delim)) & f.entity.required:
                header = f.columns[0].replace("\t", "\\t")
                return (
                    f"{f.path}: the header is separated by {name}, not commas (found one column '{header}'). "
                    "Landing CSV files must be comma-separated: export the file again with ',' as the "
                    "delimiter and replace it (it was not loaded)."
                )
    return (
        f"{f.path}: missing required column(s) {', '.join(missing)} for {f.entity.name} "
        f"(found: {', '.join(f.columns) or 'no header'}). Fix the export and deliver the file again; "
        "check the delimiter is a comma."
    )


def _has_rows(f: LandingFile) -> bool:
    """Whether a file holds at least one data row (a header-only CSV or a 0-row Parquet file does not)."""
    if f.size == 0:
        return False
    if f.path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_metadata(f.path).num_rows > 0
        except Exception:
            return True
    with f.path.open("rb") as fh:
        fh.readline()
        return any(line.strip() for line in iter(fh.readline, b""))


def plan(
    known: dict[str, str], files: list[LandingFile], warnings: list[str] | None = None
) -> tuple[list[LandingFile], int]:
    """Split discovered files into new ones and already-loaded ones; fail on changed or malformed files.

    `known` maps manifest file names to their sha256. A new file with the same content as a known file (or
    as an earlier new file) is loaded but reported: appended to `warnings` when given, else logged.
    """
    new, skipped, problems, notes = [], 0, [], []
    by_sha: dict[str, str] = {}
    for name, sha in sorted(known.items()):
        by_sha.setdefault(sha, name)
    for f in files:
        if f.name in known:
            if known[f.name] != f.sha256:
                problems.append(
                    f"{f.path}: content changed after it was loaded (sha256 {known[f.name][:12]}… -> "
                    f"{f.sha256[:12]}…). Landing files are immutable: deliver the correction as a new file "
                    "with a new name, or restore the original."
                )
            else:
                skipped += 1
            continue
        if f.size == 0:
            new.append(f)
            continue
        problem = _header_problem(f)
        if problem:
            problems.append(problem)
            continue
        dupes = sorted({c for c in f.columns if f.columns.count(c) > 1})
        if dupes:
            problems.append(
                f"{f.path}: duplicate column(s) {', '.join(dupes)} (names are case-insensitive). Rename or "
                "drop the extra one and deliver the file again."
            )
        earlier = by_sha.get(f.sha256)
        if earlier is None:
            by_sha[f.sha256] = f.name
        elif _has_rows(f):
            when = "loaded before" if earlier in known else "also new in this run"
            notes.append(
                f"{f.name}: same content (sha256 {f.sha256[:12]}…) as {earlier}, {when}. Loaded as a new "
                "file: its rows are rejected as duplicate_key (see audit.rejected_rows); if it was a "
                "re-delivery by mistake, nothing else to do."
            )
        new.append(f)
    if len(problems) == 1:  # one line, as the CLI prints it
        raise IngestError(f"ingest stopped, nothing was loaded: {problems[0]}")
    if problems:
        raise IngestError("ingest stopped, nothing was loaded:\n  " + "\n  ".join(problems))
    if warnings is None:
        for note in notes:
            log.warning(note)
    else:
        warnings.extend(notes)
    return new, skipped


def groups_of(files: list[LandingFile]) -> list[list[LandingFile]]:
    """Non-empty new files grouped by `group_key`, in a stable order."""
    groups: dict[tuple, list[LandingFile]] = {}
    for f in files:
        if f.size:
            groups.setdefault(f.group_key, []).append(f)
    return [groups[k] for k in sorted(groups)]


# --- after loading ---------------------------------------------------------------------------------------------


def check_accounting(f: LandingFile, stats: FileStats, loaded: int, quarantined: int) -> None:
    """Every record of the file reached raw or quarantine; anything else stops the ingest (rolled back)."""
    if loaded + quarantined != stats.records:
        raise IngestError(
            f"ingest stopped, nothing was loaded: {f.path}: the file holds {stats.records} record(s) "
            f"({stats.lines} line(s) after the header, {stats.blank_lines} blank) but {loaded} reached raw and "
            f"{quarantined} quarantine. This is a bug in cvw's reader: please report it with the file."
        )


def file_warning(f: LandingFile, loaded: int, quarantined: int) -> str | None:
    """The warning for a file that loaded nothing (header only, or every row quarantined)."""
    if f.size == 0:
        return f"{f.name}: empty file (0 bytes), recorded with 0 rows"
    if not loaded and not quarantined:
        return f"{f.name}: no data rows (header only), recorded with 0 rows"
    if not loaded:
        return (
            f"{f.name}: all {quarantined} row(s) quarantined, none loaded (see quarantine.rows): check the "
            "export (delimiter, encoding, types) and deliver a corrected file under a new name"
        )
    return None


def one_line(exc: BaseException) -> str:
    """An exception as one line: for a long message (a Spark worker's traceback) its last `...Error: ...`
    line, which names what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) > 1:
        named = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)]
        if named:
            return named[-1]
    return lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}"


def new_ingest_run_id() -> str:
    return f"ingest_{datetime.now(timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def now_utc() -> datetime:
    """The load time stamped on every row of one ingest (naive UTC, whole seconds)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def finish(result: IngestResult, started: float) -> IngestResult:
    """Log warnings, drift and the summary line (every engine's ingest ends here)."""
    for w in result.warnings:
        log.warning(w)
    for d in result.schema_drift:
        log.warning("schema drift: %s", d)
    result.seconds = time.monotonic() - started
    log.info(result.summary())
    return result
