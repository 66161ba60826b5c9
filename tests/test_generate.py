"""Tests of the synthetic data generator (cvw.generate)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from cvw.contract import ENTITIES
from cvw.generate import BAD_ROW_KINDS, PARSE_FAILURE_KINDS, generate

pytestmark = pytest.mark.integration

END = date(2025, 12, 31)
SHA256_FIXTURE = Path(__file__).parent / "fixtures" / "generator_sha256.json"


VIOLATIONS = {
    "order of unknown customer": """
        select count(*) from orders where customer_id not in (select customer_id from customers)""",
    "line of unknown order": """
        select count(*) from order_lines where order_id not in (select order_id from orders)""",
    "order without lines": """
        select count(*) from orders where order_id not in (select order_id from order_lines)""",
    "quantity or price out of range": """
        select count(*) from order_lines where quantity not between 1 and 5 or unit_price <= 0""",
    "discount out of range": """
        select count(*) from order_lines
        where discount_amount < 0 or discount_amount >= quantity * unit_price""",
    "return not after / within 30 days of a completed order, or larger than its line": """
        select count(*) from returns r
        join orders o using (order_id)
        join order_lines l on l.order_id = r.order_id and l.product_id = r.product_id
        where o.status <> 'completed' or r.return_ts <= o.order_ts
            or r.return_ts > o.order_ts + interval 31 day
            or r.quantity > l.quantity or r.refund_amount > r.quantity * l.unit_price""",
    "product twice in an order (a return must identify its line)": """
        select count(*) from (
            select order_id, product_id from order_lines group by all having count(*) > 1)""",
    "B2C attributes": """
        select count(*) from customers
        where customer_type = 'B2C' and (birth_date is null or industry is not null)""",
    "B2B attributes": """
        select count(*) from customers
        where customer_type = 'B2B' and (employee_count is null or gender is not null)""",
    "unit cost not 40-80% of list price": """
        select count(*) from products
        where unit_cost < 0.4 * list_price - 0.01 or unit_cost > 0.8 * list_price + 0.01""",
    "conversion not a completed order of the customer within 14 days after a response": """
        select count(*) from marketing_contacts m
        left join orders o on o.order_id = m.converted_order_id
        where m.converted_order_id is not null and (
            not m.responded or o.customer_id is distinct from m.customer_id
            or o.status <> 'completed' or o.order_ts <= m.contact_ts
            or o.order_ts > m.contact_ts + interval 14 day)""",
}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, customers=3000, days=365, seed=11, end_date=END, bad_rows_rate=0.01)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, customers=4000, days=540, seed=5, end_date=END, bad_rows_rate=0.0)
    return out


def _read(con, root: Path, entity: str, table: str | None = None) -> None:
    """Load an entity the way ingest does: contract columns and types, rejects stored."""
    cols = ENTITIES[entity].columns
    con.execute(f"""
        CREATE TABLE {table or entity} AS
        SELECT * FROM read_csv('{root}/{entity}/*.csv', columns = {cols!r}, header = true,
                               delim = ',', quote = '"', escape = '"', auto_detect = false,
                               store_rejects = true, rejects_table = 'rej_{entity}',
                               rejects_scan = 'scan_{entity}', filename = true)""")


@pytest.fixture(scope="module")
def db(dirty, tmp_path_factory):
    """The dirty landing ingested by cvw (DuckDB's multi-file CSV reader loses rows after an unclosed quote, the
    generator's `bad_quoting` kind): one view per entity over raw, and the quarantine."""
    import duckdb
    from cvw import settings
    from cvw.ingest import ingest_landing

    s = settings.load(home=tmp_path_factory.mktemp("dirty_ingest"), landing_dir=dirty, target="duckdb")
    ingest_landing(s)
    con = duckdb.connect()
    con.execute(f"attach '{s.warehouse}' as w (read_only)")
    for e in ENTITIES:
        con.execute(f"create view {e} as select *, _source_file as filename from w.raw.{e}")
    yield con
    con.close()


@pytest.fixture(scope="module")
def bad(dirty) -> dict:
    return json.loads((dirty / "_ground_truth" / "bad_rows.json").read_text())


# --- determinism -----------------------------------------------------------------------


def test_same_seed_identical_bytes_and_different_seed_differs(tmp_path):
    kw = dict(customers=400, days=120, end_date=END, bad_rows_rate=0.02)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, seed=3, **kw)
    generate(b, seed=3, **kw)
    generate(c, seed=4, **kw)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa.keys() == fb.keys()
    assert [k for k in fa if fa[k] != fb[k]] == []
    assert "_ground_truth/params.json" in fa and "_ground_truth/customers.parquet" in fa
    same = [k for k in fa.keys() & fc.keys() if fa[k] == fc[k] and not k.startswith("products/")]
    assert fa.keys() != fc.keys() or len(same) < len(fa) // 2
    assert fa["orders/orders_2025-12-31.csv"] != fc.get("orders/orders_2025-12-31.csv")


