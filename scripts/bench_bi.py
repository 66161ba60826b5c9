#!/usr/bin/env python
"""How fast the "Customer value" dashboard opens (issue 17's target: every chart drawn in under 3 s at 1M
customers). Starts Superset with `bi/launch.py` (make bi's code path) over an existing CVW_HOME, logs in with
the system Chromium, opens the dashboard --runs times (the first open warms Superset's metadata caches, not
the data: the data cache is off), and prints, per open, the seconds until every chart was drawn and each
chart-data request's seconds (the slowest chart). Optionally saves a screenshot (the README's picture).

    python scripts/bench_bi.py --home /tmp/b1m --runs 3
    python scripts/bench_bi.py --home data/demo --screenshot docs/img/dashboard.png
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cvw.browser import LOCAL_SCHEMES, chromium_path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--home", type=Path, required=True, help="a CVW_HOME with a published file")
    p.add_argument("--runs", type=int, default=3, help="dashboard opens (default 3)")
    p.add_argument("--screenshot", type=Path, help="save the last open's first screen here (PNG)")
    p.add_argument("--dashboard", default="customer-value", help="slug (default customer-value; or customer-card)")
    p.add_argument("--bi-python", default=str(REPO / ".venv-bi" / "bin" / "python"), help="Superset's Python")
    args = p.parse_args(argv)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    password = secrets.token_urlsafe(12)
    env = {**os.environ, "CVW_HOME": str(args.home.resolve()), "CVW_BI_PORT": str(port),
           "CVW_BI_ADMIN_PASSWORD": password}
    ready_file = args.home / "bi" / "ready.json"
    ready_file.unlink(missing_ok=True)
    launch = subprocess.Popen([args.bi_python, str(REPO / "bi" / "launch.py")], env=env, start_new_session=True,
                              stdout=sys.stderr)
    try:
        while not ready_file.exists():
            if launch.poll() is not None:
                raise SystemExit(f"bi/launch.py exited with {launch.returncode}")
            time.sleep(1)
        ready = json.loads(ready_file.read_text())
        import yaml

        spec = yaml.safe_load((REPO / "bi" / "customer_value.yml").read_text())
        layout = next(d["layout"] for d in spec["dashboards"] if d["slug"] == args.dashboard)
        ready["dashboard_url"] = f"{ready['url']}/superset/dashboard/{args.dashboard}/"
        results = _open(ready, password, args.runs, args.screenshot, sum(len(row) for row in layout))
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGTERM)
            launch.wait(timeout=60)
    print(json.dumps({"seconds_to_ready": ready["seconds_to_ready"], "opens": results}, indent=2))
    return 0


def _open(ready: dict, password: str, runs: int, screenshot: Path | None, charts: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((ready["url"], *LOCAL_SCHEMES))
                       else r.abort())
            page.goto(f"{ready['url']}/login/")
            page.fill("input#username", "admin")
            page.fill("input#password", password)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
            names = {str(v): k for k, v in ready["charts"].items()}
            for _ in range(runs):
                sent: dict[str, float] = {}
                timings: dict[str, float] = {}

                def chart_of(request) -> str | None:
                    if "/api/v1/chart/data" in request.url and "slice_id%22%3A" in request.url:
                        chart = request.url.split("slice_id%22%3A", 1)[1].split("%7D", 1)[0]
                        return names.get(chart, chart)
                    return None

                def on_request(request, sent=sent) -> None:
                    if chart_of(request):
                        sent[chart_of(request)] = time.monotonic()

                def on_finished(request, sent=sent, timings=timings) -> None:
                    name = chart_of(request)
                    if name in sent:
                        timings[name] = time.monotonic()

                page.on("request", on_request)
                page.on("requestfinished", on_finished)
                started = time.monotonic()
                page.goto(ready["dashboard_url"])
                page.wait_for_function(f"document.querySelectorAll('.chart-container').length >= {charts}",
                                       timeout=300_000)
                page.wait_for_load_state("networkidle", timeout=300_000)
                idle = time.monotonic()
                page.remove_listener("request", on_request)
                page.remove_listener("requestfinished", on_finished)
                per_chart = {k: round(timings[k] - sent[k], 3) for k in timings}
                first_sent = min(sent.values()) if sent else started
                slowest = max(per_chart.items(), key=lambda kv: kv[1]) if per_chart else None
                out.append({
                    "seconds_page_to_idle": round(idle - started, 2),  # app boot + every chart + 500 ms of quiet
                    "seconds_first_query_to_last_chart": round(max(timings.values()) - first_sent, 2)
                    if timings else None,
                    "charts_answered": len(per_chart), "slowest_chart": slowest, "charts": per_chart,
                })
                print(f"open: {out[-1]['seconds_first_query_to_last_chart']} s from the first chart query to the "
                      f"last chart's data ({len(per_chart)} charts), {out[-1]['seconds_page_to_idle']} s page to "
                      f"idle; slowest {slowest}", file=sys.stderr)
            if screenshot:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
