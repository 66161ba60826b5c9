#!/usr/bin/env bash
# `make airflow-postgres`: Airflow with a PostgreSQL metadata DB and the LocalExecutor, on this machine.
# Starts (or reuses) the local PostgreSQL of scripts/pg_local.sh, migrates Airflow's metadata DB there,
# then runs `airflow standalone` (API server + UI on http://127.0.0.1:${AIRFLOW__API__PORT:-8080},
# scheduler with the LocalExecutor, DAG processor, triggerer). The warehouse stays on DuckDB unless you
# export CVW_TARGET=postgres as well. Ctrl-C stops Airflow; `scripts/pg_local.sh stop` stops PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CVW_HOME:=$PWD/data}"
export CVW_HOME

eval "$(scripts/pg_local.sh start)"
export CVW_TARGET="${CVW_WAREHOUSE_TARGET:-duckdb}"   # pg_local.sh exports postgres; keep DuckDB by default
eval "$(python -m cvw.airflow_env)"
mkdir -p "$AIRFLOW_HOME"
echo "airflow: metadata DB ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN%%:*}://…@${CVW_PG_HOST}:${CVW_PG_PORT}/airflow, executor $AIRFLOW__CORE__EXECUTOR, home $AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -30 "$AIRFLOW_HOME/migrate.log"; exit 1; }
exec airflow standalone
