"""Every dbt unit test of the project (the SQL rules on fixed inputs) passes on DuckDB. The pipeline's builds
skip unit tests (they test code, not the night's data); this runs them once, after a build of landing_small
created the relations whose column types dbt reads."""

from __future__ import annotations

import pytest
from cvw.dbt import run_dbt

from tests.helpers import SMALL_AS_OF

pytestmark = [pytest.mark.dbt, pytest.mark.integration]


def test_every_dbt_unit_test_passes(small_run):
    settings, _ = small_run
    result = run_dbt(settings, ["test", "--select", "test_type:unit"], as_of=SMALL_AS_OF)
    assert result.statuses.get("pass", 0) >= 25 and not result.failures, result.statuses
