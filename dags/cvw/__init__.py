"""Customer value warehouse: ingest, dbt build, quality gate and publish, without Airflow."""

__version__ = "0.1.0"
