"""`make bi` (issue 17): Superset in its own virtualenv, started by bi/launch.py (make bi's code path) on a free
loopback port over a copy of the generated nights, with the "Customer value" dashboard provisioned from
bi/customer_value.yml. Login is required; every chart's data, fetched by id through the chart-data API,
equals SQL on the published file (written here from other tables where the data allows); the system Chromium
logs in and sees every chart drawn with no error and no request leaving the machine; a later publish shows
up without a restart, and dashboard queries during it neither fail nor block it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import timedelta

import pytest
import requests
import yaml
from cvw.browser import LOCAL_SCHEMES, chromium_path
from cvw.pipeline import run

from tests.helpers import GENERATED_END, REPO, private_copy, query

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

BI_PYTHON = os.environ.get("CVW_BI_PYTHON") or str(REPO / ".venv-bi" / "bin" / "python")
SPEC = yaml.safe_load((REPO / "bi" / "customer_value.yml").read_text())
LAYOUT = {d["slug"]: [name for row in d["layout"] for name, _ in row] for d in SPEC["dashboards"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def bi(generated_nights, tmp_path_factory):
    s, summaries = generated_nights
    s = private_copy(s, tmp_path_factory.mktemp("bi") / "home")
    password = secrets.token_urlsafe(12)
    env = {**os.environ, "CVW_HOME": str(s.home), "CVW_BI_PORT": str(_free_port()), "CVW_BI_ADMIN_PASSWORD": password}
    env.pop("CVW_PUBLISH_DIR", None)
    ready_file = s.home / "bi" / "ready.json"
    log = open(s.home / "launch.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([BI_PYTHON, str(REPO / "bi" / "launch.py")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    ready = None
    try:
        deadline = time.monotonic() + 420
        while ready is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"bi/launch.py exited ({proc.returncode}):\n{(s.home / 'launch.log').read_text()[-3000:]}")
            if ready_file.exists():
                ready = json.loads(ready_file.read_text())
            time.sleep(1)
        assert ready, (s.home / "launch.log").read_text()[-3000:]
        yield s, summaries, ready, password
    finally:
        _kill_group(proc.pid)  # launch.py stops its server on SIGTERM
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        if ready:
            _kill_group(ready["server_pid"])
        log.close()


def _session(ready: dict, password: str) -> requests.Session:
    sess = requests.Session()
    r = sess.post(f"{ready['url']}/api/v1/security/login", timeout=30,
                  json={"username": "admin", "password": password, "provider": "db", "refresh": True})
    r.raise_for_status()
    sess.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return sess


def _data(sess: requests.Session, ready: dict, chart: str) -> list[dict]:
    r = sess.get(f"{ready['url']}/api/v1/chart/{ready['charts'][chart]}/data/", timeout=60)
    r.raise_for_status()
    result = r.json()["result"][0]
    assert result["status"] == "success" and not result["error"], (chart, result)
    return result["data"]


def _context(sess: requests.Session, ready: dict, chart: str) -> dict:
    """The query saved with a chart."""
    r = sess.get(f"{ready['url']}/api/v1/chart/{ready['charts'][chart]}", timeout=30)
    r.raise_for_status()
    return json.loads(r.json()["result"]["query_context"])


def _filtered(sess: requests.Session, ready: dict, chart: str, column: str, values: list) -> list[dict]:
    """A chart's data with a filter on `column`, as a dashboard's native filter adds it to the saved query."""
    context = _context(sess, ready, chart)
    context["queries"][0]["filters"] = [{"col": column, "op": "IN", "val": values}]
    csrf = sess.get(f"{ready['url']}/api/v1/security/csrf_token/", timeout=30).json()["result"]
    r = sess.post(f"{ready['url']}/api/v1/chart/data", json=context, timeout=60,
                  headers={"X-CSRFToken": csrf, "Referer": ready["url"]})
    r.raise_for_status()
    result = r.json()["result"][0]
    assert result["status"] == "success" and not result["error"], (chart, result)
    return result["data"]


def _pairs(rows: list[dict], *keys: str) -> dict:
    """{(dims...): value} of chart rows, the last key being the value."""
    *dims, value = keys
    return {tuple(r[d] for d in dims): r[value] for r in rows}


def test_logging_in_is_required(bi):
    _, _, ready, password = bi
    chart = ready["charts"]["RFM grid (customers)"]
    assert requests.get(f"{ready['url']}/api/v1/chart/{chart}/data/", timeout=30).status_code == 401
    page = requests.get(ready["dashboard_url"], timeout=30)
    assert "/login" in page.url  # sent to the login page
    bad = requests.post(f"{ready['url']}/api/v1/security/login", timeout=30,
                        json={"username": "admin", "password": password + "x", "provider": "db"})
    assert bad.status_code == 401


def test_every_chart_holds_the_numbers_sql_gives_on_the_published_file(bi):
    s, summaries, ready, password = bi
    sess = _session(ready, password)
    db = s.analytics_db
    assert set(ready["charts"]) == set(SPEC["charts"])

    def sql(text: str) -> dict:
        return {tuple(r[:-1]): r[-1] for r in query(db, text)}

    def close(got: dict, expected: dict) -> None:
        assert set(got) == set(expected)
        assert {k: float(v) for k, v in got.items()} == pytest.approx({k: float(v) for k, v in expected.items()})

    # the RFM grid from customer_rfm (the chart counts customer_segments)
    assert _pairs(_data(sess, ready, "RFM grid (customers)"), "r_score", "fm_score", "customers") == sql(
        "select r_score, fm_score, count(*) from analytics.customer_rfm group by all")
    close(_pairs(_data(sess, ready, "RFM grid (revenue 365d)"), "r_score", "fm_score", "revenue 365d"), sql(
        "select r_score, fm_score, sum(revenue_365d) from analytics.customer_rfm group by all"))
    # deciles (the chart reads purchase_decile_summary) from the customers themselves
    rows = _data(sess, ready, "Revenue and profit by purchase decile")
    close(_pairs(rows, "purchase_decile", "revenue 365d"), sql(
        "select purchase_decile, sum(revenue_365d) from analytics.customer_segments "
        "where purchase_decile is not null group by 1"))
    close(_pairs(rows, "purchase_decile", "profit 365d"), sql(
        "select purchase_decile, sum(profit_contribution_365d) from analytics.customer_segments "
        "where purchase_decile is not null group by 1"))
    gini, top = query(db, "select gini_profit, top_profit_share from analytics.pareto_summary")[0]
    assert _data(sess, ready, "Gini of profit")[0]["Gini"] == pytest.approx(gini)
    assert _data(sess, ready, "Profit share of the top 20%")[0]["Top 20% share"] == pytest.approx(top)
    curve = _pairs(_data(sess, ready, "Pareto curve of profit"), "customer_share_pct", "cumulative profit share (%)")
    assert curve[(20,)] == pytest.approx(100 * top) and curve[(100,)] == pytest.approx(100)
    assert _pairs(_data(sess, ready, "RAD strategy by value tier"), "rad_strategy", "value_tier", "customers") == sql(
        "select rad_strategy, value_tier, count(*) from analytics.customer_segments group by all")
    assert _pairs(_data(sess, ready, "Lifecycle stages"), "lifecycle_stage", "customers") == sql(
        "select lifecycle_stage, count(*) from analytics.customer_segments group by all")
    transitions = _pairs(_data(sess, ready, "Lifecycle transitions since the previous date"), "from_stage",
                         "to_stage", "customers")
    assert transitions == sql("select from_stage, to_stage, sum(customers) from analytics.lifecycle_transitions "
                              "group by all")
    close(_pairs(_data(sess, ready, "Wallet headroom by category and method"), "category", "wallet_method",
                 "wallet headroom"), sql(
        "select category, wallet_method, sum(wallet_headroom) from analytics.customer_wallet "
        "where wallet_method <> 'none' group by all"))
    close(_pairs(_data(sess, ready, "CLV by value tier"), "value_tier", "CLV 12 months"), sql(
        "select value_tier, sum(clv_12m) from analytics.customer_segments group by all"))
    # the audience per channel equals the activation files the publish wrote (counted from the files)
    audience = _data(sess, ready, "Campaign audience by event and channel")
    per_channel = Counter()
    for r in audience:
        per_channel[r["channel"]] += r["eligible contacts"]
    assert dict(per_channel) == {c: n for c, n in summaries[-1]["summary"]["activation_rows"].items() if n}
    assert _pairs(_data(sess, ready, "Suppression reasons"), "suppression_reason", "customer x event") == sql(
        "select suppression_reason, count(*) from analytics.campaign_audience where not is_eligible group by all")
    fresh = _data(sess, ready, "Freshness")
    summary = json.loads(query(db, "select run_summary from analytics.publish_log where is_current")[0][0])
    assert len(fresh) == 1 and fresh[0]["gate_result"] == "passed" and fresh[0]["gate_failed"] == 0
    assert (fresh[0]["rows_quarantined"], fresh[0]["rows_rejected"]) == (summary["rows_quarantined"],
                                                                         summary["rows_rejected"])


def _colours(png) -> int:
    """Distinct colours in a screenshot: a blank page or a lone spinner has a handful, drawn charts hundreds."""
    import numpy as np
    from matplotlib import image

    pixels = (image.imread(png)[..., :3] * 255).astype("uint8").reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def _logged_in_page(browser, ready: dict, password: str, blocked: list):
    """A Chromium page logged in as admin; any request leaving the machine is refused and kept in `blocked`."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((ready["url"], *LOCAL_SCHEMES))
               else (blocked.append(r.request.url), r.abort()))
    page.goto(f"{ready['url']}/login/")
    page.fill("input#username", "admin")
    page.fill("input#password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)
    return page


def _open_dashboard(page, ready: dict, slug: str) -> None:
    page.goto(f"{ready['url']}/superset/dashboard/{slug}/")
    page.wait_for_function(
        f"document.querySelectorAll('.chart-container').length >= {len(LAYOUT[slug])}", timeout=120_000)
    page.wait_for_load_state("networkidle", timeout=120_000)


def test_chromium_logs_in_and_sees_every_chart_of_both_dashboards_drawn(bi, tmp_path):
    from playwright.sync_api import sync_playwright

    _, _, ready, password = bi
    blocked, console, data = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            page = _logged_in_page(browser, ready, password, blocked)
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("response", lambda r: data.append(r.status) if "/api/v1/chart/data" in r.url else None)
            drawn, errors, seconds = {}, {}, {}
            for slug in LAYOUT:  # customer-value, then customer-card
                started = time.monotonic()
                _open_dashboard(page, ready, slug)
                seconds[slug] = round(time.monotonic() - started, 1)
                errors[slug] = page.locator(".chart-container .ant-alert-error, [data-test='chart-error']").count()
                drawn[slug] = page.locator(
                    ".chart-container canvas, .chart-container table, .chart-container svg").count()
                page.screenshot(path=str(tmp_path / f"{slug}.png"), full_page=True)
        finally:
            browser.close()
    assert blocked == [] and console == [], (blocked, console)
    assert errors == {slug: 0 for slug in LAYOUT}
    assert len(data) >= sum(len(charts) for charts in LAYOUT.values()) and set(data) == {200}, data
    for slug, charts in LAYOUT.items():
        assert drawn[slug] >= len(charts), (slug, drawn)
        assert _colours(tmp_path / f"{slug}.png") > 400, slug  # a drawn page, not a blank or a spinner
    print(f"dashboards drawn in {seconds} s")


def test_choosing_a_customer_type_in_the_browser_redraws_the_charts_with_only_those_customers(bi):
    """The native filter as a user works it: click the "Customer type" box in the filter bar, pick a value,
    press "Apply filters"; every chart on customers asks again with that filter, and what the lifecycle chart
    gets back equals SQL on the published file for that customer type."""
    from playwright.sync_api import sync_playwright

    s, _, ready, password = bi
    lifecycle = ready["charts"]["Lifecycle stages"]
    asked, answers, blocked = [], {}, []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            page = _logged_in_page(browser, ready, password, blocked)
            _open_dashboard(page, ready, "customer-value")
            page.locator("[data-test='filter-bar'] .ant-select").first.click()
            option = page.locator(".ant-select-item-option").first
            chosen = option.inner_text()
            page.on("request", lambda r: asked.append(json.loads(r.post_data)) if "/api/v1/chart/data" in r.url
                    and r.method == "POST" else None)

            def on_response(r) -> None:
                if "/api/v1/chart/data" in r.url and f"slice_id%22%3A{lifecycle}%7D" in r.url:
                    answers["lifecycle"] = r

            page.on("response", on_response)
            option.click()
            page.keyboard.press("Escape")
            page.locator("[data-test='filter-bar__apply-button']").click()
            page.wait_for_load_state("networkidle", timeout=120_000)
            deadline = time.monotonic() + 60
            while "lifecycle" not in answers and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            lifecycle_data = answers["lifecycle"].json()["result"][0]["data"]
        finally:
            browser.close()
    assert blocked == []
    assert chosen in ("B2B", "B2C"), chosen
    on_customers = [name for name in LAYOUT["customer-value"] if SPEC["charts"][name]["dataset"] == "customer_segments"]
    filtered = [q for q in asked if {"col": "customer_type", "op": "IN", "val": [chosen]} in q["queries"][0]["filters"]]
    assert len(filtered) >= len(on_customers), (len(filtered), on_customers)
    got = {row["lifecycle_stage"]: row["customers"] for row in lifecycle_data}
    assert got == dict(query(s.analytics_db, "select lifecycle_stage, count(*) from analytics.customer_segments "
                                             "where customer_type = ? group by 1", [chosen]))
    assert sum(got.values()) < query(s.analytics_db, "select count(*) from analytics.customer_segments")[0][0]


def test_superset_s_metadata_db_lets_dashboard_reads_run_during_its_writes(bi):
    """bi/launch.py puts the SQLite metadata DB in WAL mode: an open's event-log and filter-state writes no longer
    hold back the other requests' reads (scripts/bench_bi.py at 1M: mean 3.00 s to 2.65 s)."""
    import sqlite3

    s, _, _, _ = bi
    with closing(sqlite3.connect(s.home / "bi" / "superset.db")) as con:
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_the_customer_card_shows_one_customer_s_next_best_action(bi):
    """customer-card: the card table for one customer id (a filter on the chart's saved query, as the
    dashboard's native filter applies it) equals that customer's row of customer_next_best_action."""
    s, _, ready, password = bi
    sess = _session(ready, password)
    assert ready["dashboards"]["customer-card"] and set(LAYOUT["customer-card"]) <= set(ready["charts"])
    columns = _context(sess, ready, "Customer card")["queries"][0]["columns"]
    top = [r["customer_id"] for r in _data(sess, ready, "Customer card")]
    assert top == [r[0] for r in query(s.analytics_db, "select customer_id from analytics.customer_next_best_action "
                                                       "order by priority desc limit 50")]
    for (customer,) in query(s.analytics_db, "select min(customer_id) from analytics.customer_next_best_action "
                                             "group by action"):
        rows = _filtered(sess, ready, "Customer card", "customer_id", [customer])
        expected = query(s.analytics_db, f"select {', '.join(columns)} from analytics.customer_next_best_action "
                                         "where customer_id = ?", [customer])
        assert len(rows) == 1 and [rows[0][c] for c in columns if c not in ("complaint_date",)] == pytest.approx(
            [v for c, v in zip(columns, expected[0], strict=True) if c not in ("complaint_date",)])
    assert _pairs(_data(sess, ready, "Inbound actions"), "action_reason", "customers") == {
        (reason,): n for reason, n in query(s.analytics_db, "select action_reason, count(*) from "
                                                            "analytics.customer_next_best_action group by 1")}


def test_applying_the_dashboard_files_again_changes_nothing(bi):
    """Provisioning is idempotent: a second apply finds every object by name and updates it in place."""
    s, _, ready, password = bi
    again = subprocess.run(
        [BI_PYTHON, str(REPO / "bi" / "provision.py"), "--url", ready["url"], "--published", ready["published"]],
        env={**os.environ, "CVW_BI_ADMIN_PASSWORD": password}, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    ids = json.loads(again.stdout)
    assert {k: ids[k] for k in ("database", "datasets", "charts", "dashboards")} == {
        k: ready[k] for k in ("database", "datasets", "charts", "dashboards")}
    sess = _session(ready, password)
    for resource, expected in (("chart", len(SPEC["charts"])), ("dashboard", len(SPEC["dashboards"])),
                               ("dataset", len(SPEC["datasets"]))):
        assert sess.get(f"{ready['url']}/api/v1/{resource}/", timeout=30).json()["count"] == expected


def test_the_customer_type_filter_narrows_the_charts_on_customers(bi):
    s, _, ready, password = bi
    sess = _session(ready, password)
    for customer_type in ("B2B", "B2C"):
        assert _pairs(_filtered(sess, ready, "RFM grid (customers)", "customer_type", [customer_type]), "r_score",
                      "fm_score", "customers") == {tuple(r[:2]): r[2] for r in query(s.analytics_db, (
                          "select r_score, fm_score, count(*) from analytics.customer_segments "
                          "where r_score is not null and customer_type = ? group by all"), [customer_type])}


def test_a_later_publish_shows_up_without_a_restart_and_queries_never_block_it(bi):
    s, _, ready, password = bi
    sess = _session(ready, password)
    before = _data(sess, ready, "Freshness")[0]["as_of_date"]
    later = GENERATED_END + timedelta(days=1)
    stop, answers, failures = threading.Event(), [], []

    def read() -> None:  # a dashboard user refreshing while the run publishes
        reader = _session(ready, password)
        while not stop.is_set():
            try:
                answers.append(_data(reader, ready, "Freshness")[0]["as_of_date"])
                _data(reader, ready, "RFM grid (customers)")
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                failures.append(repr(exc))
            time.sleep(0.1)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        summary = run(s, later)
    finally:
        time.sleep(1)
        stop.set()
        thread.join(timeout=120)
    assert summary["publish"]["replaced_current"] is True
    after = _data(sess, ready, "Freshness")[0]["as_of_date"]
    assert (before, after) == (_epoch_ms(GENERATED_END), _epoch_ms(later))  # Superset sends dates as epoch ms
    assert failures == [] and len(answers) > 10
    assert set(answers) <= {before, after}


def _epoch_ms(d) -> float:
    from datetime import datetime, timezone

    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() * 1000


@pytest.mark.parametrize("behind_proxy", ["1", None])
def test_behind_a_tls_proxy_superset_trusts_forwarded_headers_and_sends_its_cookie_only_over_tls(
        behind_proxy, monkeypatch):
    import runpy

    monkeypatch.setenv("CVW_BI_HOME", "/nonexistent")
    monkeypatch.setenv("CVW_BI_SECRET_KEY", "test")
    if behind_proxy:
        monkeypatch.setenv("CVW_BI_BEHIND_PROXY", behind_proxy)
    else:
        monkeypatch.delenv("CVW_BI_BEHIND_PROXY", raising=False)
    config = runpy.run_path(str(REPO / "bi" / "superset_config.py"))
    assert config.get("ENABLE_PROXY_FIX", False) is bool(behind_proxy)
    assert config.get("SESSION_COOKIE_SECURE", False) is bool(behind_proxy)
    assert config["SCARF_ANALYTICS"] is False and config["DATA_CACHE_CONFIG"]["CACHE_TYPE"] == "NullCache"
