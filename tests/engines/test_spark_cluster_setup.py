"""The Spark cluster's setup without a cluster (the default run; the cluster itself is tested in
test_spark_cluster.py, `make test-extended`): clear errors before anything starts, the login and read-only
guard compile against this pyspark."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "spark_cluster.sh"


def test_spark_cluster_target_without_a_running_cluster_says_how_to_start_one(tmp_path, monkeypatch):
    from cvw import settings
    from cvw.engines import get_engine
    from cvw.engines.spark import SparkSessionError

    monkeypatch.delenv("CVW_SPARK_CONF_DIR", raising=False)
    engine = get_engine(settings.load(home=tmp_path, target="spark_cluster"))  # starts nothing yet
    with pytest.raises(SparkSessionError, match=r"spark_cluster.sh start"):
        engine.spark  # noqa: B018 - the application starts on first use


def test_spark_cluster_script_help_and_env_before_start(tmp_path):
    env = {**os.environ, "CVW_HOME": str(tmp_path)}
    helped = subprocess.run(["bash", str(SCRIPT), "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 2 and "spark_cluster.sh start" in helped.stderr and "Thrift" in helped.stderr
    before = subprocess.run(["bash", str(SCRIPT), "env"], env=env, capture_output=True, text=True)
    assert before.returncode == 1 and "not initialised yet" in before.stderr
    status = subprocess.run(["bash", str(SCRIPT), "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 3 and "not running" in status.stderr


@pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK (javac)")
def test_the_login_and_reader_guard_compile_against_this_pyspark(tmp_path):
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    sources = sorted(str(p) for p in (REPO / "spark" / "guard").rglob("*.java"))
    built = subprocess.run(["javac", "--release", "17", "-d", str(tmp_path), "-cp", f"{jars}/*", *sources],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    classes = {p.name for p in tmp_path.rglob("*.class")}
    assert {"ReaderGuard.class", "PasswordFileAuthenticator.class"} <= classes
