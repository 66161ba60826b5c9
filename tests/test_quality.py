"""The gate's suites: exported JSON matches the code, every suite holds what it should."""

from __future__ import annotations

import json
from datetime import date

import pytest
from cvw.catalog import PUBLISHED_TABLES
from cvw.gate import GATE_DEFAULTS, build_suite, gate_vars
from cvw.gate.export import export_suites
from cvw.settings import EXPECTATIONS_DIR

pytestmark = pytest.mark.unit


def test_exported_suites_match_the_code(tmp_path):
    export_suites(tmp_path)
    for table in PUBLISHED_TABLES:
        committed = EXPECTATIONS_DIR / f"{table}.json"
        assert committed.exists(), f"run `cvw expectations` to export {table}"
        assert json.loads((tmp_path / f"{table}.json").read_text()) == json.loads(committed.read_text()), (
            f"expectations/{table}.json drifted from dags/cvw/gate/suites.py: run `cvw expectations`"
        )


@pytest.mark.parametrize("table", PUBLISHED_TABLES)
def test_every_suite_has_a_row_count_check_and_its_own_checks(table):
    # GX may log-and-skip a bad expectation (PITFALLS 4): count what the suite really holds
    suite = build_suite(table, date(2025, 1, 3), previous_rows=1000, v=gate_vars())
    types = [e.expectation_type for e in suite.expectations]
    assert types[0] == "expect_table_row_count_to_be_between"
    assert len(types) >= 3
    band = suite.expectations[0].configuration.kwargs
    assert (band["min_value"], band["max_value"]) == (0, 3000)  # 1000 x [0.5, 2.0] -/+ 1000 slack


def test_point_in_time_bound_uses_the_as_of_date():
    suite = build_suite("fct_orders", date(2025, 1, 3), v=dict(GATE_DEFAULTS))
    bounds = [
        e.configuration.kwargs for e in suite.expectations
        if e.expectation_type == "expect_column_max_to_be_between" and e.configuration.kwargs["column"] == "order_date"
    ]
    # GX parses the ISO strings into dates
    assert bounds == [{"column": "order_date", "min_value": date(2024, 12, 31), "max_value": date(2025, 1, 3)}]


def test_a_check_that_raises_says_so_with_the_exception():
    """A check GX could not evaluate (here: a column that is not there; on PostgreSQL/Spark it was a boolean
    compared with an integer) is reported with its exception, not as 'failed on None row(s)'."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd
    from cvw.gate.runner import CheckResult, _raised

    ctx = gx.get_context(mode="ephemeral")
    batch = ctx.data_sources.add_pandas("p").add_dataframe_asset("t").add_batch_definition_whole_dataframe("w")
    result = batch.get_batch(batch_parameters={"dataframe": pd.DataFrame({"converged": [1]})}).validate(
        gxe.ExpectColumnValuesToBeInSet(column="convergd", value_set=[1])
    )
    error = _raised(result.exception_info)
    assert error and "convergd" in error
    check = CheckResult("clv_model_fit", "expect_column_values_to_be_in_set", {"column": "convergd"}, False,
                        error=error)
    assert check.describe().startswith("clv_model_fit: expect_column_values_to_be_in_set(column=convergd) raised an "
                                       "exception: ") and "None row" not in check.describe()
