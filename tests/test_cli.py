"""Every command answers --help; user errors come back as one clear line, not a traceback."""

from __future__ import annotations

import pytest
from cvw.cli import build_parser, main

pytestmark = pytest.mark.unit


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


def test_the_expected_commands_exist():
    assert set(_commands()) >= {"generate", "import-transactions", "ingest", "build", "gate", "run", "status",
                                "quarantine", "expectations", "backfill", "explain-audience"}


@pytest.mark.parametrize("command", _commands())
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: cvw " + command in capsys.readouterr().out


def test_a_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--as-of", "31/12/2025"])
    assert exit_.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_missing_landing_folder_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CVW_HOME", str(tmp_path))
    assert main(["ingest"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cvw ingest: error: landing folder") and "Traceback" not in err
