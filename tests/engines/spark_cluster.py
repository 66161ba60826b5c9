"""Pytest plugin: the Spark standalone cluster of scripts/spark_cluster.sh, started once per test session (on
first use) and stopped at the end, also when a test fails (`spark_cluster`, session-scoped).

The pipeline runs against it in its own process (`cvw run`, `airflow dags test`) as a user would run it; the
tests read the warehouse through the cluster's Thrift server with PyHive (as BI tools do). The pytest
process itself starts no Spark application, so these tests can share a worker with the in-process `spark`
tests. Registered in tests/conftest.py through `pytest_plugins`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "spark_cluster.sh"
CVW = str(Path(sys.executable).parent / "cvw")


def _exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value
    return env


def _value(value, kind: str):
    """A PyHive value as DuckDB returns it (arrays come as JSON text, dates as ISO text)."""
    if value is None:
        return None
    if kind == "ARRAY_TYPE" and isinstance(value, str):
        return json.loads(value)
    if kind == "DATE_TYPE" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


@dataclass
class Cluster:
    """The running cluster: its home (CVW_HOME of the script), exported variables and helpers."""

    home: Path
    env: dict[str, str]

    def script(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), command], env={**os.environ, "CVW_HOME": str(self.home)},
                              capture_output=True, text=True, timeout=600, check=check)

    def connect(self, user: str = "cvw", password: str | None = None):
        from pyhive import hive

        if password is None:
            password = self.env["CVW_SPARK_BI_PASSWORD" if user == self.env["CVW_SPARK_BI_USER"] else "CVW_SPARK_PASSWORD"]
        return hive.connect(host=self.env["CVW_SPARK_HOST"], port=int(self.env["CVW_SPARK_THRIFT_PORT"]),
                            username=user, password=password, auth="CUSTOM")

    def query(self, sql: str, user: str = "cvw") -> list[tuple]:
        conn = self.connect(user)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            kinds = [d[1] for d in cur.description or []]
            return [tuple(_value(v, k) for v, k in zip(row, kinds, strict=True)) for row in cur.fetchall()]
        finally:
            conn.close()

    def clean(self) -> None:
        """Drop every database the warehouse writes (a fresh warehouse for the next run)."""
        from cvw.engines.spark.session import DATABASES, VERSION_DB

        for (name,) in self.query("show databases"):
            if name in DATABASES or VERSION_DB.match(name):
                self.query(f"drop database if exists {name} cascade")

    def run_env(self, home: Path, landing: Path) -> dict[str, str]:
        """Environment of a pipeline process on the cluster (CVW_TARGET=spark_cluster) for `home`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CVW_")}
        keep = ("CVW_DBT_VARS",)
        env.update({k: os.environ[k] for k in keep if k in os.environ})
        env.update(self.env)
        env.update({"CVW_HOME": str(home), "CVW_LANDING_DIR": str(landing),
                    "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"})
        return env

    def cvw_run(self, home: Path, landing: Path, as_of: date, timeout: int = 1200) -> subprocess.CompletedProcess:
        return subprocess.run([CVW, "run", "--as-of", as_of.isoformat()], env=self.run_env(home, landing),
                              capture_output=True, text=True, timeout=timeout)

    def master(self) -> dict:
        with urllib.request.urlopen(f"{self.env['CVW_SPARK_MASTER_UI']}/json/", timeout=10) as r:
            return json.load(r)

    def kill_worker(self, number: int) -> int:
        """SIGKILL worker `number` and its executors (its process group); returns the worker's pid."""
        pid = int((self.home / "spark" / "cluster" / "pids" / f"worker{number}.pid").read_text())
        os.killpg(pid, signal.SIGKILL)
        return pid


@pytest.fixture(scope="session")
def spark_cluster():
    """scripts/spark_cluster.sh start under a temp CVW_HOME (PostgreSQL for the metastore, master, 2 workers,
    Thrift server); stop (and remove the folder) at the end of the session."""
    pytest.importorskip("pyhive")
    if not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("the Spark cluster needs Java 17 with javac")
    if not Path("/usr/share/java/postgresql.jar").exists() and not os.environ.get("CVW_PG_JDBC_JAR"):
        pytest.skip("the Spark cluster's metastore needs the PostgreSQL JDBC driver (libpostgresql-jdbc-java)")
    # PostgreSQL runs as an unprivileged OS user when we are root: its folder must be reachable (not pytest's 0700)
    home = Path(tempfile.mkdtemp(prefix="cvw_spark_cluster_"))
    home.chmod(0o755)
    cluster = Cluster(home=home, env={})
    try:
        started = cluster.script("start", check=False)
        if started.returncode != 0:
            logs = "\n".join(f"== {p.name}\n{p.read_text()[-2000:]}"
                             for p in sorted((home / "spark" / "cluster" / "logs").glob("*.log")))
            raise RuntimeError(f"spark_cluster.sh start failed:\n{started.stderr[-3000:]}\n{logs}")
        cluster.env = _exports(started.stdout)
        yield cluster
    finally:
        cluster.script("stop", check=False)
        shutil.rmtree(home, ignore_errors=True)
