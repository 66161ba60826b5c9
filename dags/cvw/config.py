"""dbt vars: the one place for thresholds. Defaults live in dbt_project/dbt_project.yml (`vars:`); a run
can override them with the environment variable CVW_DBT_VARS (a JSON object), which is passed to every
dbt call and read by the Python steps (CLV fit, gate), so SQL and Python always see the same values."""

from __future__ import annotations

import json
import os

from cvw.settings import DBT_PROJECT_DIR


def overrides() -> dict:
    """Var overrides from CVW_DBT_VARS (JSON object); {} when unset."""
    raw = os.environ.get("CVW_DBT_VARS", "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"CVW_DBT_VARS is not valid JSON ({exc}): expected e.g. '{{\"top_deciles\": 3}}'") from exc
    if not isinstance(value, dict):
        raise ValueError("CVW_DBT_VARS must be a JSON object of dbt var names to values")
    return value


def flag(value) -> bool:
    """A boolean dbt var as the models read it: false, 0 or no (any case) is false, anything else true."""
    return str(value).lower() not in ("false", "0", "no")


def project_vars(with_overrides: bool = True) -> dict:
    """dbt_project.yml vars with CVW_DBT_VARS applied on top (unless `with_overrides` is false)."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return {**(project.get("vars") or {}), **(overrides() if with_overrides else {})}


def seed_column(seed: str, column: str) -> list[str]:
    """The values of one column of a seed CSV (business configuration), in file order."""
    import csv

    with open(DBT_PROJECT_DIR / "seeds" / f"{seed}.csv", newline="") as f:
        return [row[column] for row in csv.DictReader(f)]
