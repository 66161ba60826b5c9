"""Landing files -> DuckDB raw tables, with lineage, a file manifest and a quarantine.

* A file is loaded once: its SHA-256 goes to `ingest.file_manifest` in the same transaction as its rows.
  Loading the same file again is a no-op; a file whose content changed after it was loaded stops the run
  (nothing is loaded) with a message naming the file.
* Rows that cannot be parsed (bad type, bad encoding, wrong column count) are caught by DuckDB's own CSV
  reject tables and kept in `quarantine.rows` with file, line and reason.
* Column names are case-insensitive; a missing required column fails the run naming the file; extra
  columns are kept in raw (as VARCHAR) and reported in `ingest.schema_drift`. A header that is not
  comma-separated (`;`, tab, `|`), a UTF-16 file or an unreadable Parquet file fails the run the same way.
* Timestamps are UTC: a value without offset is taken as UTC, one with an offset or zone name (`Z`,
  `+02:00`, `Europe/Paris`) is converted to UTC, anything else is quarantined as `bad_type`.
* A DOUBLE that is not finite (`1e400` reads as infinity, `inf`, `nan`) is quarantined as `bad_type`.
* A new file with the same content as a file loaded before (or earlier in the same run) is loaded, with a
  warning naming the earlier file; its rows are then rejected as `duplicate_key` by the dbt validation.
  Header-only files, files whose every row was quarantined and files in an entity folder that are
  neither .csv nor .parquet are reported as warnings too.
* Every raw row carries `_source_file`, `_line_number`, `_loaded_at` and `_ingest_run_id`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cvw import db, failpoints
from cvw.contract import ENTITIES, Entity
from cvw.settings import Settings

log = logging.getLogger(__name__)

LANDING_SUFFIXES = (".csv", ".parquet")
LINEAGE_COLUMNS = {
    "_source_file": "VARCHAR",
    "_line_number": "BIGINT",
    "_loaded_at": "TIMESTAMP",
    "_ingest_run_id": "VARCHAR",
}
# DuckDB's CSV reject error types, mapped onto SPEC §8's quarantine kinds.
REJECT_KIND_SQL = """
    case error_type
        when 'CAST' then 'bad_type'
        when 'INVALID ENCODING' then 'bad_encoding'
        when 'INVALID UNICODE' then 'bad_encoding'
        when 'TOO MANY COLUMNS' then 'wrong_column_count'
        when 'MISSING COLUMNS' then 'wrong_column_count'
        when 'UNQUOTED VALUE' then 'bad_quoting'
        when 'LINE SIZE OVER MAXIMUM' then 'line_too_long'
        else lower(replace(error_type, ' ', '_'))
    end
