"""Landing files -> Arrow record batches, one row per record, numbered by the line it starts on.

Engine-neutral: every engine loads what this module returns, so a file is split into records, and
records into fields, in exactly one way (SPEC §8: nothing silently dropped; the line a user is told is
the line in the file).

CSV (RFC 4180: `,` between fields, `"` around a field that holds `,`, `"` or a line break, `""` for a
quote inside it):

* Lines are found in the bytes themselves (numpy over the whole file), not by a parser: a line ends at
  LF or CRLF (both may occur in one file) or, in a file without any LF, at CR (old Mac exports). The
  header is line 1. `FileStats` counts the physical lines after the header, the blank ones and the
  records, independently of how the fields are parsed later; ingest checks that every record ends up
  in raw or in quarantine.
* A record is a maximal run of lines whose quotes balance: a line with an odd number of `"` opens a
  quoted field that the next odd line closes, so a line break inside quotes continues the record. Blank
  lines outside quotes are skipped (counted in `blank_lines`).
* A record that does not parse as RFC 4180 is one quarantine row (`bad_quoting`). A record spanning
  several lines that does not parse (a stray or unclosed quote swallowed the lines after it) is split
  back into its lines, and each line is read on its own: one unclosed quote costs one line, not the rest
  of the file.
* Bytes that are not UTF-8, or a NUL byte, make the record `bad_encoding` (raw text shown with U+FFFD);
  a record with another number of fields than the header is `wrong_column_count`. One record, one row,
  at most one record-level problem; type problems are found later, in SQL (`cvw.typecheck`).
* Field values stay text (empty = NULL). Records without any quote (nearly all) are split by Arrow
  kernels; only records with quotes go through Python's csv module.

Parquet: pyarrow reads the file by its exact path; every column is turned into text (a zone-aware
timestamp is converted to UTC first, a float keeps its shortest round-trip form, so `1.5` in an INTEGER
column or `inf` in a DOUBLE column is caught by the same type checks as in a CSV file); line = row + 2.

Paths are opened as given: a `*` or `[` in a file name is a character, never a pattern.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# columns of every batch, before the file's fields c0 .. c{n-1}
META_COLUMNS = ("_file", "_line", "_record", "_error_kind", "_error_column", "_error_reason")
RAW_LINE_MAX = 65_536  # characters of a bad record kept in quarantine.rows.raw_line
_RFC4180 = re.compile(r'(?:"(?:[^"]|"")*"|[^",]*)(?:,(?:"(?:[^"]|"")*"|[^",]*))*', re.S)
_BOM = b"\xef\xbb\xbf"


def field_name(i: int) -> str:
    """The stage column of the i-th field of a file: positional, so no header text ever becomes SQL."""
    return f"c{i}"


@dataclass
class FileStats:
    """What the file itself holds, counted from its bytes (not from what a parser returned)."""

    lines: int = 0  # physical lines after the header
    blank_lines: int = 0  # blank lines outside quoted fields (no record)
    records: int = 0  # rows: every one must reach raw or quarantine

    def add(self, other: FileStats) -> None:
        self.lines += other.lines
        self.blank_lines += other.blank_lines
        self.records += other.records


def batch_schema(n_fields: int) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("_file", pa.string()),
            ("_line", pa.int64()),
            ("_record", pa.large_string()),
            ("_error_kind", pa.string()),
            ("_error_column", pa.string()),
            ("_error_reason", pa.string()),
        ]
        + [(field_name(i), pa.large_string()) for i in range(n_fields)]
    )


# --- CSV: lines and records --------------------------------------------------------------------------


@dataclass
class _Records:
    """Records of one CSV file: per record its first line (1-based), line count, byte span and quote count."""

    data: np.ndarray
    first_line: np.ndarray
    n_lines: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    quotes: np.ndarray
    line_start: np.ndarray  # per physical line (index 0 = header): byte span without its line ending
    line_stop: np.ndarray
    stats: FileStats


def _lines(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte spans [start, stop) of the physical lines, line endings excluded (LF, CRLF, or CR-only files)."""
    import numpy as np

    n = len(data)
    lf = np.flatnonzero(data == 10)
    term = lf if len(lf) or not n else np.flatnonzero(data == 13)  # no LF at all: an old Mac file ends at CR
    starts = np.concatenate(([0], term + 1)).astype(np.int64)
    stops = np.concatenate((term, [n])).astype(np.int64)
    if starts[-1] == n and len(starts) > 1:  # the file ends with a line ending: no empty last line
        starts, stops = starts[:-1], stops[:-1]
    if len(lf):  # CRLF: the CR belongs to the line ending
        cr = np.zeros(len(stops), dtype=bool)
        nonempty = stops > starts
        cr[nonempty] = data[stops[nonempty] - 1] == 13
        stops = stops - cr
    return starts, stops


