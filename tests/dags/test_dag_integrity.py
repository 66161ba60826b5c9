"""The DAG parses, is wired as documented, and stays thin."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"customer_value_nightly"}


def test_nightly_dag_shape(dagbag):
    dag = dagbag.dags["customer_value_nightly"]
    assert dag.tags == {"customer_value"} or set(dag.tags) == {"customer_value"}
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert {t.task_id for t in dag.tasks} == {
        "ingest", "dbt_build", "clv_fit", "wallet_fit", "dbt_build_value", "quality_gate", "publish", "run_report"
    }
    assert dag.get_task("dbt_build").upstream_task_ids == {"ingest"}
    assert dag.get_task("clv_fit").upstream_task_ids == {"dbt_build"}
    assert dag.get_task("wallet_fit").upstream_task_ids == {"clv_fit"}
    assert dag.get_task("dbt_build_value").upstream_task_ids == {"wallet_fit"}
    assert dag.get_task("quality_gate").upstream_task_ids == {"dbt_build_value"}
    assert dag.get_task("publish").upstream_task_ids >= {"quality_gate"}
    assert dag.get_task("run_report").upstream_task_ids == {"publish"}
    for task in dag.tasks:
        assert task.retries == 2 and task.retry_exponential_backoff
    assert dag.doc_md and "as-of date" in dag.doc_md


def test_package_never_imports_airflow():
    for path in (DAGS / "cvw").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            assert not any(n.split(".")[0] == "airflow" for n in names), f"{path.name} imports airflow"


def test_dag_file_has_no_heavy_top_level_imports():
    tree = ast.parse((DAGS / "customer_value_nightly.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = {(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name).split(".")[0] for n in top}
    assert modules <= {"__future__", "datetime", "airflow"}