def test_rerun_replaces_previous_output(tmp_path):
    generate(tmp_path, customers=200, days=60, seed=1, end_date=END)
    generate(tmp_path, customers=200, days=30, seed=1, end_date=END)
    first = min(p.name for p in (tmp_path / "orders").iterdir())
    assert first >= f"orders_{(END - timedelta(days=29)).isoformat()}.csv"


def _sha256(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "config",
    json.loads(SHA256_FIXTURE.read_text())["configurations"],
    ids=lambda c: "-".join(f"{k}={v}" for k, v in c["args"].items()),
)
def test_output_bytes_equal_the_recorded_sha256(tmp_path, config):
    """Every file written for a recorded configuration has the recorded SHA-256; none missing, none extra.

    The fixture was recorded from the generator before it became a package. A deliberate change of the
    generated data re-records it: the same loop over its configurations, writing ``_sha256(out)``."""
    args = dict(config["args"])
    if "end_date" in args:
        args["end_date"] = date.fromisoformat(args["end_date"])
    generate(tmp_path, **args)
    got, want = _sha256(tmp_path), config["files"]
    assert sorted(want.keys() - got.keys()) == [], "missing files"
    assert sorted(got.keys() - want.keys()) == [], "extra files"
    assert sorted(k for k in want if got[k] != want[k]) == [], "files whose bytes changed"


# --- layout ------------------------------------------------------------------------------


def test_layout_and_headers(clean):
    start = END - timedelta(days=539)
    for name, ent in ENTITIES.items():
        files = sorted((clean / name).iterdir())
        assert files, name
        for f in files:
            m = re.fullmatch(rf"{name}_(\d{{4}}-\d{{2}}-\d{{2}})\.csv", f.name)
            assert m, f.name
            assert start <= date.fromisoformat(m.group(1)) <= END
            with open(f, "rb") as fh:
                assert fh.readline().decode().rstrip("\n") == ",".join(ent.columns), f
    assert [f.name for f in (clean / "products").iterdir()] == [f"products_{start.isoformat()}.csv"]
    gt = clean / "_ground_truth"
    assert {p.name for p in gt.iterdir()} == {
        "params.json",
        "wallets.parquet",
        "customers.parquet",
        "bad_rows.json",
    }
    assert json.loads((gt / "bad_rows.json").read_text())["rows"] == []


def test_clean_data_has_no_rejects_and_keys_are_unique(clean):
    import duckdb

    start = END - timedelta(days=539)
    con = duckdb.connect()
    for name, ent in ENTITIES.items():
        _read(con, clean, name)
        assert con.execute(f"SELECT count(*) FROM rej_{name}").fetchone()[0] == 0, name
        key = ", ".join(ent.key)
        dups = con.execute(
            f"SELECT count(*) FROM (SELECT {key} FROM {name} GROUP BY ALL HAVING count(*) > 1)"
        )
        assert dups.fetchone()[0] == 0, name
        for col in ent.required:
            assert con.execute(f"SELECT count(*) FROM {name} WHERE {col} IS NULL").fetchone()[0] == 0, (
                name,
                col,
            )
        for col, values in ent.accepted_values.items():
            got = {
                r[0]
                for r in con.execute(f"SELECT DISTINCT {col} FROM {name} WHERE {col} IS NOT NULL").fetchall()
            }
            assert got <= set(values), (name, col, got)
        if ent.ts_column:  # a row is in the file of its own day (pre-window history: the first day)
            off = con.execute(f"""
                WITH t AS (SELECT {ent.ts_column} AS ts, CAST(regexp_extract(filename,
                           '(\\d{{4}}-\\d{{2}}-\\d{{2}})\\.csv$', 1) AS DATE) AS file_day FROM {name})
                SELECT count(*) FROM t WHERE CAST(ts AS DATE) <> file_day
                  AND NOT (file_day = DATE '{start}' AND ts < DATE '{start}')""")
            assert off.fetchone()[0] == 0, name
    # referential integrity and value rules on clean data: each query counts violations
    for rule, sql in VIOLATIONS.items():
        assert con.execute(sql).fetchone()[0] == 0, rule
    q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert q("SELECT max(line_number) FROM order_lines") == 4
    # cancelled share ~5%, returns ~4% of completed lines, ~5% of customers changed
    canc = q("SELECT avg((status = 'cancelled')::INT) FROM orders")
    assert 0.03 < canc < 0.07
    ret = q("""SELECT count(*) / (SELECT count(*) FROM order_lines JOIN orders USING (order_id)
               WHERE status = 'completed') FROM returns""")
    assert 0.025 < ret < 0.045  # 4% less those whose return date falls after end_date
    changed = q("SELECT count(*) FROM (SELECT customer_id FROM customers GROUP BY 1 HAVING count(*) > 1)")
    assert 0.03 * 4000 < changed < 0.07 * 4000
    b2b = q("SELECT avg((customer_type = 'B2B')::INT) FROM customers")
    assert 0.17 < b2b < 0.23
    assert q("SELECT count(DISTINCT category) FROM products") >= 8
    # consents: ~10% of customer x channel pairs have no record
    pairs = q("SELECT count(*) FROM (SELECT DISTINCT customer_id, channel FROM consents)")
    assert 0.86 < pairs / (4 * 4000) < 0.94
    assert q("SELECT count(*) FROM marketing_contacts WHERE converted_order_id IS NOT NULL") > 0
    con.close()