"""


class IngestError(RuntimeError):
    """A landing problem the run must not continue past; the message says what to do."""


@dataclass
class LandingFile:
    entity: Entity
    path: Path
    name: str  # path relative to the landing dir: the manifest key
    sha256: str
    size: int
    columns: list[str] = field(default_factory=list)  # lower-cased header, file order

    @property
    def extra_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.entity.columns]


@dataclass
class IngestResult:
    run_id: str
    files_loaded: int = 0
    files_skipped: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_quarantined: dict[str, int] = field(default_factory=dict)
    schema_drift: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        loaded = sum(self.rows_loaded.values())
        quarantined = sum(self.rows_quarantined.values())
        return (
            f"ingest {self.run_id}: {self.files_loaded} new file(s), {self.files_skipped} already loaded; "
            f"{loaded} row(s) to raw, {quarantined} quarantined; {len(self.schema_drift)} drift column(s); "
            f"{self.seconds:.1f}s"
        )

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "files_loaded": self.files_loaded,
            "files_skipped": self.files_skipped,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "schema_drift": self.schema_drift,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


BOOKKEEPING_TABLES = {
    "ingest.file_manifest": """
        file_name varchar primary key,
        entity varchar not null,
        sha256 varchar not null,
        size_bytes bigint not null,
        rows_loaded bigint not null,
        rows_quarantined bigint not null,
        columns varchar[],
        extra_columns varchar[],
        loaded_at timestamp not null,
        ingest_run_id varchar not null
    """,
    "quarantine.rows": """
        entity varchar not null,
        source_file varchar not null,
        line_number bigint,
        column_name varchar,
        error_kind varchar not null,
        reason varchar not null,
        raw_line varchar,
        loaded_at timestamp not null,
        ingest_run_id varchar not null
    """,
    "ingest.schema_drift": """
        entity varchar not null,
        source_file varchar not null,
        column_name varchar not null,
        kind varchar not null,
        detected_at timestamp not null,
        ingest_run_id varchar not null
    """,
}


def schema_ddl(type_of=lambda contract_type: contract_type) -> list[str]:
    """DDL of the raw, quarantine and ingest tables (idempotent); `type_of` maps contract types to the
    engine's. The bookkeeping tables use types that DuckDB and PostgreSQL share."""
    ddl = [f"create schema if not exists {schema}" for schema in ("raw", "quarantine", "ingest")]
    for entity in ENTITIES.values():
        cols = ", ".join(f"{name} {type_of(typ)}" for name, typ in {**entity.columns, **LINEAGE_COLUMNS}.items())
        ddl.append(f"create table if not exists {entity.raw_table} ({cols})")
    ddl += [f"create table if not exists {name} ({cols})" for name, cols in BOOKKEEPING_TABLES.items()]
    return ddl


def ensure_schema(con) -> None:
    """Create the raw, quarantine and ingest tables if they are missing (idempotent)."""
    for statement in schema_ddl():
        con.execute(statement)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _csv_header(path: Path) -> list[str]:
    """The lower-cased header of a CSV file (an empty list for an empty file)."""
    with path.open("rb") as fh:
        first = fh.readline()
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    if not text:
        return []
    return [c.strip().lower() for c in next(csv.reader(io.StringIO(text)))]


