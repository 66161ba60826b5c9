"""Learned campaign response rates (SPEC 4.11) against the generator's ground truth. On 5,000 generated
customers over two years, `int_campaign_response_rates` ranks the (customer_type x event_type x channel) cells
the way the true response rates do (Spearman rho >= 0.8), every true cell is learned from contacts, and the
loop is closed in time: a build for D learns from exactly the event contacts dated on or before D, counted
here from the landing files by their campaign code suffix (`CMP-<monday>-<code>`)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.helpers import make_settings, query

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

END = date(2025, 6, 30)
EARLY = END - timedelta(days=60)
CUSTOMERS, DAYS, SEED = 5000, 730, 7
MIN_SPEARMAN = 0.8
KEY = ["customer_type", "event_type", "channel"]


def _learned(settings):
    import pandas as pd

    rows = query(
        settings.warehouse,
        "select customer_type, event_type, channel, contacts, responses, response_rate, as_of_date "
        "from intermediate.int_campaign_response_rates order by customer_type, event_type, channel",
    )
    return pd.DataFrame(rows, columns=[*KEY, "contacts", "responses", "response_rate", "as_of_date"])


def _event_contacts_from_landing(landing, codes: list[str], as_of: date) -> tuple[int, int]:
    """(contacts, responses) of the landed marketing contacts of an event campaign dated on or before D:
    straight from the CSV files, the campaign type read from the campaign id's code suffix."""
    import duckdb

    with duckdb.connect() as con:
        contacts, responses = con.execute(
            "select count(*), count(*) filter (where lower(responded) = 'true') "
            "from read_csv(?, all_varchar = true, header = true) "
            "where cast(cast(contact_ts as timestamp) as date) <= ? "
            "and list_contains(?, split_part(campaign_id, '-', 3))",
            [str(landing / "marketing_contacts" / "*.csv"), as_of, codes],
        ).fetchone()
    return int(contacts), int(responses)


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory):
    """Generated data ingested and built for END; the learned rates read right after (the second test
    rebuilds the same warehouse for an earlier date)."""
    import pandas as pd
    from cvw.generate import generate
    from cvw.pipeline import new_run_id, step_build, step_ingest

    home = tmp_path_factory.mktemp("response_learning")
    generate(home / "landing", customers=CUSTOMERS, days=DAYS, seed=SEED, end_date=END)
    s = make_settings(home)
    step_ingest(s, new_run_id(END))
    step_build(s, END)
    params = json.loads((home / "landing" / "_ground_truth" / "params.json").read_text())
    truth = pd.DataFrame(params["response_rates"]).rename(
        columns={"segment": "customer_type", "campaign_type": "event_type"}
    )
    return s, truth, _learned(s)


def test_learned_rates_rank_like_the_true_rates(learned_run):
    from scipy.stats import spearmanr

    _, truth, learned = learned_run
    assert (learned["as_of_date"] == END).all()
    assert not learned.duplicated(KEY).any()
    events = truth[truth["event_type"] != "newsletter"]  # a newsletter is not an event: nothing learns it
    cells = events.merge(learned, on=KEY, how="left", validate="one_to_one")
    missing = cells[cells["contacts"].isna()][KEY].to_records(index=False).tolist()
    assert not missing, f"truth cells missing from int_campaign_response_rates: {missing}"
    unlearned = cells[cells["contacts"] <= 0][KEY].to_records(index=False).tolist()
    assert not unlearned, f"truth cells learned from no contacts (only the prior): {unlearned}"

    rho = spearmanr(cells["response_rate"], cells["rate"]).statistic
    err = (cells["response_rate"] - cells["rate"]).abs()
    report = (
        f"spearman rho={rho:.3f} over {len(cells)} cells; MAE={err.mean():.4f}, max abs error={err.max():.4f}; "
        f"contacts per cell min={int(cells['contacts'].min())} median={cells['contacts'].median():.0f}"
    )
    print(f"\nresponse learning: {report}")
    print(
        cells.sort_values("rate")[[*KEY, "contacts", "responses", "rate", "response_rate"]].to_string(index=False)
    )
    assert len(cells) == 36  # 2 segments x 5 event campaign types x 4 channels, no B2B birthday
    assert rho >= MIN_SPEARMAN, report


def test_a_build_for_d_learns_from_the_contacts_on_or_before_d_only(learned_run):
    from cvw.pipeline import step_build

    s, truth, at_end = learned_run
    codes = sorted(set(truth.loc[truth["event_type"] != "newsletter", "campaign_code"]))
    end_counts = _event_contacts_from_landing(s.landing_dir, codes, END)
    assert (int(at_end["contacts"].sum()), int(at_end["responses"].sum())) == end_counts

    step_build(s, EARLY)  # the same warehouse (every file already ingested), rebuilt for D = END - 60 days
    early = _learned(s)
    assert (early["as_of_date"] == EARLY).all()
    early_counts = _event_contacts_from_landing(s.landing_dir, codes, EARLY)
    assert (int(early["contacts"].sum()), int(early["responses"].sum())) == early_counts
    # the 60 days after D hold contacts the build for D must not have seen
    assert early_counts[0] < end_counts[0]
    early_cells, end_cells = early.set_index(KEY)["contacts"], at_end.set_index(KEY)["contacts"]
    assert early_cells.index.sort_values().equals(end_cells.index.sort_values())
    assert (early_cells <= end_cells.reindex(early_cells.index)).all()
