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


def _one_line_error(capsys, argv: list[str], starts: str) -> str:
    """Run `cvw argv`: exit code 1, no traceback, and the error is the last line of stderr and one line (the
    lines before it are the command's progress log)."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert [line for line in lines if ": error: " in line] == lines[-1:], err
    assert lines[-1].startswith(f"cvw {argv[0]}: error: {starts}"), err
    return lines[-1]


LOG = "customer,date,amount\n"


@pytest.mark.parametrize(
    ("name", "content", "starts"),
    [
        ("missing.csv", None, "{file}: no such file"),
        ("thousands.csv", LOG + 'c1,2025-01-02,"1,234.50"\n', "{file}: 1 row(s) with an unparseable amount"),
        ("day_first.csv", LOG + "c1,31/12/2025,5.00\n", "{file}: 1 row(s) with an unparseable date"),
    ],
    ids=["missing_file", "thousands_separator", "day_first_date"],
)
def test_import_problems_are_one_line(tmp_path, capsys, name, content, starts):
    f = tmp_path / name
    if content is not None:
        f.write_text(content)
    _one_line_error(capsys, ["import-transactions", str(f), "--out", str(tmp_path / "landing"),
                             "--customer-col", "customer", "--date-col", "date", "--amount-col", "amount"],
                    starts.format(file=f))


def test_an_unknown_import_column_is_one_line(tmp_path, capsys):
    f = tmp_path / "log.csv"
    f.write_text(LOG + "c1,2025-01-02,5.00\n")
    _one_line_error(capsys, ["import-transactions", str(f), "--out", str(tmp_path / "landing"), "--customer-col",
                             "client", "--date-col", "date", "--amount-col", "amount"], "customer column 'client' not found")


@pytest.mark.parametrize("ending", [b"\r\n", b"\r", b"mixed"], ids=["crlf", "old_mac_cr", "mixed"])
def test_import_reads_any_line_ending_and_wildcard_names(tmp_path, ending):
    from cvw.importer import import_transactions

    rows = [b"customer,date,amount", b"c1,2025-01-02,5.00", b"c2,2025-01-03,7.50", b"c1,2025-01-04,1.25"]
    data = (b"\n".join(rows[:2]) + b"\r\n" + b"\r\n".join(rows[2:]) if ending == b"mixed" else ending.join(rows)) + b"\n"
    f = tmp_path / "log_2025-*.csv"  # a `*` in the name is a character
    f.write_bytes(data)
    (tmp_path / "log_2025-01.csv").write_bytes(b"customer,date,amount\nx,2025-01-01,9.99\n")  # would match a glob
    summary = import_transactions(f, tmp_path / "landing", customer_col="customer", date_col="date",
                                  amount_col="amount")
    assert (summary["orders"], summary["customers"], summary["amount_total"]) == (3, 2, "13.75")


def test_build_gate_and_reports_before_any_data_say_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CVW_HOME", str(tmp_path))
    _one_line_error(capsys, ["build", "--as-of", "2025-01-03"], "")
    _one_line_error(capsys, ["gate", "--as-of", "2025-01-03"], "")
    _one_line_error(capsys, ["quarantine"], f"{tmp_path}")


def test_an_unforeseen_error_is_one_line_and_verbose_shows_the_traceback(tmp_path, capsys):
    _one_line_error(capsys, ["generate", "--customers", "0", "--out", str(tmp_path)],
                    "ValueError: customers and days must be >= 1 (`cvw --verbose generate ...` shows the traceback)")
    assert main(["--verbose", "generate", "--customers", "0", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("cvw generate: error: ValueError")


@pytest.mark.dbt
def test_a_run_before_any_data_is_one_line(workspace, monkeypatch, capsys):
    """`cvw run --as-of 1990-01-01`: there is nothing to fit on or before that date."""
    monkeypatch.setenv("CVW_HOME", str(workspace.home))
    monkeypatch.setenv("CVW_DBT_VARS", "{}")  # the default: the CLV fit is required
    err = _one_line_error(capsys, ["run", "--as-of", "1990-01-01"], "cannot fit the CLV models: no customer has a "
                          "completed order on or before the as-of date")
    assert "Nothing was published" in err
