"""`cvw expectations`: the suites (code) written to `expectations/<table>.json`, so they can be read and
reviewed; tests/test_quality.py fails when the files drift from the code."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from cvw.catalog import PUBLISHED_TABLES
from cvw.gate.runner import _as_jsonable, _quiet_gx
from cvw.gate.suites import GATE_DEFAULTS, build_suite
from cvw.settings import EXPECTATIONS_DIR


def export_suites(out: Path = EXPECTATIONS_DIR, as_of: date = date(2000, 1, 1)) -> list[Path]:
    """Write every suite (for a fixed example as-of date, first publish, the vars of dbt_project.yml without
    CVW_DBT_VARS) to `expectations/<table>.json`."""
    from cvw.config import project_vars

    _quiet_gx()
    defaults = {**GATE_DEFAULTS, **project_vars(with_overrides=False)}
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for table in PUBLISHED_TABLES:
        suite = build_suite(table, as_of, None, dict(defaults))
        doc = {
            "name": table,
            "example_as_of_date": as_of.isoformat(),
            "expectations": [
                {"type": e.expectation_type, "kwargs": _as_jsonable(e.configuration.kwargs)}
                for e in suite.expectations
            ],
        }
        path = out / f"{table}.json"
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
