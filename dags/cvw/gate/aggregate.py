"""The gate's expectations evaluated in the database, as aggregates (issue 16).

GX keeps the suites (cvw.gate.suites), the results and Data Docs; what changes is where the numbers come from.
Instead of handing GX every row (on DuckDB an Arrow -> pandas copy of each table, PITFALLS 3: 36 s at 1M
customers), each table gets **one** SQL query that computes, for every expectation of its suite, what GX
would compute from the rows:

* a row-level expectation (values between, in a set, a pair of columns): the rows it applies to and the
  rows breaking it (`sum(case when <unexpected> then 1 else 0 end)`); only when that count is non-zero is a
  second query run for a few failing rows' keys and values;
* a column aggregate (min, max, mean) or the row count: the observed value.

Success follows GX's rules (`mostly`, strict bounds, a null aggregate fails, rows where every compared column
is null are skipped), and the outcome is a GX ExpectationValidationResult with GX's result keys
(unexpected_count, unexpected_percent, partial_unexpected_list, unexpected_index_list, observed_value), stored
in the GX context's validation results so Data Docs render it as before.

Column names come from the suites (code, not data) and must be plain identifiers; values are rendered as SQL
literals (numbers, dates, quoted strings), so the same SQL runs on DuckDB, PostgreSQL and Spark.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cvw.db import sql_string

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
SAMPLE_ROWS = 20  # failing rows fetched per failed check (GX's partial lists show 20)


class UnsupportedExpectation(ValueError):
    """A suite uses an expectation type the aggregate gate has no SQL for."""


def _ident(name: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"not a plain column name: {name!r}")
    return name


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        if not math.isfinite(float(value)):
            raise ValueError(f"not a finite bound: {value!r}")
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        return f"cast('{value.isoformat(sep=' ')}' as timestamp)"
    if isinstance(value, date):
        return f"cast('{value.isoformat()}' as date)"
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return f"cast('{value}' as date)"
        return sql_string(value)
    raise ValueError(f"no SQL literal for {value!r}")


def _as_number(column: str, values) -> str:
    """Booleans reach the gate as 1/0 on every engine: a column compared with integers is cast to integer."""
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return f"cast({column} as integer)"
    return column


def _in(column: str, values) -> str:
    return f"{_as_number(column, values)} in ({', '.join(_literal(v) for v in values)})"


@dataclass
class Plan:
    """How one expectation is computed: row-level (`unexpected` and `applies` conditions, the columns shown
    for failing rows) or an aggregate (`observed`, a SQL expression over the table)."""

    config: Any
    unexpected: str | None = None
    applies: str | None = None
    shown: tuple[str, ...] = ()
    observed: str | None = None


def plan(config) -> Plan:
    """The SQL for one expectation configuration (its `type` and `kwargs`)."""
    kw = config.kwargs
    kind = config.type
    if kind == "expect_column_values_to_be_between":
        c = _ident(kw["column"])
        broken = []
        if kw.get("min_value") is not None:
            broken.append(f"{c} {'<=' if kw.get('strict_min') else '<'} {_literal(kw['min_value'])}")
        if kw.get("max_value") is not None:
            broken.append(f"{c} {'>=' if kw.get('strict_max') else '>'} {_literal(kw['max_value'])}")
        return Plan(config, unexpected=f"{c} is not null and ({' or '.join(broken) or 'false'})",
                    applies=f"{c} is not null", shown=(c,))
    if kind == "expect_column_values_to_be_in_set":
        c = _ident(kw["column"])
        return Plan(config, unexpected=f"{c} is not null and not ({_in(c, list(kw['value_set']))})",
                    applies=f"{c} is not null", shown=(c,))
    if kind in ("expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_in_set"):
        a, b = _ident(kw["column_A"]), _ident(kw["column_B"])
        if kind == "expect_column_pair_values_a_to_be_greater_than_b":
            ok = f"{a} {'>=' if kw.get('or_equal') else '>'} {b}"
        else:
            pairs = [tuple(p) for p in kw["value_pairs_set"]]
            a_sql = _as_number(a, [p[0] for p in pairs])
            ok = " or ".join(f"({a_sql} = {_literal(x)} and {b} = {_literal(y)})" for x, y in pairs) or "false"
        applies = f"not ({a} is null and {b} is null)"  # GX's default ignore_row_if: both values missing
        return Plan(config, unexpected=f"{applies} and not coalesce({ok}, false)", applies=applies, shown=(a, b))
    if kind in ("expect_column_max_to_be_between", "expect_column_min_to_be_between"):
        return Plan(config, observed=f"{kind.split('_')[2]}({_ident(kw['column'])})")
    if kind == "expect_column_mean_to_be_between":
        c = _ident(kw["column"])
        return Plan(config, observed=f"avg({_as_number(c, [0])})")  # the mean of a 1/0 flag (as GX saw it)
    if kind in ("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"):
        return Plan(config, observed="count(*)")
    raise UnsupportedExpectation(f"the in-database gate has no SQL for {kind}")


def aggregate_sql(relation: str, plans: list[Plan]) -> str:
    """One query: for each plan, (rows it applies to, unexpected rows) or its observed value, in order."""
    items = ["count(*)"]
    for p in plans:
        if p.unexpected is not None:
            items.append(f"sum(case when {p.applies} then 1 else 0 end)")
            items.append(f"sum(case when {p.unexpected} then 1 else 0 end)")
        else:
            items.append(p.observed)
    return f"select {', '.join(items)} from {relation}"


def sample_sql(relation: str, p: Plan, keys: list[str]) -> str:
    columns = list(dict.fromkeys([*(_ident(k) for k in keys), *p.shown]))
    return (f"select {', '.join(columns)} from {relation} where {p.unexpected} "
            f"order by {', '.join(columns)} limit {SAMPLE_ROWS}")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _between(value, kw: dict) -> bool:
    """GX's rule for an aggregate: a null observation fails; bounds inclusive unless strict."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    low, high = kw.get("min_value"), kw.get("max_value")
    if isinstance(value, datetime) and isinstance(low or high, date) and not isinstance(low or high, datetime):
        value = value.date()
    if isinstance(value, date) and isinstance(low, str):
        low = date.fromisoformat(low)
    if isinstance(value, date) and isinstance(high, str):
        high = date.fromisoformat(high)
    if isinstance(value, Decimal):
        value = float(value)
    above = low is None or (value > low if kw.get("strict_min") else value >= low)
    below = high is None or (value < high if kw.get("strict_max") else value <= high)
    return bool(above and below)


