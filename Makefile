# The two front-door commands: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export CVW_HOME ?= $(CURDIR)/data/demo

VENV_BI ?= .venv-bi

.PHONY: demo test test-extended install lint bench clean help airflow-postgres postgres bi spark-cluster spark-cluster-stop

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,engines]"
	$(BIN)/python scripts/vendor_web_assets.py
	@bash scripts/install_chromium.sh
	@bash scripts/install_pg_jdbc.sh
	@touch $@

install: $(VENV)/.installed $(VENV_BI)/.installed  ## create .venv (and .venv-bi for Superset) with the pinned stack

# Superset in its own virtualenv: it pins SQLAlchemy < 2, Airflow needs >= 2 (PITFALLS 15)
$(VENV_BI)/.installed: bi/requirements.txt
	@test -x $(VENV_BI)/bin/python || $(PYTHON) -m venv $(VENV_BI)
	$(VENV_BI)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_BI)/bin/python -m pip install --quiet -r bi/requirements.txt
	@touch $@

bi: $(VENV_BI)/.installed  ## Superset on 127.0.0.1:$$CVW_BI_PORT (8088) with the "Customer value" dashboard on the published file
	$(VENV_BI)/bin/python bi/launch.py

demo: $(VENV)/.installed  ## generate data, run the real Airflow DAG once on DuckDB, print what was published
	PATH="$(BIN):$$PATH" bash scripts/demo.sh

test: $(VENV)/.installed $(VENV_BI)/.installed  ## the test suite on two workers (a file stays on one worker: its module fixtures are built once); every behaviour, on every engine where engines differ; the longer matrices are `make test-extended`
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 -m "not extended"

test-extended: $(VENV)/.installed $(VENV_BI)/.installed  ## the second tier: whole pipelines on PostgreSQL and Spark, cross-engine equality, Airflow on PostgreSQL, SIGKILL at every failpoint, readers during publishes, the 20k-customer CLV fit (CI runs it after make test)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 -m extended

lint: $(VENV)/.installed  ## ruff on the Python, sqlfluff (dbt templater) on the dbt models
	$(BIN)/ruff check dags scripts tests bi
	cd dbt_project && tmp=$$(mktemp -d) && CVW_HOME=$$tmp CVW_WAREHOUSE=$$tmp/lint.duckdb CVW_DBT_TARGET_PATH=$$tmp/target PATH="$(BIN):$$PATH" $(BIN)/sqlfluff lint models data-tests --processes 2

bench: $(VENV)/.installed  ## pipeline benchmark (100k customers, two years; takes minutes)
	$(BIN)/python scripts/bench_pipeline.py

airflow-postgres: $(VENV)/.installed  ## Airflow on a local PostgreSQL metadata DB with the LocalExecutor (airflow standalone)
	PATH="$(BIN):$$PATH" bash scripts/airflow_postgres.sh

postgres: $(VENV)/.installed  ## start a local PostgreSQL 15 on loopback for CVW_TARGET=postgres; prints the env
	bash scripts/pg_local.sh start

spark-cluster: $(VENV)/.installed  ## start a Spark standalone cluster on loopback (master, 2 workers, Thrift server, metastore on the local PostgreSQL) for CVW_TARGET=spark_cluster; prints the env
	bash scripts/spark_cluster.sh start

spark-cluster-stop:  ## stop the Spark cluster (and the PostgreSQL it started)
	bash scripts/spark_cluster.sh stop

clean:  ## remove generated data (not the venv)
	rm -rf data dbt_project/target dbt_project/logs