def _split_records(data: np.ndarray) -> _Records:
    """Group the lines after the header into records by quote parity (see the module docstring)."""
    import numpy as np

    line_start, line_stop = _lines(data)
    starts, stops = line_start[1:], line_stop[1:]  # data lines; the header is line 1
    # counts per line from the sorted positions of quotes and of whitespace (both sparse in real files)
    quote_at = np.flatnonzero(data == 34)
    space_at = np.flatnonzero((data == 32) | (data == 9) | (data == 13))
    q = np.searchsorted(quote_at, stops) - np.searchsorted(quote_at, starts)
    ink = (stops - starts) - (np.searchsorted(space_at, stops) - np.searchsorted(space_at, starts))
    odd = (q & 1).astype(np.int64)
    open_before = ((np.cumsum(odd) - odd) & 1).astype(bool)  # inside a quoted field when the line starts
    blank = (ink == 0) & ~open_before
    member = ~blank
    is_start = member & ~open_before
    stats = FileStats(lines=len(starts), blank_lines=int(blank.sum()))
    idx = np.flatnonzero(member)
    if not len(idx):
        empty = np.zeros(0, dtype=np.int64)
        return _Records(data, empty, empty, empty, empty, empty, line_start, line_stop, stats)
    rec = np.cumsum(is_start)[idx] - 1  # member lines are contiguous per record
    bounds = np.flatnonzero(np.diff(rec)) + 1
    first = idx[np.concatenate(([0], bounds))]
    last = idx[np.concatenate((bounds - 1, [len(idx) - 1]))]
    rq = np.add.reduceat(q[idx], np.concatenate(([0], bounds)))
    stats.records = len(first)
    return _Records(
        data=data,
        first_line=first + 2,  # +1 for the header, +1 for 1-based
        n_lines=last - first + 1,
        start=starts[first],
        stop=stops[last],
        quotes=rq,
        line_start=line_start,
        line_stop=line_stop,
        stats=stats,
    )


# --- CSV: fields ---------------------------------------------------------------------------------------


def _printable(raw: bytes) -> str:
    """A record's text for quarantine: invalid UTF-8 and NUL shown as U+FFFD, cut at RAW_LINE_MAX."""
    text = raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    if len(text) > RAW_LINE_MAX:
        text = text[:RAW_LINE_MAX] + f"… (cut: the record holds {len(text):,} characters)"
    return text


def _parse_quoted(text: str) -> list[str] | None:
    """Fields of one record that holds quotes (RFC 4180), None when it does not parse as one."""
    if _RFC4180.fullmatch(text) is None:
        return None
    return next(csv.reader([text], strict=True), [""])


class _Rows:
    """Collects the rows of one file that take the Python path (quotes, bad bytes, split records)."""

    def __init__(self, columns: list[str]):
        self.columns = columns
        self.line: list[int] = []
        self.record: list[str | None] = []
        self.kind: list[str | None] = []
        self.column: list[str | None] = []
        self.reason: list[str | None] = []
        self.fields: list[list[str | None]] = [[] for _ in columns]

    def add(self, line: int, record: str | None, fields: list[str] | None,
            problem: tuple[str, str | None, str] | None = None) -> None:
        n = len(self.columns)
        if problem is None and fields is not None and len(fields) != n:
            problem = ("wrong_column_count", None, f"Expected Number of Columns: {n} Found: {len(fields)}")
        self.line.append(line)
        self.record.append(record)
        kind, column, reason = problem or (None, None, None)
        self.kind.append(kind)
        self.column.append(column)
        self.reason.append(reason)
        ok = problem is None and fields is not None
        for i in range(n):
            self.fields[i].append((fields[i] or None) if ok else None)

    def batch(self, rel: str, schema: pa.Schema) -> pa.RecordBatch:
        import pyarrow as pa

        return pa.RecordBatch.from_arrays([
            pa.array([rel] * len(self.line), pa.string()),
            pa.array(self.line, pa.int64()),
            pa.array(self.record, pa.large_string()),
            pa.array(self.kind, pa.string()),
            pa.array(self.column, pa.string()),
            pa.array(self.reason, pa.string()),
            *[pa.array(f, pa.large_string()) for f in self.fields],
        ], schema=schema)


