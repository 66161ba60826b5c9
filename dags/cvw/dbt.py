"""Run dbt in-process through dbtRunner (one process, so no fight over DuckDB's file lock)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cvw.settings import DBT_PROJECT_DIR, Settings

log = logging.getLogger(__name__)


# dbt selector of the models that read the Python steps' tables (`source('clv', ...)`, `source('wallet_model',
# ...)`) and everything after them: the value build, after the CLV and wallet steps
CLV_DOWNSTREAM = "source:clv+ source:wallet_model+"
# dbt unit tests check SQL logic on fixed inputs, not the night's data: the runs skip them and CI runs them
# (`dbt test --select test_type:unit`, tests/test_dbt_unit_tests.py), as dbt recommends for production
UNIT_TESTS = "test_type:unit"


class DbtError(RuntimeError):
    """dbt failed: the message lists the failing nodes and their messages."""


@dataclass
class DbtResult:
    command: str
    success: bool
    seconds: float
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        return f"dbt {self.command}: {counts or 'nothing ran'} in {self.seconds:.1f}s"


# what build_fingerprint hashes: everything in the project that decides what a model computes
_FINGERPRINTED = ("dbt_project.yml", "models", "macros", "seeds")


def build_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """SHA-256 over the project's model, macro and seed files, dbt_project.yml and the var overrides
    (CVW_DBT_VARS, without the as-of date). The incremental validated models store the fingerprint they were
    built with (audit.build_fingerprint); a build whose fingerprint differs runs as a --full-refresh."""
    import hashlib

    from cvw.config import overrides

    digest = hashlib.sha256()
    for top in _FINGERPRINTED:
        root = project_dir / top
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            if path.is_file():
                digest.update(f"{path.relative_to(project_dir).as_posix()}\0{path.stat().st_size}\0".encode())
                digest.update(path.read_bytes())
    variables = {k: v for k, v in overrides().items() if k != "as_of_date"}
    digest.update(json.dumps(variables, sort_keys=True, default=str).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_dbt(
    settings: Settings,
    args: list[str],
    as_of: date | None = None,
    extra_vars: dict | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
) -> DbtResult:
    """Run `dbt <args>` against the project (another `project_dir` only in tests; the profile is always the
    project's) with the run's as-of date; raise DbtError on failure."""
    from dbt.cli.main import dbtRunner

    from cvw.config import overrides

    variables = {**overrides(), **(extra_vars or {})}
    if as_of is not None:
        variables.pop("as_of_date", None)  # the run's date wins over a configured one (macros/as_of.sql)
    target_path = settings.home / "dbt" / "target"
    log_path = settings.home / "dbt" / "logs"
    cli_args = [
        *args,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", settings.target,
        "--target-path", str(target_path),
        "--log-path", str(log_path),
        "--threads", str(settings.dbt_threads),
    ]
    if variables:
        cli_args += ["--vars", json.dumps(variables)]
    from cvw.engines import get_engine

    get_engine(settings).before_dbt()  # e.g. Spark: dbt-spark's session method reuses the process's session
    started = time.monotonic()
    log.info("dbt %s", " ".join(args))
    # profiles.yml reads the connection from env_var(); the as-of date goes by CVW_AS_OF_DATE, not --vars, so
    # a new date does not force dbt to re-parse the project (macros/as_of.sql)
    env = {**settings.env(), "CVW_AS_OF_DATE": as_of.isoformat() if as_of is not None else "",
           "CVW_BUILD_FINGERPRINT": build_fingerprint(project_dir)}
    with _environment(env):
        res = dbtRunner().invoke(cli_args)
    seconds = time.monotonic() - started
    result = DbtResult(command=" ".join(args), success=bool(res.success), seconds=seconds)
    for r in getattr(res.result, "results", None) or []:
        status = str(getattr(r.status, "value", r.status))
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status in ("error", "fail", "runtime error"):
            result.failures.append(f"{r.node.unique_id}: {status}: {(r.message or '').strip()[:500]}")
    log.info(result.summary())
    if not res.success:
        detail = "\n  ".join(result.failures) or repr(res.exception)
        raise DbtError(
            f"dbt {' '.join(args)} failed; nothing was published.\n  {detail}\n"
            f"Full log: {log_path / 'dbt.log'}"
        )
    return result
