#!/usr/bin/env python
"""Open a page (a run report, the model docs, the Data Docs) in the system Chromium, headless and offline,
and save a screenshot; prints what the check saw (console errors, requests blocked or failed). Exits 1 when
the page was not clean. Example (the README's picture):

    python scripts/screenshot.py data/demo/reports/2025-12-31/index.html docs/img/run_report.png --height 1500
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from cvw.browser import check_page


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("page", type=Path, help="an HTML file")
    p.add_argument("out", type=Path, help="the PNG to write")
    p.add_argument("--width", type=int, default=1400, help="viewport width in pixels (default 1400)")
    p.add_argument("--height", type=int, default=None,
                   help="only the first HEIGHT pixels of the page (default: the whole page)")
    args = p.parse_args(argv)
    check = check_page(args.page, screenshot=args.out, width=args.width, height=args.height or 900,
                       full_page=not args.height)
    print(json.dumps(asdict(check), indent=2))
    return 0 if check.clean else 1


if __name__ == "__main__":
    sys.exit(main())
