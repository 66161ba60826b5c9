"""A contract's not_null constraint fails the build on every engine, naming the column: DuckDB and PostgreSQL
reject the insert; on Spark (Parquet, where dbt-spark enforces nothing) the project's
`spark__persist_constraints` counts the nulls after the write. The published models declare their not-null
columns this way instead of one not_null data test per column."""

from __future__ import annotations

import shutil

import pytest
from cvw.dbt import DbtError, run_dbt

from tests.helpers import REPO

pytestmark = [pytest.mark.integration, pytest.mark.dbt]

MODEL_YML = """version: 2
models:
  - name: {name}
    config:
      materialized: table
      contract:
        enforced: true
    columns:
      - name: id
        data_type: integer
        constraints: [{{type: not_null}}]
      - name: amount
        data_type: integer
        constraints: [{{type: not_null}}]
"""


def _project(root, models: dict[str, str]):
    """A throw-away dbt project with the project's constraint macro and one contracted model per entry."""
    (root / "models").mkdir(parents=True)
    (root / "macros").mkdir()
    shutil.copy(REPO / "dbt_project" / "macros" / "cross_db" / "not_null_constraints.sql", root / "macros")
    (root / "dbt_project.yml").write_text("name: constraint_check\nversion: '1.0'\nconfig-version: 2\nprofile: cvw\n")
    for name, sql in models.items():
        (root / "models" / f"{name}.sql").write_text(sql)
        (root / "models" / f"{name}.yml").write_text(MODEL_YML.format(name=name))
    return root


def test_a_null_in_a_not_null_column_fails_the_build_on_every_engine(engine_settings, tmp_path):
    project = _project(tmp_path / "project", {
        "complete": "select 1 as id, 10 as amount",
        "with_a_null": "select 1 as id, 10 as amount union all select 2, cast(null as integer)",
    })
    engine_settings.warehouse.parent.mkdir(parents=True, exist_ok=True)  # DuckDB's file (unused elsewhere)
    ok = run_dbt(engine_settings, ["build", "--select", "complete"], project_dir=project)
    assert ok.statuses == {"success": 1}
    with pytest.raises(DbtError) as err:
        run_dbt(engine_settings, ["build", "--select", "with_a_null"], project_dir=project)
    message = str(err.value).lower()
    assert "with_a_null" in message and "amount" in message
    assert "not null constraint" in message or "not-null constraint" in message
