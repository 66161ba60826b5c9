"""The house rules of the package (issue 15): no import cycle, engines as peers, small modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "dags" / "cvw"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _imports(path: Path, known: set[str], me: str) -> set[str]:
    """Modules of the package `path` imports, at module level or inside functions alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        # a package and its own submodules may import each other (the package re-exports its parts)
        found |= {m for m in names if m in known and m != me and not m.startswith(me + ".")
                  and not me.startswith(m + ".")}
    return found


def test_no_import_cycle_in_the_package():
    modules = _modules()
    graph = {name: _imports(path, set(modules), name) for name, path in modules.items()}
    cycles, done, stack = [], set(), []

    def visit(name):
        stack.append(name)
        for dep in sorted(graph[name]):
            if dep in stack:
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in done:
                visit(dep)
        stack.pop()
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name)
    assert cycles == []


def test_engine_specific_code_lives_in_engines():
    """Outside engines/, nothing asks which engine it runs on: it calls the engine's hooks."""
    pattern = re.compile(r"engine\.name\b|\.target\s*[!=]=|target\.type")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in PACKAGE.rglob("*.py") if "engines" not in path.relative_to(PACKAGE).parts
        for n, line in enumerate(path.read_text().splitlines(), start=1) if pattern.search(line)
    ]
    assert offenders == []


def test_engine_neutral_modules_never_import_an_engine():
    neutral = ["cvw.landing", "cvw.reader", "cvw.typecheck", "cvw.bookkeeping", "cvw.publish", "cvw.catalog",
               "cvw.gate.suites"]
    modules = _modules()
    for name in neutral:
        assert not {m for m in _imports(modules[name], set(modules), name) if m.startswith("cvw.engines")}, name


def test_every_engine_package_has_the_same_parts():
    parts = {p.name: sorted(f.stem for f in p.glob("*.py")) for p in (PACKAGE / "engines").iterdir() if p.is_dir()
             and not p.name.startswith("_")}
    assert set(parts) == {"duckdb", "postgres", "spark"}
    for name, files in parts.items():
        assert {"__init__", "ingest", "gate", "publish"} <= set(files), name
        assert {"connection", "session"} & set(files), name


def test_no_module_is_longer_than_500_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
