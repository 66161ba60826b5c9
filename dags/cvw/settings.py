"""Paths and connections from environment variables, with defaults. Nothing else lives here.

| variable | default | meaning |
|---|---|---|
| CVW_HOME | `<repo>/data` | root of everything the warehouse writes |
| CVW_LANDING_DIR | `$CVW_HOME/landing` | landing files, one folder per entity |
| CVW_WAREHOUSE | `$CVW_HOME/warehouse/cvw.duckdb` | working warehouse; one writer; audit marts in `cvw_marts.duckdb` |
| CVW_PUBLISH_DIR | `$CVW_HOME/published` | what BI reads: `customer_value.duckdb` (swapped atomically) |
| CVW_REPORTS_DIR | `$CVW_HOME/reports` | quality-gate reports (JSON + HTML) per run |
| CVW_TARGET | `duckdb` | dbt target in `dbt_project/profiles.yml` |
| CVW_DBT_THREADS | `2` (`4` on the Spark targets) | dbt threads (Spark: statements at once); wallet model threads |
| CVW_DUCKDB_MEMORY_LIMIT | `3GB` | DuckDB memory cap for dbt and the Python steps (it spills to disk beyond it) |
| CVW_DBT_VARS | (none) | JSON object of dbt var overrides for dbt and the Python steps (`cvw.config`) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    warehouse: Path
    publish_dir: Path
    reports_dir: Path
    target: str
    dbt_threads: int

    @property
    def analytics_db(self) -> Path:
        """The file BI tools open read-only."""
        # not "analytics.duckdb": the catalog would share its name with the schema and make
        # `analytics.<table>` ambiguous
        return self.publish_dir / "customer_value.duckdb"

    @property
    def marts_db(self) -> Path:
        """DuckDB: the audit-marts file beside the warehouse (cvw.db.marts_file), copied whole by the publish."""
        from cvw.db import marts_file

        return marts_file(self.warehouse)

    def env(self) -> dict[str, str]:
        """Environment variables that make a child process (dbt, Airflow) see these settings."""
        return {
            "CVW_HOME": str(self.home),
            "CVW_LANDING_DIR": str(self.landing_dir),
            "CVW_WAREHOUSE": str(self.warehouse),
            "CVW_MARTS_DB": str(self.marts_db),
            "CVW_PUBLISH_DIR": str(self.publish_dir),
            "CVW_REPORTS_DIR": str(self.reports_dir),
            "CVW_TARGET": self.target,
            "CVW_DBT_THREADS": str(self.dbt_threads),
        }


def load(**overrides: object) -> Settings:
    """Read settings from the environment; keyword arguments win over the environment."""
    home = Path(str(overrides.get("home") or os.environ.get("CVW_HOME") or REPO_ROOT / "data")).resolve()

    def path(key: str, env: str, default: Path) -> Path:
        value = overrides.get(key) or os.environ.get(env)
        return Path(str(value)).resolve() if value else default

    target = str(overrides.get("target") or os.environ.get("CVW_TARGET", "duckdb"))
    spark = target.startswith("spark")
    threads = overrides.get("dbt_threads") or os.environ.get("CVW_DBT_THREADS") or (4 if spark else 2)
    return Settings(
        home=home,
        landing_dir=path("landing_dir", "CVW_LANDING_DIR", home / "landing"),
        warehouse=path("warehouse", "CVW_WAREHOUSE", home / "warehouse" / "cvw.duckdb"),
        publish_dir=path("publish_dir", "CVW_PUBLISH_DIR", home / "published"),
        reports_dir=path("reports_dir", "CVW_REPORTS_DIR", home / "reports"),
        target=target,
        dbt_threads=int(str(threads)),
    )