# --- bad rows ----------------------------------------------------------------------------


def test_bad_rows_counts(bad):
    counts = bad["counts"]
    for entity, kind in BAD_ROW_KINDS:
        assert counts[entity][kind] >= 1, (entity, kind)
    listed = Counter((r["entity"], r["kind"]) for r in bad["rows"])
    assert listed == Counter({(e, k): n for e, kinds in counts.items() for k, n in kinds.items()})


def test_ingest_quarantines_exactly_the_injected_parse_failures(db, bad, dirty):
    expected = Counter(
        (r["entity"], r["file_day"], r["kind"]) for r in bad["rows"] if r["kind"] in PARSE_FAILURE_KINDS
    )
    got = Counter()
    for entity, path, kind in db.execute("select entity, source_file, error_kind from w.quarantine.rows").fetchall():
        got[(entity, re.search(r"(\d{4}-\d{2}-\d{2})\.csv$", path).group(1), kind)] += 1
    assert got == expected
    # row accounting per entity: data lines in files = loaded + quarantined
    for e in ENTITIES:
        lines = sum(sum(1 for _ in open(p, "rb")) - 1 for p in (dirty / e).glob("*.csv"))
        loaded = db.execute(f"SELECT count(*) FROM {e}").fetchone()[0]
        assert lines == loaded + sum(n for (ent, _, _), n in expected.items() if ent == e), e


def test_business_rule_rows_are_there_exactly(db, bad):
    c = bad["counts"]
    q = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    assert q("SELECT count(*) FROM order_lines WHERE quantity < 0") == c["order_lines"]["negative_quantity"]
    assert (
        q("SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT customer_id FROM customers)")
        == c["orders"]["unknown_customer"]
    )
    assert (
        q("SELECT count(*) FROM order_lines WHERE product_id NOT IN (SELECT product_id FROM products)")
        == c["order_lines"]["unknown_product"]
    )
    assert q("SELECT count(*) - count(DISTINCT order_id) FROM orders") == c["orders"]["duplicate_key"]
    assert (
        q("SELECT count(*) - count(DISTINCT (order_id, line_number)) FROM order_lines")
        == c["order_lines"]["duplicate_key"]
    )
    # duplicates are exact copies
    assert (
        q(
            "select count(*) - count(distinct (order_id, customer_id, order_ts, channel, status, updated_at))"
            " from orders"
        )
        == c["orders"]["duplicate_key"]
    )
    assert (
        q("""SELECT count(*) FROM orders WHERE order_ts > CAST(regexp_extract(filename,
                '(\\d{4}-\\d{2}-\\d{2})\\.csv$', 1) AS DATE) + INTERVAL 1 DAY""")
        == c["orders"]["order_in_future"]
    )
    assert (
        q("""SELECT count(*) FROM returns r WHERE EXISTS (SELECT 1 FROM order_lines l
                WHERE l.order_id = r.order_id AND l.product_id = r.product_id
                  AND r.refund_amount > r.quantity * l.unit_price)""")
        == c["returns"]["refund_exceeds_line"]
    )


