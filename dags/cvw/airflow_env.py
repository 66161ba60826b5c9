"""Environment for running Airflow itself on a PostgreSQL metadata database with the LocalExecutor.

Used by `scripts/airflow_postgres.sh` (make airflow-postgres) and the tests, so both run the same
configuration. Production differs only in the values: a managed PostgreSQL, a real JWT secret and
Fernet key from a secrets backend, and a Celery or Kubernetes executor (README "Airflow in production").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def airflow_postgres_env(
    airflow_home: Path, pg_host: str, pg_port: int, pg_user: str, pg_database: str = "airflow",
    pg_password: str = "", api_port: int = 8080, jwt_secret: str | None = None,
) -> dict[str, str]:
    """AIRFLOW__* variables for a LocalExecutor deployment whose metadata DB is PostgreSQL."""
    auth = f"{pg_user}:{pg_password}" if pg_password else pg_user
    repo = Path(__file__).resolve().parents[2]
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{auth}@{pg_host}:{pg_port}/{pg_database}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        # task processes report to the API server (Airflow 3); all parts must share the JWT secret
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret or os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET")
        or secrets.token_hex(32),
    }
