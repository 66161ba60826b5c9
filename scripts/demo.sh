#!/usr/bin/env bash
# The demo behind `make demo`: generate a small data set, run the real Airflow DAG once for one as-of
# date against DuckDB (a local SQLite Airflow home, set up here), then show what was published.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CVW_HOME:=$PWD/data/demo}"
: "${DEMO_AS_OF:=2025-12-31}"
: "${DEMO_CUSTOMERS:=2000}"
export CVW_HOME
export AIRFLOW_HOME="$CVW_HOME/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export GX_ANALYTICS_ENABLED=false

landing="$CVW_HOME/landing"
mkdir -p "$CVW_HOME"
if [ ! -d "$landing" ]; then
  echo "==> generating $DEMO_CUSTOMERS customers, two years ending $DEMO_AS_OF, with a few bad rows -> $landing"
  cvw generate --customers "$DEMO_CUSTOMERS" --days 730 --end-date "$DEMO_AS_OF" --bad-rows-rate 0.001 \
    --out "$landing" > /dev/null
else
  echo "==> reusing landing files in $landing (delete $CVW_HOME to start over)"
fi

mkdir -p "$AIRFLOW_HOME"
echo "==> airflow db migrate (SQLite metadata DB in $AIRFLOW_HOME)"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -50 "$AIRFLOW_HOME/migrate.log"; exit 1; }

log="$AIRFLOW_HOME/dags_test_$DEMO_AS_OF.log"
echo "==> airflow dags test customer_value_nightly $DEMO_AS_OF   (log: $log)"
if ! airflow dags test customer_value_nightly "$DEMO_AS_OF" > "$log" 2>&1; then
  grep -E "ERROR|Error|error:|failed" "$log" | tail -30
  echo "the DAG run failed; full log: $log" >&2
  exit 1
fi
grep -oE "DagRun Finished: dag_id=[a-z_]+, logical_date=[^,]+, run_id=[^,]+" "$log" | sed 's/^/   /'
grep -oE "DagRun Finished.*, state=[a-z]+" "$log" | grep -oE "state=[a-z]+$" | sed 's/^/   run /'

echo
cvw status
echo "Quarantined and rejected rows: cvw quarantine   Quality report (GX Data Docs): $CVW_HOME/gx/gx/uncommitted/data_docs/local_site/index.html"
echo "Run report (open in a browser; works offline): $CVW_HOME/reports/$DEMO_AS_OF/index.html   Model docs: cvw docs"