def test_good_lines_reference_good_orders_and_products(db, bad):
    bad_orders = {
        r["key"]["order_id"] for r in bad["rows"] if r["entity"] == "orders" and r["kind"] != "duplicate_key"
    }
    bad_lines = {
        (r["key"]["order_id"], r["key"]["line_number"])
        for r in bad["rows"]
        if r["entity"] == "order_lines" and r["kind"] != "duplicate_key"
    }
    assert bad_orders and bad_lines
    lines = db.execute("""SELECT l.order_id, l.line_number, l.product_id IN (SELECT product_id FROM products),
                                 l.order_id IN (SELECT order_id FROM orders)
                          FROM order_lines l""").fetchall()
    good = [r for r in lines if (r[0], r[1]) not in bad_lines]
    assert good and all(r[2] and r[3] for r in good)
    assert not {r[0] for r in lines} & bad_orders  # injected bad orders have no lines at all


# --- ground truth ------------------------------------------------------------------------


def _bgnbd_expected_repeats(t, r, alpha, a, b):
    """E[X(t)] of the BG/NBD model (Fader, Hardie & Lee 2005, eq. 9)."""
    from scipy.special import hyp2f1

    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_purchases_follow_the_true_bgnbd_and_gamma_gamma(clean):
    import duckdb
    import pyarrow.parquet as pq

    params = json.loads((clean / "_ground_truth" / "params.json").read_text())
    truth = pq.read_table(clean / "_ground_truth" / "customers.parquet").to_pandas()
    con = duckdb.connect()
    for e in ("orders", "order_lines"):
        _read(con, clean, e)
    per_cust = con.execute("""
        SELECT o.customer_id, min(CAST(o.order_ts AS DATE)) AS first_day, count(*) AS n_orders,
               sum(rev) AS revenue
        FROM orders o JOIN (SELECT order_id, sum(quantity * unit_price - coalesce(discount_amount, 0)) AS rev
                            FROM order_lines GROUP BY 1) l USING (order_id)
        WHERE o.status = 'completed' GROUP BY 1""").df()
    con.close()
    df = per_cust.merge(truth, on="customer_id", how="left")
    assert len(df) == int(truth["birth_date"].notna().sum())  # every born customer bought, nobody else
    assert (df["first_day"].astype("datetime64[ns]") == df["birth_date"].astype("datetime64[ns]")).all()
    # Operational time from birth to the end of the window (seasonality integrated per day).
    start = date.fromisoformat(params["start_date"])
    days = params["days"]
    months = np.array([(start + timedelta(days=i)).month - 1 for i in range(days)])
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(params["seasonality"]["monthly_multiplier"])[months])])
    birth = (df["first_day"].astype("datetime64[ns]") - np.datetime64(start)).dt.days.to_numpy() + 0.5
    tau = cum[-1] - np.interp(birth, np.arange(days + 1), cum)
    expected = _bgnbd_expected_repeats(tau, params["r"], params["alpha"], params["a"], params["b"])
    observed = df["n_orders"].to_numpy() - 1
    # Sum of independent per-customer deviations: allow 4 standard errors (estimated from the
    # sample), and require the test to have power (SE below 10% of the expectation).
    se = np.std(observed - expected, ddof=1) * np.sqrt(len(df))
    assert se < 0.1 * expected.sum()
    assert abs(observed.sum() - expected.sum()) < 4 * se, (observed.sum(), expected.sum(), se)
    # Gamma-Gamma: order value z ~ Gamma(p, rate nu): E = p/nu, Var = p/nu^2 per order.
    p = params["p"]
    mean_value = p / df["nu"].to_numpy()
    exp_rev = (df["n_orders"] * mean_value).sum()
    se_rev = np.sqrt((df["n_orders"] * p / df["nu"].to_numpy() ** 2).sum())
    assert abs(float(df["revenue"].astype(float).sum()) - exp_rev) < 4 * se_rev
    # ground-truth lambda relates to the purchase rate: high-lambda customers buy more
    hi = df["lambda"] > df["lambda"].median()
    assert observed[hi.to_numpy()].mean() > 2 * observed[~hi.to_numpy()].mean()
    # lambda, p and nu are draws from the stated mixing distributions
    assert truth["lambda"].mean() == pytest.approx(params["r"] / params["alpha"], rel=0.1)
    assert truth["p_dropout"].mean() == pytest.approx(params["a"] / (params["a"] + params["b"]), rel=0.05)