def _python_record(rows: _Rows, recs: _Records, line: int, start: int, stop: int, lines: int) -> None:
    """Parse one record in Python: bad bytes, quotes; a multi-line record that does not parse is split
    into its lines and each line is read on its own."""
    raw = recs.data[start:stop].tobytes()
    raw = raw.rstrip(b"\r\n\t ")
    try:
        text = raw.decode("utf-8")
        bad_bytes = "\x00" in text
    except UnicodeDecodeError:
        text, bad_bytes = None, True
    if bad_bytes:
        shown = _printable(raw)
        fields = next(csv.reader([shown]), [])
        column = next(
            (c for c, f in zip(rows.columns, fields, strict=False) if "\ufffd" in f), None
        )
        where = f' in column "{column}"' if column else ""
        rows.add(line, shown, None, ("bad_encoding", column, (
            f"Invalid unicode (byte sequence mismatch){where}: the line is not UTF-8 or holds a NUL byte; landing "
            "files must be UTF-8"
        )))
        return
    fields = _parse_quoted(text) if '"' in text else text.split(",")
    if fields is not None:
        rows.add(line, _printable(raw) if '"' in text else None, fields)
        return
    if lines > 1:  # a stray or unclosed quote: read each line of the span on its own
        for k in range(lines):
            physical = line - 1 + k  # index into line_start (the header is index 0)
            s, e = int(recs.line_start[physical]), int(recs.line_stop[physical])
            if not recs.data[s:e].tobytes().strip():
                continue
            _python_record(rows, recs, line + k, s, e, 1)
        return
    rows.add(line, _printable(raw), None, ("bad_quoting", None, (
        "a quote that does not follow RFC 4180 (a field with a quote must be quoted as a whole, with the "
        "quote doubled, and every opened quote closed)"
    )))


