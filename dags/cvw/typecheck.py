"""Contract types for text read from landing files: one set of rules, rendered as SQL for each engine.

A value must have the shape of its contract type (a regular expression on the trimmed text, the same on
every engine) and then convert (the engine's own cast, for ranges, calendar dates and time zones). Nothing
is rounded or capped: `1.5` in an INTEGER column, `1.005` as money (DECIMAL(18,2)), `1e400` as a DOUBLE are
`bad_type`, not 2, 1.01 and infinity. A row with several bad values is ONE quarantine row whose reason lists
them all. The patterns hold no backslash (Spark SQL would read it as an escape in a string literal).

`Dialect` is the small part each engine supplies: quoting, a regex match, a checked cast, a finite test.
The default is DuckDB's; engines/postgres.py and engines/spark.py override what differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvw.db import sql_string

_WHOLE = "^[+-]?[0-9]+([.]0*)?$"  # `3.0` is the whole number 3 (exports write integers so): not a rounding
PATTERNS = {
    "INTEGER": _WHOLE,
    "BIGINT": _WHOLE,
    # at most 2 decimal places; more only when they are zeros (`1.500` is exactly 1.50)
    "DECIMAL(18,2)": "^[+-]?([0-9]+([.][0-9]{0,2}0*)?|[.][0-9]{1,2}0*)$",
    "DOUBLE": "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$",
    "DATE": "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$",
    # ISO date and time, then an optional offset or IANA zone name (converted to UTC by the engine's cast)
    "TIMESTAMP": (
        "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?"
        "( ?(Z|UTC|[+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z]+/[A-Za-z0-9_/+-]+))?$"
    ),
}
BOOLEAN_TRUE = ("true", "t", "1", "yes", "y")
BOOLEAN_FALSE = ("false", "f", "0", "no", "n")
# why a value of the right general form is still refused (added to the reason)
HINTS = {
    "INTEGER": [(_WHOLE, "out of range for INTEGER"),
                ("^[+-]?[0-9]*[.][0-9]*$", "a whole number is expected, it is not rounded")],
    "BIGINT": [(_WHOLE, "out of range for BIGINT"),
               ("^[+-]?[0-9]*[.][0-9]*$", "a whole number is expected, it is not rounded")],
    "DECIMAL(18,2)": [("^[+-]?[0-9]*[.][0-9]{3,}$", "money has at most 2 decimal places, it is not rounded"),
                      (PATTERNS["DECIMAL(18,2)"], "out of range: at most 16 digits before the point")],
    "DOUBLE": [(PATTERNS["DOUBLE"], "not a finite number")],
}


class Dialect:
    """SQL spelling of the checks (DuckDB's; the session time zone must be UTC)."""

    name = "duckdb"
    text_type = "varchar"

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def lit(self, text: str) -> str:
        return sql_string(text)

    def matches(self, expr: str, pattern: str) -> str:
        return f"regexp_matches({expr}, {self.lit(pattern)})"

    def cast(self, expr: str, contract_type: str) -> str:
        """`expr` (trimmed text of the right shape) in the contract type; NULL where it does not convert."""
        if contract_type == "TIMESTAMP":  # through TIMESTAMPTZ: an offset or zone name is converted, not cut
            return f"try_cast(try_cast({expr} as TIMESTAMPTZ) as TIMESTAMP)"
        return f"try_cast({expr} as {contract_type})"

    def finite(self, expr: str) -> str:
        return f"isfinite({expr})"

    def type(self, contract_type: str) -> str:
        """The engine's name of a contract type (cvw.contract spells them as DuckDB does)."""
        return contract_type


@dataclass(frozen=True)
class Field:
    """One field of a staged file: its stage column, the raw column it goes to, the contract type."""

    stage: str
    stored: str
    type: str  # contract type; VARCHAR for text and for drift columns


def _checked(f: Field) -> bool:
    """Whether a field's values are checked against a contract type (text is taken as it is)."""
    return f.type == "BOOLEAN" or f.type in PATTERNS


def _value(d: Dialect, f: Field, text: str) -> str:
    """SQL of the value in its contract type, from `text` (the trimmed field); NULL where it does not convert."""
    if f.type == "BOOLEAN":
        return f"lower({text}) in ({', '.join(d.lit(v) for v in BOOLEAN_TRUE)})"
    if f.type in ("INTEGER", "BIGINT"):  # `3.0` -> 3; the regex only where there is a point (rare, and 3x a cast)
        return d.cast(f"case when {text} like '%.%' then regexp_replace({text}, {d.lit('[.]0*$')}, '') "
                      f"else {text} end", f.type)
    return d.cast(text, f.type)


def _refused(d: Dialect, f: Field, text: str, value: str) -> str:
    """SQL that is true when the field holds a value (`text` trimmed, `value` converted) that is refused."""
    if f.type == "BOOLEAN":
        ok = f"lower({text}) in ({', '.join(d.lit(v) for v in BOOLEAN_TRUE + BOOLEAN_FALSE)})"
    else:
        ok = f"{d.matches(text, PATTERNS[f.type])} and {value} is not null"
        if f.type == "DOUBLE":
            ok = f"{ok} and {d.finite(value)}"
    return f"({d.quote(f.stage)} is not null and not coalesce({ok}, false))"


def _message(d: Dialect, f: Field, text: str) -> str:
    """SQL of the reason a refused value gets: the value as it stood, and a hint matched on `text` (trimmed)."""
    col = d.quote(f.stage)
    hints = HINTS.get(f.type, [])
    hint = "''"
    if hints:
        hint = "case " + " ".join(
            f"when {d.matches(text, pattern)} then {d.lit(': ' + words)}" for pattern, words in hints
        ) + " else '' end"
    before = f'Error when converting column "{f.stored}". Could not convert string "'
    after = f"\" to '{f.type}'"
    return f"concat({d.lit(before)}, {col}, {d.lit(after)}, {hint})"


def checked_select(d: Dialect, source: str, fields: list[Field]) -> str:
    """SQL over `source` (the reader's batch columns) with the quarantine verdict of every record and the
    values in their contract types under their stored names:

    `_kind`, `_column`, `_reason` are NULL for a good row; otherwise the record-level problem found by the
    reader, or `bad_type` with the first bad column and every bad value listed in `_reason`. `_raw_line` is
    the record as it stood in the file (rebuilt from its fields when the reader did not keep it).

    Each checked field is trimmed, converted and judged ONCE, in three stacked selects (`_t<i>`, `_v<i>`,
    `_b<i>`): the verdict is used four times below, and engines do not reliably share an expression that
    appears inside several CASEs (DuckDB evaluated every regex and cast up to five times: 1.7x slower).
    """
    checked = [(i, f) for i, f in enumerate(fields) if _checked(f)]
    none = f"cast(null as {d.text_type})"
    trimmed = "".join(f", trim({d.quote(f.stage)}) as _t{i}" for i, f in checked)
    converted = "".join(f", {_value(d, f, f'_t{i}')} as _v{i}" for i, f in checked)
    judged = "".join(f", {_refused(d, f, f'_t{i}', f'_v{i}')} as _b{i}" for i, f in checked)
    first = "coalesce(" + ", ".join(
        [f"case when _b{i} then {d.lit(f.stored)} end" for i, f in checked] + [none]
    ) + ")"
    reasons = (
        "nullif(concat_ws('; ', "
        + ", ".join(f"case when _b{i} then {_message(d, f, f'_t{i}')} end" for i, f in checked)
        + "), '')"
    ) if checked else none
    any_bad = " or ".join(f"_b{i}" for i, _ in checked) or "false"
    rebuilt = "concat_ws(',', " + ", ".join(f"coalesce({d.quote(f.stage)}, '')" for f in fields) + ")"
    values = ", ".join(
        f"{f'_v{i}' if _checked(f) else d.quote(f.stage)} as {d.quote(f.stored)}" for i, f in enumerate(fields)
    )
    return f"""
        with trimmed as (select *{trimmed} from {source}),
        converted as (select *{converted} from trimmed),
        judged as (select *{judged} from converted)
        select
            _file,
            _line,
            coalesce(_error_kind, case when {any_bad} then 'bad_type' end) as _kind,
            coalesce(_error_column, {first}) as _column,
            coalesce(_error_reason, {reasons}) as _reason,
            case when _error_kind is not null or {any_bad} then coalesce(_record, {rebuilt}) end as _raw_line,
            {values}
        from judged
    """
