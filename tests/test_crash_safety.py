"""Crash safety (SPEC §6): a run killed with SIGKILL at any point leaves the published tables unchanged and
readable, and the next run succeeds with nothing lost or double-counted.

The run is a real `cvw run` process. It is killed either at a named failpoint (cvw.failpoints: the process
SIGKILLs itself there) or from outside, by the test, while dbt is building. Every case starts from the same
warehouse (D1 published) at the same absolute path, so the published history's file paths stay valid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from cvw.failpoints import POINTS

from tests.helpers import TINY_VARS, landing_until, make_settings, published_checksums, query

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

D1, D2 = date(2025, 1, 2), date(2025, 1, 4)


def cvw(home: Path, *args: str, failpoint: str | None = None, kill_on: str | None = None,
        kill_delay: float = 0.0) -> tuple[int, str]:
    """Run `cvw <args>` in its own process group; with `kill_on`, SIGKILL the group `kill_delay` seconds
    after a log line containing `kill_on`. Returns (return code, combined output)."""
    env = {**os.environ, "CVW_HOME": str(home), "CVW_LANDING_DIR": str(home / "landing"),
           "CVW_DBT_VARS": TINY_VARS}  # landing_small
    env.pop("CVW_FAILPOINT", None)
    if failpoint:
        env["CVW_FAILPOINT"] = failpoint
    proc = subprocess.Popen(
        [sys.executable, "-m", "cvw.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if kill_on and kill_on in line:
            time.sleep(kill_delay)
            os.killpg(proc.pid, signal.SIGKILL)
            break
    lines.extend(proc.stdout.read() or "" if not kill_on else "")
    proc.wait(timeout=600)
    return proc.returncode, "".join(lines)


def warehouse_state(s) -> dict:
    """What must be neither lost nor double-counted: raw rows, quarantined rows, manifest, accounting."""
    tables = [r[0] for r in query(
        s.warehouse, "select table_name from duckdb_tables() where schema_name = 'raw' order by 1"
    )]
    return {
        "raw": {t: query(s.warehouse, f"select count(*) from raw.{t}")[0][0] for t in tables},
        "quarantine": query(s.warehouse, "select count(*) from quarantine.rows")[0][0],
        "manifest": query(s.warehouse, "select file_name, rows_loaded, rows_quarantined from ingest.file_manifest "
                                       "order by 1"),
        "accounting": query(s.warehouse, "select * from audit.row_accounting order by all"),
    }


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """D1 published from the files landed by D1, then D2's files landed. Returns (workspace path,
    pristine copy, published checksums of D1, published checksums and warehouse state of a clean D2 run)."""
    root = tmp_path_factory.mktemp("crash")
    ws, pristine = root / "ws", root / "pristine"
    s = make_settings(ws)
    landing_until(s, D1)
    code, out = cvw(ws, "run", "--as-of", D1.isoformat())
    assert code == 0, out[-3000:]
    landing_until(s, D2)
    shutil.copytree(ws, pristine, symlinks=True)
    before = published_checksums(s.analytics_db)
    code, out = cvw(ws, "run", "--as-of", D2.isoformat())
    assert code == 0, out[-3000:]
    clean = published_checksums(s.analytics_db), warehouse_state(s)
    return ws, pristine, before, clean


def _restore(ws: Path, pristine: Path) -> None:
    shutil.rmtree(ws)
    shutil.copytree(pristine, ws, symlinks=True)


# make test kills one run mid-publish (the case that matters most to readers); make test-extended kills at every
# failpoint (marker `extended`)
EXTENDED = pytest.mark.extended
CASES = [
    pytest.param({"failpoint": "ingest.before_commit"}, id="ingest-mid-transaction", marks=EXTENDED),
    pytest.param({"failpoint": "ingest.between_groups"}, id="ingest-between-files", marks=EXTENDED),
    pytest.param({"kill_on": "dbt build --exclude", "kill_delay": 3.0}, id="dbt-build", marks=EXTENDED),
    pytest.param({"failpoint": "clv.after_fit"}, id="clv", marks=EXTENDED),
    pytest.param({"failpoint": "wallet.after_fit"}, id="wallet", marks=EXTENDED),
    pytest.param({"failpoint": "gate.between_tables"}, id="gate", marks=EXTENDED),
    pytest.param({"failpoint": "publish.after_history_files"}, id="publish-history-written", marks=EXTENDED),
    pytest.param({"failpoint": "publish.copying_tables"}, id="publish-half-written"),
    pytest.param({"failpoint": "publish.before_swap"}, id="publish-before-swap", marks=EXTENDED),
    pytest.param({"failpoint": "publish.after_swap"}, id="publish-after-swap", marks=EXTENDED),
]


@pytest.mark.parametrize("kill", CASES)
def test_sigkill_leaves_the_publish_intact_and_the_next_run_recovers(baseline, kill):
    ws, pristine, before, (after_clean, state_clean) = baseline
    _restore(ws, pristine)
    s = make_settings(ws)
    code, out = cvw(ws, "run", "--as-of", D2.isoformat(), **kill)
    assert code == -signal.SIGKILL, out[-3000:]
    if "failpoint" in kill:
        assert f"failpoint {kill['failpoint']}: killing this process" in out

    # the published tables: the previous publish, whole and readable (or, killed after the swap, the new one)
    expected = after_clean if kill.get("failpoint") == "publish.after_swap" else before
    assert published_checksums(s.analytics_db) == expected

    # the next run succeeds and gives exactly what an uninterrupted run gives
    code, out = cvw(ws, "run", "--as-of", D2.isoformat())
    assert code == 0, out[-3000:]
    after = published_checksums(s.analytics_db)
    if kill.get("failpoint") == "publish.after_swap":  # D2 was published twice: one more log row
        as_of, _, *rest = after_clean["publish_log"][-1]
        assert after.pop("publish_log")[-2:] == [(as_of, False, *rest), (as_of, True, *rest)]
        after_clean = {t: v for t, v in after_clean.items() if t != "publish_log"}
    assert after == after_clean
    assert warehouse_state(s) == state_clean
    leftovers = [p for p in s.publish_dir.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []


def test_every_failpoint_is_exercised():
    named = {c.values[0].get("failpoint") for c in CASES} - {None}
    assert named == set(POINTS)