def _parquet_header(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [name.lower() for name in pq.read_schema(path).names]


def discover(settings: Settings) -> tuple[list[LandingFile], list[str]]:
    """List landing files per known entity; returns (files, warnings). Raises on a missing landing dir."""
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
            files.append(
                LandingFile(
                    entity=entity,
                    path=path,
                    name=path.relative_to(landing).as_posix(),
                    sha256=_sha256(path),
                    size=path.stat().st_size,
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

    `known` maps manifest file names to their sha256. Engine-independent: every engine's ingest uses it.
    A new file with the same content as a known file (or as an earlier new file) is loaded but reported:
    appended to `warnings` when given, else logged.
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


def _scan_csv(con, files: list[LandingFile], scan: str) -> None:
    """Read CSV files with one header into temp table `scan`; parse failures land in `<scan>_rej`."""
    entity = files[0].entity
    types = {c: entity.columns.get(c, "VARCHAR") for c in files[0].columns}
    # read timestamps as TIMESTAMPTZ (session zone UTC) so '...Z' and '+02:00' are converted, not truncated
    read_types = {c: ("TIMESTAMPTZ" if t == "TIMESTAMP" else t) for c, t in types.items()}
    columns_sql = "{" + ", ".join(f"'{c}': '{t}'" for c, t in read_types.items()) + "}"
    paths = "[" + ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in files) + "]"
    select = ", ".join(f"cast({c} as {types[c]}) as {c}" for c in types)
    con.execute(
        f"""
        create or replace temp table {scan} as
        select {select}, filename as _file, row_number() over () as _scan_order
        from read_csv({paths}, columns = {columns_sql}, header = true, delim = ',', quote = '"',
                      escape = '"', auto_detect = false, null_padding = false, filename = true,
                      store_rejects = true, rejects_table = '{scan}_rej', rejects_scan = '{scan}_rejscan')
        """
    )


def _scan_parquet(con, files: list[LandingFile], scan: str) -> None:
    """Read Parquet files into `scan`; values that do not cast to the contract type are quarantined."""
    entity = files[0].entity
    cols = files[0].columns
    paths = "[" + ", ".join("'" + str(f.path).replace("'", "''") + "'" for f in files) + "]"
    types = {c: entity.columns.get(c, "VARCHAR") for c in cols}
    con.execute(
        f"""
        create or replace temp table {scan}_src as
        select *, filename as _file, file_row_number + 2 as _line
        from read_parquet({paths}, filename = true, file_row_number = true)
        """
    )
    bad = " or ".join(f"({c} is not null and {_checked_cast(c, t)} is null)" for c, t in types.items())
    first_bad = "coalesce(" + ", ".join(
        f"case when {c} is not null and {_checked_cast(c, t)} is null then '{c}' end" for c, t in types.items()
    ) + ")"
    con.execute(
        f"""
        create or replace temp table {scan}_rej as
        select _file as file_path, _line as line, {first_bad} as column_name, 'CAST' as error_type,
               'value does not convert to the contract type of column ' || {first_bad} as error_message,
               null::varchar as csv_line
        from {scan}_src where {bad or 'false'}
        """
    )
    select = ", ".join(f"{_checked_cast(c, t)} as {c}" for c, t in types.items())
    con.execute(
        f"""
        create or replace temp table {scan} as
        select {select}, _file, _line as _scan_order from {scan}_src where not ({bad or 'false'})
        """
    )


def _checked_cast(column: str, contract_type: str) -> str:
    """SQL for a Parquet value in the contract type, NULL where it does not convert. Timestamps go through
    TIMESTAMPTZ (session zone UTC), so a string with an offset is converted, not cut; a DOUBLE must be finite."""
    if contract_type == "TIMESTAMP":
        return f"try_cast(try_cast({column} as TIMESTAMPTZ) as TIMESTAMP)"
    if contract_type == "DOUBLE":
        return f"case when isfinite(try_cast({column} as DOUBLE)) then try_cast({column} as DOUBLE) end"
    return f"try_cast({column} as {contract_type})"


def _quarantine_non_finite(con, files: list[LandingFile], scan: str) -> None:
    """CSV: DuckDB reads 1e400 (or `inf`, `nan`) in a DOUBLE column as a non-finite number without a reject.
    Move such rows from `<scan>_num` to `<scan>_bad` as a `CAST` error, with their raw line from the file."""
    columns = files[0].columns
    doubles = [c for c in columns if files[0].entity.columns.get(c) == "DOUBLE"]
    if not doubles:
        return
    first = "coalesce(" + ", ".join(f"case when not isfinite({c}) then '{c}' end" for c in doubles) + ")"
    rows = con.execute(
        f"select _file, _ln, {first} from {scan}_num where {' or '.join(f'not isfinite({c})' for c in doubles)}"
    ).fetchall()
    if not rows:
        return
    wanted: dict[str, dict[int, str]] = defaultdict(dict)
    for path, line, _ in rows:
        wanted[path][line] = ""
    for path, lines in wanted.items():
        last = max(lines)
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if n in lines:
                    lines[n] = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if n >= last:
                    break
    bad = []
    for path, line, column in rows:
        raw = wanted[path][line]
        fields = next(csv.reader(io.StringIO(raw)), [])
        text = fields[columns.index(column)] if len(fields) > columns.index(column) else ""
        message = (
            f'Error when converting column "{column}". Could not convert string "{text.strip()}" to \'DOUBLE\': '
            "not a finite number"
        )
        bad.append([path, line, column, "CAST", message, raw])
    con.executemany(
        f"insert into {scan}_bad (file_path, line, column_name, error_type, error_message, csv_line) "
        "values (?, ?, ?, ?, ?, ?)",
        bad,
    )
    con.execute(f"delete from {scan}_num where {' or '.join(f'not isfinite({c})' for c in doubles)}")


def _load_group(con, files: list[LandingFile], run_id: str, loaded_at: datetime, result: IngestResult) -> None:
    """Load a group of new files with one header into raw, quarantine and manifest, in one transaction."""
    entity = files[0].entity
    scan = f"scan_{uuid.uuid4().hex[:8]}"
    is_parquet = files[0].path.suffix.lower() == ".parquet"
    if is_parquet:
        _scan_parquet(con, files, scan)
        rejects = f"select file_path, line, column_name, error_type, error_message, csv_line from {scan}_rej"
    else:
        _scan_csv(con, files, scan)
        # a short row is one reject per missing column: keep the first (one quarantine row per line)
        rejects = f"""
            select s.file_path, r.line, r.column_name, r.error_type, r.error_message, r.csv_line
            from {scan}_rej r join {scan}_rejscan s using (scan_id, file_id)
            qualify r.error_type <> 'MISSING COLUMNS'
                or row_number() over (partition by s.file_path, r.line, r.error_type order by r.column_idx) = 1
        """
    con.execute(f"create or replace temp table {scan}_bad as {rejects}")
    con.execute(f"create or replace temp table files_{scan} (path varchar, rel varchar)")
    con.executemany(f"insert into files_{scan} values (?, ?)", [[str(f.path), f.name] for f in files])

    if is_parquet:
        numbered = f"select *, _scan_order as _ln from {scan}"
    else:
        # DuckDB reports the line of every rejected row; accepted rows are the other lines, in file order
        # (header = line 1). Quoted fields spanning lines would shift this numbering.
        numbered = f"""
            with acc as (
                select *, row_number() over (partition by _file order by _scan_order) as _k from {scan}
            ),
            bad_lines as (select distinct file_path as _file, line from {scan}_bad),
            totals as (
                select _file, count(*) as n from (
                    select _file from acc union all select _file from bad_lines
                ) group by _file
            ),
            candidates as (
                select t._file, g.line
                from totals t, lateral generate_series(2, t.n + 1) as g(line)
                anti join bad_lines b on b._file = t._file and b.line = g.line
            ),
            good_lines as (
                select _file, line, row_number() over (partition by _file order by line) as _k
                from candidates
            )
            select acc.*, good_lines.line as _ln
            from acc join good_lines using (_file, _k)
        """
    source = f"({numbered})"
    if not is_parquet and any(files[0].entity.columns.get(c) == "DOUBLE" for c in files[0].columns):
        # only groups with a DOUBLE column pay for materialising the rows (to move non-finite ones out)
        con.execute(f"create or replace temp table {scan}_num as {numbered}")
        _quarantine_non_finite(con, files, scan)
        source = f"{scan}_num"
    target_cols = [c for c in files[0].columns]
    insert_cols = ", ".join(target_cols + list(LINEAGE_COLUMNS))
    select_cols = ", ".join(f"a.{c}" for c in target_cols)
    con.execute("begin transaction")
    try:
        for f in files:
            for col in f.extra_columns:
                con.execute(f"alter table {entity.raw_table} add column if not exists {col} varchar")
                con.execute(
                    "insert into ingest.schema_drift values (?, ?, ?, 'extra_column', ?, ?)",
                    [entity.name, f.name, col, loaded_at, run_id],
                )
                result.schema_drift.append(f"{f.name}: extra column {col}")
        con.execute(
            f"""
            insert into {entity.raw_table} ({insert_cols})
            select {select_cols}, n.rel as _source_file, a._ln as _line_number,
                   ?::timestamp as _loaded_at, ? as _ingest_run_id
            from {source} a
            join files_{scan} n on n.path = a._file
            """,
            [loaded_at, run_id],
        )
        con.execute(
            f"""
            insert into quarantine.rows
            select ?, n.rel, b.line, b.column_name, {REJECT_KIND_SQL}, b.error_message, b.csv_line, ?, ?
            from {scan}_bad b join files_{scan} n on n.path = b.file_path
            """,
            [entity.name, loaded_at, run_id],
        )
        counts = dict(
            con.execute(
                f"""
                select n.rel, count(*) from {entity.raw_table} r join files_{scan} n on n.rel = r._source_file
                where r._ingest_run_id = ? group by n.rel
                """,
                [run_id],
            ).fetchall()
        )
        bad_counts = dict(
            con.execute(
                f"select n.rel, count(distinct b.line) from {scan}_bad b "
                f"join files_{scan} n on n.path = b.file_path group by n.rel"
            ).fetchall()
        )
        for f in files:
            con.execute(
                "insert into ingest.file_manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f.name, entity.name, f.sha256, f.size, counts.get(f.name, 0), bad_counts.get(f.name, 0),
                    f.columns, f.extra_columns, loaded_at, run_id,
                ],
            )
        failpoints.hit("ingest.before_commit")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    result.files_loaded += len(files)
    result.rows_loaded[entity.name] = result.rows_loaded.get(entity.name, 0) + sum(counts.values())
    result.rows_quarantined[entity.name] = result.rows_quarantined.get(entity.name, 0) + sum(bad_counts.values())
    for f in files:
        loaded, quarantined = counts.get(f.name, 0), bad_counts.get(f.name, 0)
        if not loaded and not quarantined:
            result.warnings.append(f"{f.name}: no data rows (header only), recorded with 0 rows")
        elif not loaded:
            result.warnings.append(
                f"{f.name}: all {quarantined} row(s) quarantined, none loaded (see quarantine.rows): check the "
                "export (delimiter, encoding, types) and deliver a corrected file under a new name"
            )
    for table in (scan, f"{scan}_src", f"{scan}_rej", f"{scan}_rejscan", f"{scan}_bad", f"{scan}_num",
                  f"files_{scan}"):
        con.execute(f"drop table if exists {table}")


def _empty_file(con, f: LandingFile, run_id: str, loaded_at: datetime, result: IngestResult) -> None:
    """A zero-byte file has no rows; record it so it is not looked at again, and say so."""
    con.execute(
        "insert into ingest.file_manifest values (?, ?, ?, 0, 0, 0, [], [], ?, ?)",
        [f.name, f.entity.name, f.sha256, loaded_at, run_id],
    )
    result.files_loaded += 1
    result.warnings.append(f"{f.name}: empty file (0 bytes), recorded with 0 rows")


def new_ingest_run_id() -> str:
    return f"ingest_{datetime.now(timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def finish(result: IngestResult, started: float) -> IngestResult:
    """Log warnings, drift and the summary line (every engine's ingest ends here)."""
    for w in result.warnings:
        log.warning(w)
    for d in result.schema_drift:
        log.warning("schema drift: %s", d)
    result.seconds = time.monotonic() - started
    log.info(result.summary())
    return result


def ingest_landing(settings: Settings, run_id: str | None = None) -> IngestResult:
    """Load every new landing file into the engine of `settings.target` (see the module docstring)."""
    from cvw.engines import get_engine

    return get_engine(settings).ingest(settings, run_id or new_ingest_run_id())


def ingest_duckdb(settings: Settings, run_id: str) -> IngestResult:
    """DuckDB: read CSVs with DuckDB's reject tables, Parquet with checked casts."""
    started = time.monotonic()
    result = IngestResult(run_id=run_id)
    files, warnings = discover(settings)
    result.warnings.extend(warnings)
    with db.connect(settings.warehouse) as con:
        con.execute("set TimeZone = 'UTC'")
        ensure_schema(con)
        known = dict(con.execute("select file_name, sha256 from ingest.file_manifest").fetchall())
        new, result.files_skipped = plan(known, files, result.warnings)
        loaded_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        groups: dict[tuple, list[LandingFile]] = defaultdict(list)
        for f in new:
            if f.size == 0:
                _empty_file(con, f, run_id, loaded_at, result)
            else:
                groups[(f.entity.name, f.path.suffix.lower(), tuple(f.columns))].append(f)
        for i, ((entity, suffix, _), group) in enumerate(sorted(groups.items()), start=1):
            log.info("ingest %d/%d: %s, %d %s file(s)", i, len(groups), entity, len(group), suffix)
            _load_group(con, group, run_id, loaded_at, result)
            failpoints.hit("ingest.between_groups")
    return finish(result, started)
