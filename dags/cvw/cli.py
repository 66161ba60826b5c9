"""`cvw` — the command line of the customer value warehouse. `cvw <command> --help` for each command.

The Airflow DAG calls the same functions (cvw.pipeline), so a run from here equals a DAG run.

Errors: every command fails with ONE line on stderr, `cvw <command>: error: <what and what to do>`, and exit
code 1 (2 for a usage error, 130 when interrupted). Problems a user can act on (cvw.errors.USER_ERRORS) are
printed as they are; anything else as its type and message, with a pointer to `cvw --verbose <command>`, which
also prints the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from datetime import date
from pathlib import Path

from cvw import settings as settings_mod


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _full_refresh_flag(parser) -> None:
    parser.add_argument(
        "--full-refresh", action="store_true",
        help="re-validate every fact from raw instead of only the rows that arrived since the last build (the "
        "same tables, slower; a changed dbt project or var makes the build a full refresh by itself)",
    )


def cmd_generate(args) -> int:
    from cvw.generate import generate

    summary = generate(
        Path(args.out), customers=args.customers, days=args.days, seed=args.seed,
        end_date=args.end_date, bad_rows_rate=args.bad_rows_rate,
    )
    _print(summary)
    return 0


def cmd_import_transactions(args) -> int:
    from cvw.importer import import_transactions

    summary = import_transactions(
        Path(args.file), Path(args.out), customer_col=args.customer_col, date_col=args.date_col,
        amount_col=args.amount_col, quantity_col=args.quantity_col, date_format=args.date_format,
        delimiter=args.delimiter, header=not args.no_header,
        columns=args.columns.split(",") if args.columns else None,
    )
    _print(summary)
    return 0


def cmd_ingest(args, s) -> int:
    from cvw.ingest import ingest_landing

    _print(ingest_landing(s).as_dict())
    return 0


def cmd_build(args, s) -> int:
    from cvw.pipeline import step_build

    _print(step_build(s, args.as_of, full_refresh=args.full_refresh))
    return 0


def cmd_gate(args, s) -> int:
    from cvw.pipeline import new_run_id, step_gate

    _print(step_gate(s, args.as_of, new_run_id(args.as_of)))
    return 0


def cmd_run(args, s) -> int:
    from cvw.pipeline import run

    _print(run(s, args.as_of, full_refresh=args.full_refresh))
    return 0


def cmd_backfill(args, s) -> int:
    from cvw.pipeline import backfill

    _print(backfill(s, args.from_date, args.to_date, keep_going=args.keep_going,
                    full_refresh=args.full_refresh))
    return 0


def cmd_status(args, s) -> int:
    """Print the published tables with row counts, the publish log and the row accounting."""
    from cvw.report import status_text

    print(status_text(s))
    return 0


def cmd_report(args, s) -> int:
    """(Re)write the run report of D (default: the current published date) and print where it is."""
    from cvw.run_report import current_date, write_report

    _print(write_report(s, args.as_of or current_date(s)))
    return 0


def cmd_docs(args, s) -> int:
    from cvw.model_docs import write_docs
    from cvw.run_report import current_date

    _print(write_docs(s, args.as_of or current_date(s)))
    return 0


def cmd_explain_audience(args, s) -> int:
    from cvw.audience import explain_audience

    print(explain_audience(s, args.customer, args.as_of))
    return 0


def cmd_quarantine(args, s) -> int:
    from cvw.report import problem_rows

    print(problem_rows(s, limit=args.limit))
    return 0


def cmd_expectations(args) -> int:
    from cvw.gate.export import export_suites

    for path in export_suites(Path(args.out)):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cvw",
        description="Customer value warehouse: ingest landing files, build with dbt, gate with Great "
        "Expectations, publish to analytics. Paths come from CVW_* environment variables (see README).",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="write a synthetic landing data set with ground truth")
    g.add_argument("--customers", type=int, default=2000, help="number of customers (default 2000)")
    g.add_argument("--days", type=int, default=730, help="days of history ending on --end-date (default 730)")
    g.add_argument("--seed", type=int, default=42, help="random seed; same seed, same files (default 42)")
    g.add_argument("--end-date", type=_date, default=date(2025, 12, 31), help="last day (default 2025-12-31)")
    g.add_argument("--bad-rows-rate", type=float, default=0.0, help="rate of each bad-row kind (default 0)")
    g.add_argument("--out", required=True, help="landing folder to write (one folder per entity)")
    g.set_defaults(func=cmd_generate, needs_settings=False)

    t = sub.add_parser("import-transactions", help="turn a plain transaction log into landing files")
    t.add_argument("file", help="the transaction log (CSV or whitespace-separated)")
    t.add_argument("--out", required=True, help="landing folder to write")
    t.add_argument("--customer-col", required=True, help="customer id column")
    t.add_argument("--date-col", required=True, help="transaction date column")
    t.add_argument("--amount-col", required=True, help="amount column (revenue of the transaction)")
    t.add_argument("--quantity-col", help="quantity column (default: 1 per transaction)")
    t.add_argument("--date-format", help="strptime format of the date column, e.g. %%Y%%m%%d")
    t.add_argument("--delimiter", help="field delimiter (default: sniffed; use ' ' for whitespace)")
    t.add_argument("--no-header", action="store_true", help="the file has no header row (give --columns)")
    t.add_argument("--columns", help="comma-separated column names when the file has no header")
    t.set_defaults(func=cmd_import_transactions, needs_settings=False)

    i = sub.add_parser("ingest", help="load new landing files into raw (idempotent)")
    i.set_defaults(func=cmd_ingest)

    b = sub.add_parser(
        "build", help="dbt build (models + tests) into the audit area for --as-of, with the CLV fit in between"
    )
    b.add_argument("--as-of", type=_date, required=True, help="as-of date D (YYYY-MM-DD)")
    _full_refresh_flag(b)
    b.set_defaults(func=cmd_build)

    q = sub.add_parser("gate", help="run the Great Expectations publish gate on the audit marts")
    q.add_argument("--as-of", type=_date, required=True, help="as-of date D (YYYY-MM-DD)")
    q.set_defaults(func=cmd_gate)

    r = sub.add_parser("run", help="ingest -> build -> gate -> publish for one as-of date")
    r.add_argument("--as-of", type=_date, required=True, help="as-of date D (YYYY-MM-DD)")
    _full_refresh_flag(r)
    r.set_defaults(func=cmd_run)

    bf = sub.add_parser(
        "backfill",
        help="run every date of a range, oldest first, exactly as the nightly run of that date",
        description="Ingest new landing files once, then build, gate and publish each date from --from to --to "
        "(inclusive, oldest first). A date older than the current publish fills its history and publish_log "
        "row and never replaces the current analytics tables. Progress is logged per date; a failed date "
        "stops the backfill (see --keep-going) and can be re-run alone with `cvw run --as-of D`.",
    )
    bf.add_argument("--from", dest="from_date", type=_date, required=True, help="first as-of date (YYYY-MM-DD)")
    bf.add_argument("--to", dest="to_date", type=_date, required=True, help="last as-of date, inclusive")
    bf.add_argument("--keep-going", action="store_true", help="go on past a failed date; list failures at the end")
    _full_refresh_flag(bf)
    bf.set_defaults(func=cmd_backfill)

    st = sub.add_parser("status", help="published tables, row counts, publish log and row accounting")
    st.set_defaults(func=cmd_status)

    rp = sub.add_parser(
        "report", help="(re)write the run report of a published date: reports/<D>/index.html",
        description="Write $CVW_HOME/reports/<D>/index.html from what was published for D: KPIs, the key "
        "pictures (Pareto curve, deciles, RFM grid, RAD x value tier, lifecycle, wallet headroom, CLV, campaign "
        "audience), row accounting, gate results and seconds per stage. One self-contained file that opens "
        "offline. Every publish writes it; this command rewrites it (e.g. after `cvw docs`, to link the docs).",
    )
    rp.add_argument("--as-of", type=_date, default=None,
                    help="a published as-of date (YYYY-MM-DD; default: the current published date)")
    rp.set_defaults(func=cmd_report)

    dc = sub.add_parser(
        "docs", help="write dbt's model docs (one static file): reports/docs/index.html",
        description="Run `dbt docs generate --static` for the project and copy the one-file site to "
        "$CVW_HOME/reports/docs/index.html: every model and column with its description, tests, lineage and the "
        "exposures (run report, activation files). Opens offline. Run reports written after it link to it.",
    )
    dc.add_argument("--as-of", type=_date, default=None,
                    help="as-of date the models compile for (default: the current published date)")
    dc.set_defaults(func=cmd_docs)

    ex = sub.add_parser(
        "explain-audience",
        help="why a customer is (not) in today's campaign audience: events, scores, offer, channel, priority",
        description="Print one customer's scores, the events that fired for them, the next-best offer, the chosen "
        "channel and priority, and, for a suppressed event, the rule that suppressed it and the past contacts "
        "behind it. Reads the published analytics tables (what the marketing team sees).",
    )
    ex.add_argument("--customer", required=True, help="customer_id")
    ex.add_argument("--as-of", type=_date, default=None,
                    help="as-of date (YYYY-MM-DD); must be the current published date (default: that date)")
    ex.set_defaults(func=cmd_explain_audience)

    qu = sub.add_parser("quarantine", help="show quarantined and rejected rows with their reasons")
    qu.add_argument("--limit", type=int, default=20, help="rows per list (default 20)")
    qu.set_defaults(func=cmd_quarantine)

    e = sub.add_parser("expectations", help="export the GX suites (code) to expectations/*.json")
    e.add_argument("--out", default=str(settings_mod.EXPECTATIONS_DIR), help="folder (default expectations/)")
    e.set_defaults(func=cmd_expectations, needs_settings=False)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # log to this command's stderr for its duration (a process that calls main() twice, like a test, gets no
    # handler left behind on a stream that is gone)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    for noisy in ("great_expectations", "py4j", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return _run(args)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _run(args) -> int:
    """Run the parsed command: one line on stderr for any failure (see the module docstring)."""
    from cvw.errors import USER_ERRORS
    from cvw.landing import one_line

    try:
        if getattr(args, "needs_settings", True):
            return args.func(args, settings_mod.load())
        return args.func(args)
    except KeyboardInterrupt:
        print(f"cvw {args.command}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"cvw {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except Exception as exc:  # not foreseen: still one line, the traceback on request
        if args.verbose:
            traceback.print_exc()
        hint = "" if args.verbose else f" (`cvw --verbose {args.command} ...` shows the traceback)"
        print(f"cvw {args.command}: error: {type(exc).__name__}: {one_line(exc)}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
