"""Engines: where raw data, the audit area and the published tables live.

`CVW_TARGET` (settings.target) picks one; it is also the dbt target. Every engine gives the same
guarantees (manifest + lineage + quarantine on ingest, the same GX suites in the gate, write-audit-publish);
how it keeps them is engine-specific and documented in its module.
"""

from __future__ import annotations

from cvw.engines.base import Engine
from cvw.settings import Settings

ENGINES = ("duckdb", "postgres", "spark", "spark_cluster")


def get_engine(settings: Settings) -> Engine:
    """The engine for settings.target."""
    if settings.target == "duckdb":
        from cvw.engines.duckdb import DuckDBEngine

        return DuckDBEngine(settings)
    if settings.target == "postgres":
        from cvw.engines.postgres import PostgresEngine

        return PostgresEngine(settings)
    if settings.target == "spark":
        from cvw.engines.spark import SparkEngine

        return SparkEngine(settings)
    if settings.target == "spark_cluster":
        from cvw.engines.spark import SparkClusterEngine

        return SparkClusterEngine(settings)
    raise ValueError(f"unknown CVW_TARGET {settings.target!r}; expected one of {', '.join(ENGINES)}")
