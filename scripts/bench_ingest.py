"""Benchmark ingest (not a test): `cvw` ingest of a generated landing folder beside a floor measured in the
same run, DuckDB's own multi-file `read_csv` of the same files (every column as text, no line numbers, no
checks: the fastest anyone can read them, and the reader that lost rows after an unclosed quote).

Prints seconds, records and the ratio ingest / floor per entity and in total, and the peak memory of the
process. The data is generated in a child process, so the peak is ingest's own.

    python scripts/bench_ingest.py --customers 1000000 --days 730 --home /tmp/bench_ingest
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--home", type=Path, help="working folder; its landing/ is reused when present (default: temp)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import duckdb
    from cvw import settings
    from cvw.contract import ENTITIES
    from cvw.ingest import ingest_landing

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_ingest_"))
    landing = home / "landing"
    if not landing.exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cvw.cli", "generate", "--customers", str(args.customers), "--days",
                        str(args.days), "--seed", str(args.seed), "--end-date", date(2025, 12, 31).isoformat(),
                        "--out", str(landing)], check=True, stdout=subprocess.DEVNULL)
        print(f"generated {args.customers:,} customers x {args.days} days in {time.perf_counter() - t:.0f} s")
    shutil.rmtree(home / "warehouse", ignore_errors=True)
    s = settings.load(home=home, landing_dir=landing)

    # the floor: one read_csv per entity over all its files, as text, straight into a table
    floor, floor_rows = {}, {}
    con = duckdb.connect()
    for name in ENTITIES:
        files = sorted(str(f) for f in (landing / name).glob("*.csv"))
        if not files:
            continue
        t = time.perf_counter()
        listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
        con.execute(f"create table {name} as select * from read_csv({listing}, header = true, all_varchar = true, "
                    "ignore_errors = true)")
        floor[name] = time.perf_counter() - t
        floor_rows[name] = con.execute(f"select count(*) from {name}").fetchall()[0][0]
    con.close()

    t = time.perf_counter()
    result = ingest_landing(s)
    total = time.perf_counter() - t
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2

    print(f"{'entity':>22} {'records':>11} {'floor s':>8}")
    for name in floor:
        print(f"{name:>22} {result.file_records.get(name, 0):>11,} {floor[name]:>8.2f}")
    records = sum(result.file_records.values())
    print(f"ingest (cvw, {s.target}): {total:.1f} s for {result.files_loaded:,} files, {records:,} records "
          f"({records / total / 1e6:.2f} M records/s); quarantined {sum(result.rows_quarantined.values()):,}")
    print(f"floor (DuckDB read_csv, all text, no checks): {sum(floor.values()):.1f} s, "
          f"{sum(floor_rows.values()):,} rows")
    print(f"ratio ingest / floor: {total / sum(floor.values()):.2f}   peak RSS {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