def csv_batch(path: Path, rel: str, columns: list[str]) -> tuple[pa.RecordBatch, FileStats]:
    """One CSV file as one Arrow record batch (schema `batch_schema(len(columns))`) and its counts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    data = np.fromfile(path, dtype=np.uint8)
    if data[:3].tobytes() == _BOM:
        data = data[3:]
    recs = _split_records(data)
    n_fields = len(columns)
    schema = batch_schema(n_fields)
    n = len(recs.first_line)
    if not n:
        return pa.RecordBatch.from_pylist([], schema=schema), recs.stats
    # Arrow strings over the file's own bytes: value i runs from record i's start to record i+1's start;
    # its line ending and any blank lines after it are trimmed away
    offsets = np.concatenate((recs.start, [recs.stop[-1]])).astype(np.int64)
    binary = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    text = None
    if not (data == 0).any():
        try:
            text = pc.utf8_rtrim(binary.cast(pa.large_string()), characters="\r\n\t ")
        except pa.ArrowInvalid:  # bytes that are not UTF-8 somewhere: every record takes the Python path
            text = None
    python_path = recs.quotes > 0 if text is not None else np.ones(n, dtype=bool)
    rows = _Rows(columns)
    for i in np.flatnonzero(python_path):
        _python_record(rows, recs, int(recs.first_line[i]), int(recs.start[i]), int(recs.stop[i]),
                       int(recs.n_lines[i]))
    pieces = []
    simple = np.flatnonzero(~python_path)
    if len(simple):  # records without quotes in a clean file: split by Arrow
        lines_text = text.take(pa.array(simple))
        parts = pc.split_pattern(lines_text, ",")
        counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
        fits = counts == n_fields
        for i, found, raw in zip(simple[~fits], counts[~fits], lines_text.filter(pa.array(~fits)).to_pylist(),
                                 strict=True):
            rows.add(int(recs.first_line[i]), _printable(raw.encode()), None, ("wrong_column_count", None,
                     f"Expected Number of Columns: {n_fields} Found: {int(found)}"))
        good = simple[fits]
        if len(good):
            k = len(good)
            flat = pc.list_flatten(parts.filter(pa.array(fits)))
            fields = []
            for j in range(n_fields):
                col = flat.take(pa.array(np.arange(j, k * n_fields, n_fields)))
                fields.append(pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.large_string()), col))
            pieces.append(pa.RecordBatch.from_arrays([
                pa.array([rel] * k, pa.string()),
                pa.array(recs.first_line[good], pa.int64()),
                pa.nulls(k, pa.large_string()),
                pa.nulls(k, pa.string()),
                pa.nulls(k, pa.string()),
                pa.nulls(k, pa.string()),
                *fields,
            ], schema=schema))
    if rows.line:
        pieces.append(rows.batch(rel, schema))
    table = pa.Table.from_batches(pieces, schema=schema)
    if rows.line and len(pieces) > 1:
        table = table.sort_by("_line")
    recs.stats.records = table.num_rows  # a record split back into its lines counts as the lines it became
    return table.combine_chunks().to_batches()[0], recs.stats


# --- Parquet ---------------------------------------------------------------------------------------------


def _as_text(col: pa.Array) -> pa.Array:
    """A Parquet column as text: timestamps in UTC (ISO, microseconds), everything else in Arrow's string
    form; a value Arrow cannot cast (nested types) in Python's."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is not None:  # the same instant in UTC, then without zone
            col = pc.cast(col, pa.timestamp(t.unit, "UTC")).cast(pa.timestamp(t.unit))
        return pc.cast(col, pa.large_string())  # 2025-01-08 10:00:00.000000
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return pa.array([None if v is None else _printable(v) for v in col.to_pylist()], pa.large_string())
    try:
        return pc.cast(col, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.large_string())


def parquet_batches(path: Path, rel: str, columns: list[str],
                    batch_rows: int = 262_144) -> Iterator[tuple[pa.RecordBatch, FileStats]]:
    """A Parquet file as record batches of the CSV schema (columns matched by lower-cased name)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = batch_schema(len(columns))
    pf = pq.ParquetFile(path)
    by_lower = {name.lower(): name for name in pf.schema_arrow.names}
    wanted = [by_lower[c] for c in columns]
    row = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted):
        n = batch.num_rows
        fields = []
        nul = pa.array([False] * n)
        for name in wanted:
            text = _as_text(batch.column(name))
            has_nul = pc.fill_null(pc.match_substring(text, "\x00"), False)
            nul = pc.or_(nul, has_nul)
            fields.append(text)
        bad_column = pa.nulls(n, pa.string())
        for c, text in zip(reversed(columns), reversed(fields), strict=True):
            has_nul = pc.fill_null(pc.match_substring(text, "\x00"), False)
            bad_column = pc.if_else(has_nul, pa.scalar(c), bad_column)
        kind = pc.if_else(nul, pa.scalar("bad_encoding"), pa.scalar(None, pa.string()))
        reason = pc.if_else(nul, pc.binary_join_element_wise(
            pa.scalar('NUL byte in column "'), bad_column, pa.scalar('"'), ""), pa.scalar(None, pa.string()))
        fields = [pc.if_else(nul, pa.scalar(None, pa.large_string()), f) for f in fields]
        arrays = [
            pa.array([rel] * n, pa.string()),
            pa.array(range(row + 2, row + 2 + n), pa.int64()),
            pa.nulls(n, pa.large_string()),
            kind,
            pc.if_else(nul, bad_column, pa.scalar(None, pa.string())),
            reason,
            *fields,
        ]
        row += n
        yield pa.RecordBatch.from_arrays(arrays, schema=schema), FileStats(lines=n, records=n)


def file_batches(path: Path, rel: str, columns: list[str]) -> Iterator[tuple[pa.RecordBatch, FileStats]]:
    """Record batches of one landing file (CSV or Parquet) with the counts of what each batch covers."""
    if path.suffix.lower() == ".parquet":
        yield from parquet_batches(path, rel, columns)
    else:
        yield csv_batch(path, rel, columns)
