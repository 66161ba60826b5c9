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


def main() -> None:
    """`python -m cvw.airflow_env`: print export lines for the LocalExecutor-on-PostgreSQL set-up, from
    CVW_PG_* (as printed by scripts/pg_local.sh) and AIRFLOW_HOME (default $CVW_HOME/airflow-pg)."""
    import shlex

    home = Path(os.environ.get("AIRFLOW_HOME") or Path(os.environ.get("CVW_HOME", "data")) / "airflow-pg")
    env = airflow_postgres_env(
        home.resolve(), os.environ.get("CVW_PG_HOST", "127.0.0.1"), int(os.environ.get("CVW_PG_PORT", "5432")),
        os.environ.get("CVW_PG_USER", "cvw"), pg_password=os.environ.get("CVW_PG_PASSWORD", ""),
        api_port=int(os.environ.get("AIRFLOW__API__PORT", "8080")),
    )
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
