"""The run report and the model docs (issue 17): every publish writes reports/<D>/index.html; its numbers equal
SQL on the published tables (computed here from other tables or columns than the report reads where the data
allows); it is byte-identical when rewritten; it and `cvw docs`' site open in the system Chromium, headless,
with every request that would leave the machine blocked, and show no console error and no failed request."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from cvw.browser import check_page
from cvw.model_docs import write_docs
from cvw.run_report import (
    FIGURES,
    NotPublishedError,
    Report,
    read_data,
    render,
    report_path,
    write_report,
)

from tests.helpers import GENERATED_END, GENERATED_NIGHTS, private_copy, query

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


@pytest.fixture(scope="module")
def nights(generated_nights, tmp_path_factory):
    """A private copy of the generated nights (this module rewrites reports and writes the docs)."""
    s, summaries = generated_nights
    return private_copy(s, tmp_path_factory.mktemp("report") / "home"), summaries


def test_every_publish_writes_a_report_whose_numbers_equal_the_published_tables(nights):
    s, summaries = nights
    for night, summary in zip(GENERATED_NIGHTS, summaries, strict=True):
        assert summary["report"]["path"].endswith(f"/reports/{night}/index.html")
        assert report_path(s, night).exists()
    data = read_data(report_path(s, GENERATED_END))
    db = s.analytics_db
    assert data["as_of_date"] == GENERATED_END.isoformat() and data["current"] is True
    assert set(data["figures"]) == {f.name for f in FIGURES}
    assert all(data["figures"][f.name] for f in FIGURES), "every picture has rows on generated data"

    customers, buyers, revenue, profit = query(db, (
        "select count(*), count(purchase_decile), sum(revenue_365d), sum(profit_contribution_365d) "
        "from analytics.customer_segments"))[0]
    k = data["kpis"]
    assert (k["customers"], k["buyers_365d"]) == (customers, buyers)
    assert (Decimal(k["revenue_365d"]), Decimal(k["profit_365d"])) == (revenue, profit)
    gini, top = query(db, "select gini_profit, top_profit_share from analytics.pareto_summary")[0]
    assert (k["gini_profit"], k["top_profit_share"]) == (pytest.approx(gini), pytest.approx(top))

    # deciles (the report reads purchase_decile_summary) from the customers themselves
    assert [(r["purchase_decile"], r["customers"], Decimal(r["revenue_365d"]), Decimal(r["profit_contribution_365d"]))
            for r in data["figures"]["deciles"]] == query(db, (
                "select purchase_decile, count(*), sum(revenue_365d), sum(profit_contribution_365d) "
                "from analytics.customer_segments where purchase_decile is not null group by 1 order by 1"))
    # the Lorenz curve in 5% steps: its 4th step ends where pareto_summary's top 20% does
    lorenz = data["figures"]["lorenz"]
    assert [r["step"] for r in lorenz] == list(range(1, 21)) and lorenz[-1]["cumulative_profit_share"] == 1.0
    assert lorenz[3]["cumulative_profit_share"] == pytest.approx(top, rel=1e-12)
    assert sum(r["customers"] for r in lorenz[:4]) == query(db, "select top_customers from analytics.pareto_summary")[0][0]
    # the RFM grid (the report counts customer_segments) from customer_rfm
    assert [(r["r_score"], r["fm_score"], r["customers"]) for r in data["figures"]["rfm_grid"]] == query(
        db, "select r_score, fm_score, count(*) from analytics.customer_rfm group by all order by all")
    assert sum(Decimal(r["revenue_365d"]) for r in data["figures"]["rfm_revenue"]) == query(
        db, "select sum(revenue_365d) from analytics.customer_rfm")[0][0]
    assert sum(r["customers"] for r in data["figures"]["rad_tier"]) == customers
    assert {r["value_tier"]: Decimal(str(r["clv_12m"])) for r in data["figures"]["clv_tier"]} == pytest.approx(
        {t: Decimal(str(v)) for t, v in query(
            db, "select value_tier, sum(clv_12m) from analytics.customer_segments group by 1")})
    # transitions: everyone of the previous date, once
    assert sum(r["customers"] for r in data["figures"]["lifecycle_transitions"]) == query(
        db, "select sum(customers) from analytics.lifecycle_transitions")[0][0]
    assert {r["from_as_of_date"] for r in data["figures"]["lifecycle_transitions"]} == {str(GENERATED_NIGHTS[0])}
    # wallet headroom per category
    headroom = Counter()
    for r in data["figures"]["wallet_headroom"]:
        headroom[r["category"]] += Decimal(r["wallet_headroom"])
    assert dict(headroom) == dict(query(db, (
        "select category, sum(wallet_headroom) from analytics.customer_wallet where wallet_method <> 'none' "
        "group by 1")))
    # the wallet model's held-out error per category and customer type, and the KPI, as published
    errors = {(c, k): e for c, k, e in query(db, (
        "select category, customer_type, mdape_leave_survey_out from analytics.wallet_model_fit "
        "where category <> 'all' and customer_type <> 'all' and surveys > 0"))}
    assert {(r["category"], r["customer_type"]): r["mdape_leave_survey_out"]
            for r in data["figures"]["wallet_model"]} == pytest.approx(errors, rel=1e-12)
    assert len(errors) >= 8
    assert data["kpis"]["wallet_model_error"] == pytest.approx(query(db, (
        "select mdape_leave_survey_out from analytics.wallet_model_fit where category = 'all' "
        "and customer_type = 'all'"))[0][0], rel=1e-12)
    # the audience per channel equals the activation files written by the publish (counted from the files)
    per_channel = Counter()
    for r in data["figures"]["audience"]:
        per_channel[r["channel"]] += r["customers"]
    assert dict(per_channel) == {c: n for c, n in summaries[-1]["summary"]["activation_rows"].items() if n}
    suppressed = sum(r["customer_events"] for r in data["figures"]["suppression"])
    assert suppressed + sum(per_channel.values()) == query(db, "select count(*) from analytics.campaign_audience")[0][0]

    # the run: its log row, the row accounting of the warehouse it built, the gate
    log_row = query(db, "select run_id, gate_checks, run_summary from analytics.publish_log where is_current")[0]
    assert data["run_id"] == log_row[0]
    assert data["summary"] == json.loads(log_row[2])
    loaded, accepted, quarantined, rejected = query(s.warehouse, (
        "select sum(file_rows), sum(accepted_rows), sum(quarantined_rows), sum(rejected_rows) "
        "from audit.row_accounting"))[0]
    assert (data["summary"]["rows_loaded"], data["summary"]["rows_accepted"], data["summary"]["rows_quarantined"],
            data["summary"]["rows_rejected"]) == (loaded, accepted, quarantined, rejected)
    assert set(data["summary"]["seconds"]) >= {"ingest", "dbt_core", "clv", "dbt_value", "gate"}
    page = report_path(s, GENERATED_END).read_text()
    assert f"passed ({log_row[1]} checks, 0 failed)" in page

    # rewriting gives the same bytes (fixed SVG ids, no render time)
    before = report_path(s, GENERATED_END).read_bytes()
    write_report(s, GENERATED_END)
    assert report_path(s, GENERATED_END).read_bytes() == before


def test_an_older_date_draws_what_its_history_keeps_and_an_unpublished_date_is_refused(nights):
    s, _ = nights
    older = GENERATED_NIGHTS[0]
    out = write_report(s, older)  # written as the current publish that night; now it is history
    data = read_data(report_path(s, older))
    assert data["current"] is False
    assert set(out["figures"]) == {f.name for f in FIGURES if f.history} == set(data["figures"])
    assert [(r["r_score"], r["fm_score"], r["customers"]) for r in data["figures"]["rfm_grid"]] == query(
        s.analytics_db, "select r_score, fm_score, count(*) from analytics.customer_segments_history "
        "where as_of_date = ? and r_score is not null group by all order by all", [older])
    page = report_path(s, older).read_text()
    assert page.count('class="missing"') == len(FIGURES) - len(data["figures"])
    with pytest.raises(NotPublishedError, match="never published"):
        write_report(s, date(2020, 1, 1))


def test_the_report_and_the_model_docs_open_offline_in_chromium(nights, tmp_path):
    s, _ = nights
    docs = write_docs(s, GENERATED_END)
    check = check_page(docs["path"], selectors=('[data-nav-unique-id^="model.cvw."]',),
                       wait_for='[data-nav-unique-id^="model.cvw."]', screenshot=tmp_path / "docs.png")
    assert check.clean, check
    assert check.counts['[data-nav-unique-id^="model.cvw."]'] >= 19  # the published models, in the nav
    assert (tmp_path / "docs.png").stat().st_size > 10_000

    write_report(s, GENERATED_END)  # now it links the docs
    page = report_path(s, GENERATED_END)
    check = check_page(page, selectors=("figure svg", "figure.missing", 'a[href$="docs/index.html"]'),
                       screenshot=tmp_path / "report.png")
    assert check.clean, check
    assert check.counts == {"figure svg": len(FIGURES), "figure.missing": 0, 'a[href$="docs/index.html"]': 1}
    assert check.title == f"Customer value, as of {GENERATED_END}: run report"
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_file_content_in_a_report_is_text_never_markup_or_code(tmp_path):
    """Names come from landing files (categories, reasons): in the page they are escaped text, in the JSON block
    they cannot end the block, and matplotlib does not read `$...$` in them as math."""
    hostile = "</script><script>document.title='owned'</script>$x^2$ <b>"
    report = Report(as_of=date(2025, 1, 3), current=False, log_row={
        "run_id": hostile, "published_at": "2025-01-04 00:00:00", "gate_result": "passed", "gate_checks": 1,
        "gate_failed": 0, "row_counts": "{}", "run_summary": "{}", "is_current": False,
    }, kpis={"customers": 1}, figures={
        "rfm_grid": [{"r_score": 5, "fm_score": 5, "customers": 3}],
        "rad_tier": [{"rad_strategy": hostile, "value_tier": "A", "customers": 2}],
        "lifecycle_stages": [{"lifecycle_stage": hostile, "customers": 2}],
        "clv_tier": [],
    })
    path = tmp_path / "index.html"
    path.write_text(render(report))
    assert read_data(path)["figures"]["rad_tier"][0]["rad_strategy"] == hostile
    assert read_data(path)["run_id"] == hostile
    assert "<script>document" not in path.read_text()
    check = check_page(path, selectors=("figure svg", "b"))
    assert check.clean, check
    assert check.title == "Customer value, as of 2025-01-03: run report"
    assert check.counts == {"figure svg": 4, "b": 0}


def test_the_gx_data_docs_open_offline_with_every_validation_result(nights, tmp_path):
    """GX renders its pages with Bootstrap, jQuery, bootstrap-table, Vega... from CDNs and a logo from a cloud
    bucket (with the data context id): the gate vendors them into the site and rewrites what it rendered."""
    import re

    from cvw.gate.runner import data_docs_index

    s, _ = nights
    index = data_docs_index(s)
    site = index.parent
    pages = sorted(site.rglob("*.html"))
    loads_from_outside = re.compile(r'(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc)="(?:https?:)?//')
    assert len(pages) > 19 and not [p for p in pages if loads_from_outside.search(p.read_text())]
    assert "amazonaws" not in "".join(p.read_text() for p in site.glob("static/styles/*.css"))

    check = check_page(index, selectors=("table tbody tr", "img"), screenshot=tmp_path / "index.png")
    assert check.clean, check
    assert check.counts["table tbody tr"] >= 10  # the validation results, as a table (10 per page)
    latest = max((p for p in pages if "validations" in p.parts), key=lambda p: p.stat().st_mtime)
    check = check_page(latest, selectors=("table tbody tr",))
    assert check.clean, check
    assert check.counts["table tbody tr"] > 0

    page = report_path(s, GENERATED_END).read_text()  # the run report links this index
    assert 'href="../../gx/gx/uncommitted/data_docs/local_site/index.html"' in page