def evaluate(engine_query, relation: str, suite, keys: list[str]) -> tuple[int, list]:
    """(row count, GX ExpectationValidationResults) of `suite` on `relation`, computed by `engine_query`
    (a function running SQL on the engine and returning rows)."""
    from great_expectations.core import ExpectationValidationResult

    plans = [plan(e.configuration) for e in suite.expectations]
    row = list(engine_query(aggregate_sql(relation, plans))[0])
    rows = int(row.pop(0) or 0)
    results = []
    for p in plans:
        kw = p.config.kwargs
        if p.unexpected is None:
            observed = row.pop(0)
            if p.config.type == "expect_table_row_count_to_equal":
                success = rows == kw["value"]
            else:
                success = _between(observed, kw)
            observed = int(observed) if p.config.type.startswith("expect_table_row_count") else _plain(observed)
            results.append(ExpectationValidationResult(success=success, expectation_config=p.config,
                                                       result={"observed_value": observed}))
            continue
        applies, unexpected = int(row.pop(0) or 0), int(row.pop(0) or 0)
        mostly = kw.get("mostly") or 1.0
        success = applies == 0 or (applies - unexpected) / applies >= mostly
        failing = []
        if unexpected:
            failing = [dict(zip(list(dict.fromkeys([*keys, *p.shown])), map(_plain, r), strict=True))
                       for r in engine_query(sample_sql(relation, p, keys))]
        values = [r[p.shown[0]] if len(p.shown) == 1 else [r[c] for c in p.shown] for r in failing]
        result = {
            "element_count": rows,
            "missing_count": rows - applies,
            "missing_percent": 100.0 * (rows - applies) / rows if rows else None,
            "unexpected_count": unexpected,
            "unexpected_percent": 100.0 * unexpected / applies if applies else None,
            "unexpected_percent_total": 100.0 * unexpected / rows if rows else None,
            "unexpected_percent_nonmissing": 100.0 * unexpected / applies if applies else None,
            "partial_unexpected_list": values,
            "partial_unexpected_index_list": failing,
            "unexpected_index_list": failing,
            "unexpected_index_column_names": list(keys),
        }
        results.append(ExpectationValidationResult(success=success, expectation_config=p.config, result=result))
    return rows, results