def test_wallet_ground_truth_is_consistent(clean):
    import duckdb
    import pyarrow.parquet as pq

    params = json.loads((clean / "_ground_truth" / "params.json").read_text())
    cats = {c["category"]: c for c in params["category_parameters"]}
    w = pq.read_table(clean / "_ground_truth" / "wallets.parquet").to_pandas()
    truth = pq.read_table(clean / "_ground_truth" / "customers.parquet").to_pandas()
    assert (w["true_wallet"] >= w["expected_annual_spend"]).all()
    assert w["true_share"].between(0, 1).all()
    # every customer x category has a wallet, bought from us or not; a share only where bought
    assert len(w) == len(truth) * len(cats) and (w["true_wallet"] > 0).all()
    bought = w["bought_from_us"]
    assert (w.loc[bought, "true_share"] > 0).all() and (w.loc[~bought, "true_share"] == 0).all()
    assert (w.loc[~bought, "expected_annual_spend"] == 0).all() and 0.2 < bought.mean() < 0.4
    end = date.fromisoformat(params["end_date"])
    con = duckdb.connect()
    for e in ("wallet_surveys", "installed_base", "customers"):
        _read(con, clean, e)
    s = con.execute(
        "SELECT customer_id, category, survey_date, reported_annual_spend::DOUBLE AS rep FROM wallet_surveys"
    ).df()
    s = s.merge(w, on=["customer_id", "category"])
    s = s[s["true_wallet"] > 10]  # tiny wallets are dominated by cent rounding
    years = (s["survey_date"].astype("datetime64[ns]") - np.datetime64(end)).dt.days / 365.25
    growth = s["category"].map(lambda c: cats[c]["annual_growth_rate"])
    ratio = np.log(s["rep"] / (s["true_wallet"] * (1 + growth) ** years))
    assert abs(ratio.mean()) < 0.02 and 0.08 < ratio.std() < 0.12
    n_surveyed = s["customer_id"].nunique()
    assert 0.07 * 4000 < n_surveyed < 0.13 * 4000
    ib = con.execute(
        "SELECT customer_id, category, as_of_date AS ib_date, units_installed FROM installed_base"
    )
    ib = ib.df().merge(w, on=["customer_id", "category"])
    years = (ib["ib_date"].astype("datetime64[ns]") - np.datetime64(end)).dt.days / 365.25
    c = ib["category"].map(cats)
    implied = (
        ib["true_wallet"]
        * (1 + c.map(lambda x: x["annual_growth_rate"])) ** years
        * c.map(lambda x: x["replacement_cycle_years"])
        / c.map(lambda x: x["avg_unit_price"])
    )
    assert len(ib) > 0 and (np.abs(ib["units_installed"] - np.maximum(1, implied)) <= 0.5 + 1e-9).all()
    b2b = set(
        con.execute("SELECT customer_id FROM customers WHERE customer_type = 'B2B'").df()["customer_id"]
    )
    assert set(ib["customer_id"]) <= b2b
    con.close()


def test_wallets_follow_their_drivers_and_the_share_follows_what_we_control(clean):
    """Issue 18's world: a customer's wallet follows firm size (B2B) and the need index built from who the
    customer is; our share varies with the acquisition channel and tenure; some big wallets have small shares;
    and lambda, re-drawn by the copula, keeps its Gamma(r, alpha) distribution."""
    import duckdb
    import pyarrow.parquet as pq
    from scipy import stats

    params = json.loads((clean / "_ground_truth" / "params.json").read_text())
    w = pq.read_table(clean / "_ground_truth" / "wallets.parquet").to_pandas()
    truth = pq.read_table(clean / "_ground_truth" / "customers.parquet").to_pandas().set_index("customer_id")
    con = duckdb.connect()
    _read(con, clean, "customers")
    attrs = con.execute("SELECT customer_id, employee_count, acquisition_channel FROM customers "
                        "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) = 1").df()
    con.close()
    d = truth.join(w.groupby("customer_id")["true_wallet"].sum().rename("wallet")).join(
        attrs.set_index("customer_id"))
    assert np.corrcoef(np.log(d["wallet"]), d["log_need"])[0, 1] > 0.5
    b2b = d[d["customer_type"] == "B2B"]
    assert np.corrcoef(np.log(b2b["wallet"]), np.log(b2b["employee_count"]))[0, 1] > 0.4
    bought = w[w["bought_from_us"]].groupby("customer_id")[["expected_annual_spend", "true_wallet"]].sum()
    d = d.join((bought["expected_annual_spend"] / bought["true_wallet"]).rename("share"))
    share = d.groupby(["customer_type", "acquisition_channel"])["share"].median()  # B2B shares sit lower
    assert share["B2C", "store"] > share["B2C", "organic_search"] > share["B2C", "social"]
    assert share["B2B", "sales_rep"] > share["B2B", "organic_search"]
    assert d["share"].between(0, 0.95 + 1e-9).all()
    big_small = (d["wallet"] > d["wallet"].quantile(0.8)) & (d["share"] < 0.2)
    assert big_small.sum() > 0.02 * len(d)
    assert stats.kstest(d["lambda"], stats.gamma(params["r"], scale=1 / params["alpha"]).cdf).pvalue > 0.001
