"""The in-database gate (cvw.gate.aggregate) gives GX's own verdicts: every expectation type the suites use,
evaluated as SQL aggregates on DuckDB and by GX itself on the same rows as a pandas frame, passes and fails
alike, with the same unexpected counts and observed values."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from cvw.gate.aggregate import evaluate, plan

ROWS = """
select * from (values
    ('k1', 1, 0.50, 10, 5, true, 'eligible', date '2025-01-01'),
    ('k2', 5, 1.00, 10, 10, false, 'no_consent', date '2025-01-03'),
    ('k3', 7, -0.25, 3, 9, true, 'cap_7d', date '2025-01-02'),
    ('k4', null, null, null, null, null, null, null),
    ('k5', 0, 0.00, 4, 4, false, 'eligible', date '2024-12-30')
) t(k, score, share, tenure, recency, flag, status, day)
"""


def _expectations():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=1, max_value=5),
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=7),
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=1, mostly=0.7),
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=1, mostly=0.8),
        gxe.ExpectColumnValuesToBeBetween(column="share", min_value=0, max_value=1, strict_min=True),
        gxe.ExpectColumnValuesToBeBetween(column="share", min_value=-1, max_value=1, strict_max=True),
        gxe.ExpectColumnValuesToBeInSet(column="flag", value_set=[1]),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["eligible", "no_consent", "cap_7d"]),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="tenure", column_B="recency", or_equal=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="tenure", column_B="recency"),
        gxe.ExpectColumnPairValuesToBeInSet(column_A="flag", column_B="status",
                                            value_pairs_set=[(1, "eligible"), (0, "no_consent"), (0, "cap_7d")]),
        gxe.ExpectColumnMaxToBeBetween(column="day", max_value=date(2025, 1, 3)),
        gxe.ExpectColumnMaxToBeBetween(column="day", min_value=date(2025, 1, 4)),
        gxe.ExpectColumnMinToBeBetween(column="day", min_value=date(2025, 1, 1)),
        gxe.ExpectColumnMaxToBeBetween(column="share", min_value=1 - 1e-9, max_value=1 + 1e-9),
        gxe.ExpectColumnMeanToBeBetween(column="flag", min_value=0, max_value=0.4),
        gxe.ExpectColumnMeanToBeBetween(column="flag", min_value=0, max_value=1),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=5),
        gxe.ExpectTableRowCountToBeBetween(min_value=6),
        gxe.ExpectTableRowCountToEqual(value=5),
        gxe.ExpectTableRowCountToEqual(value=4),
    ]


def _gx_verdicts(con, expectations) -> list[tuple]:
    import great_expectations as gx
    import pandas as pd

    # as the old gate handed GX the rows: decimals as doubles, booleans as 1/0 (nullable)
    df = con.sql("select k, score, cast(share as double) as share, tenure, recency, cast(flag as integer) as flag, "
                 "status, day from t").df()
    df["day"] = pd.to_datetime(df["day"]).dt.date
    ctx = gx.get_context(mode="ephemeral")
    batch = ctx.data_sources.add_pandas("p").add_dataframe_asset("t").add_batch_definition_whole_dataframe("w")
    out = []
    for e in expectations:
        r = batch.get_batch(batch_parameters={"dataframe": df}).validate(e, result_format="COMPLETE")
        assert not r.exception_info.get("raised_exception"), r.exception_info
        out.append((e.expectation_type, bool(r.success), r.result.get("unexpected_count"),
                    r.result.get("observed_value") if "observed_value" in r.result else None))
    return out


def test_the_aggregate_gate_agrees_with_gx_on_every_expectation_type_the_suites_use():
    import great_expectations as gx

    con = duckdb.connect()
    con.execute(f"create table t as {ROWS}")
    expectations = _expectations()
    suite = gx.ExpectationSuite(name="t", expectations=expectations)
    rows, results = evaluate(lambda sql: con.execute(sql).fetchall(), "t", suite, ["k"])
    assert rows == 5
    ours = [(r.expectation_config.type, bool(r.success), r.result.get("unexpected_count"),
             r.result.get("observed_value")) for r in results]
    theirs = _gx_verdicts(con, expectations)
    for mine, gx_says in zip(ours, theirs, strict=True):
        assert mine[:3] == gx_says[:3], f"{mine} != GX {gx_says}"
        if isinstance(gx_says[3], float):
            assert mine[3] == pytest.approx(gx_says[3])
        elif gx_says[3] is not None:
            assert str(mine[3]) == str(gx_says[3]), f"{mine} != GX {gx_says}"
    # both kinds of verdict occur, and a failed row check names its failing rows by key
    assert {s for _, s, _, _ in ours} == {True, False}
    failed_scores = results[0].result["unexpected_index_list"]
    assert failed_scores == [{"k": "k3", "score": 7}, {"k": "k5", "score": 0}]


def test_a_column_name_that_is_not_a_plain_identifier_is_refused():
    import great_expectations.expectations as gxe

    with pytest.raises(ValueError, match="not a plain column name"):
        plan(gxe.ExpectColumnValuesToBeBetween(column="x; drop table t", min_value=0).configuration)
