"""Synthetic landing data with known ground truth (SPEC §3, §4, §8).

``generate(out, customers, days, ...)`` writes the ten landing entities of
:data:`cvw.contract.ENTITIES` as daily CSV files ``out/<entity>/<entity>_YYYY-MM-DD.csv``
and the true parameters beside them in ``out/_ground_truth/`` (ingest skips folders that
start with ``_``).

The generative model (all "true" parameters are the module constants below):

* **Purchases: BG/NBD** (Fader, Hardie & Lee 2005). Per customer a purchase rate
  ``lambda ~ Gamma(shape=r, rate=alpha)`` (per day) and a dropout probability
  ``p ~ Beta(a, b)``. A customer is "born" with the first purchase (after signup, never
  before the window starts, so the data hold each customer's whole history); after every
  *repeat* purchase the customer dies with probability ``p``. Between purchases the
  process is Poisson with intensity ``lambda * m(t)`` where ``m`` is the monthly
  seasonality (normalised to a day-weighted mean of 1 over a year). It is simulated
  exactly by a time change (operational time ``Lambda(t) = integral of m``), which is
  distributionally the same as thinning a rate ``lambda * max(m)`` process and needs no
  rejected candidates. With ``tau = Lambda(end) - Lambda(birth)`` the number of repeat
  purchases is exactly BG/NBD with horizon ``tau``.
* **Order value: Gamma-Gamma.** Per customer ``nu ~ Gamma(q, rate=gamma)``; per order
  ``z ~ Gamma(p, rate=nu)``; B2B orders are multiplied by :data:`B2B_SPEND_MULTIPLIER`.
  The ground truth stores the *effective* ``nu`` (``nu / multiplier`` for B2B) so that a
  customer's mean order value is always ``p / nu``. Order revenue
  ``sum(quantity * unit_price - discount_amount)`` equals ``z`` up to cent rounding.
* **Order composition.** 1-4 lines; a line's category is drawn from the customer's 2-3
  preferred categories with per-customer weights ``w`` (Dirichlet); the order value is
  split over the lines by symmetric Dirichlet weights, so the expected share of a
  customer's spend in category ``c`` is exactly ``w_c``. The product is the one of that
  category whose list price is nearest the line's target unit price, and unit_price is
  that list price scaled to hit the line value (so prices stay near list price and
  margins realistic). Products are unique within an order.
* **Cancelled orders** (~5% of orders) are extra orders on the day of a real purchase,
  earlier that day; they never change purchase days, so completed orders alone follow
  the BG/NBD process.
* **Wallet**: for customer x preferred category, the expected yearly spend with us while
  alive is ``lambda * 365.25 * (p / nu) * w_c``; the true share of wallet is
  ``Beta(2, 3)``; ``true_wallet(end_date) = spend / share`` and the wallet grows with the
  category's ``annual_growth_rate``: ``W(t) = W(end) * (1 + g) ** ((t - end) / 365.25)``.
  Surveys report ``W(survey_date) * LogNormal(0, 0.1)``; installed base rows report
  ``round(W(as_of) * replacement_cycle_years / avg_unit_price)`` units.
* **Campaign response**: ``P(responded) = base[campaign_type] * channel[channel] *
  segment[customer_type]`` (table in ``params.json``). The campaign type is encoded in
  ``campaign_id`` = ``CMP-<monday YYYYMMDD>-<type code>``. A response is only attributed
  (``converted_order_id``) to a completed order within 14 days; it does not cause one.
* **Bad rows** (SPEC §8, ``bad_rows_rate > 0``): extra rows, each of exactly one kind,
  listed with their keys and counted per (entity, kind) in ``bad_rows.json``.

Same seed, same arguments: byte-identical files (independent random streams per part,
no wall clock, no set/dict ordering).
"""

from __future__ import annotations

import io
import json
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from cvw.contract import ENTITIES

# ---------------------------------------------------------------------------------------
# True parameters (ground truth). Time unit: days.
# ---------------------------------------------------------------------------------------

#: BG/NBD: lambda ~ Gamma(r, rate alpha) per day (mean r/alpha = 0.0167/day = 6.1/year),
#: dropout after each repeat purchase p ~ Beta(a, b) (mean 0.24).
BGNBD = {"r": 0.5, "alpha": 30.0, "a": 0.8, "b": 2.5}
#: Gamma-Gamma: nu ~ Gamma(q, rate gamma), order value z ~ Gamma(p, rate nu);
#: E[z] = p * gamma / (q - 1) = 120 for B2C.
GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "gamma": 60.0}
#: B2B order values are this many times larger (ground-truth nu is divided by it).
B2B_SPEND_MULTIPLIER = 4.0
#: Share of B2B customers.
B2B_SHARE = 0.2
#: Monthly purchase seasonality (Jan..Dec), normalised to a day-weighted mean of 1.
_SEASONALITY_RAW = [0.85, 0.85, 0.95, 0.95, 1.0, 0.95, 0.9, 0.9, 1.0, 1.05, 1.3, 1.5]
_MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
SEASONALITY = [
    m * 365.0 / sum(x * d for x, d in zip(_SEASONALITY_RAW, _MONTH_DAYS, strict=True))
    for m in _SEASONALITY_RAW
]
#: Share of customers who signed up before the window (they first buy early in it).
PRE_WINDOW_SIGNUP_SHARE = 0.15
#: Mean days from signup to first purchase (pre-window signups: from the window start).
BIRTH_DELAY_DAYS = {"in_window": 14.0, "pre_window": 60.0}
#: Share of orders that are cancelled (extra orders, see module doc).
CANCELLED_SHARE = 0.05
#: Share of completed lines that are (partly) returned, 1-30 days later.
RETURN_SHARE = 0.04

#: Category parameters (also the dbt seed category_parameters). avg_unit_price is the mean
#: sold unit price per category in this generator's data (measured); installed base units
#: are consistent with it. annual_growth_rate, replacement_cycle_years; preference weights
#: per customer type below. (Line values do not depend on the category, so that a
#: customer's expected spend share in a category is exactly its weight; prices therefore
#: differ across categories mainly through quantities and product choice.)
CATEGORIES = {
    "electronics": {"avg_unit_price": 55.0, "annual_growth_rate": 0.04, "replacement_cycle_years": 4.0},
    "appliances": {"avg_unit_price": 50.0, "annual_growth_rate": 0.02, "replacement_cycle_years": 8.0},
    "furniture": {"avg_unit_price": 55.0, "annual_growth_rate": 0.03, "replacement_cycle_years": 10.0},
    "office_supplies": {"avg_unit_price": 45.0, "annual_growth_rate": 0.01, "replacement_cycle_years": 1.0},
    "software": {"avg_unit_price": 65.0, "annual_growth_rate": 0.08, "replacement_cycle_years": 3.0},
    "services": {"avg_unit_price": 65.0, "annual_growth_rate": 0.05, "replacement_cycle_years": 1.0},
    "apparel": {"avg_unit_price": 30.0, "annual_growth_rate": 0.02, "replacement_cycle_years": 2.0},
    "groceries": {"avg_unit_price": 25.0, "annual_growth_rate": 0.03, "replacement_cycle_years": 1.0},
}
#: List prices of a category's products: log-spaced between these bounds (x 5% noise).
PRODUCT_PRICE_RANGE = {
    "electronics": (6.0, 1200.0),
    "appliances": (7.5, 1500.0),
    "furniture": (9.0, 1100.0),
    "office_supplies": (2.7, 240.0),
    "software": (10.0, 900.0),
    "services": (8.0, 740.0),
    "apparel": (6.0, 270.0),
    "groceries": (1.8, 130.0),
}
CATEGORY_NAMES = list(CATEGORIES)
CATEGORY_WEIGHTS = {
    "B2C": [1.2, 1.0, 0.8, 0.4, 0.5, 0.5, 1.5, 1.5],
    "B2B": [1.2, 0.4, 0.8, 2.0, 1.8, 1.8, 0.2, 0.3],
}
PRODUCTS_PER_CATEGORY = 12
#: Installed base is reported for durable categories (replacement cycle >= 3 years).
INSTALLED_BASE_MIN_CYCLE = 3.0
#: True share of wallet ~ Beta(2, 3).
SHARE_OF_WALLET_BETA = (2.0, 3.0)
WALLET_SURVEY_SHARE = 0.10
WALLET_SURVEY_NOISE_SIGMA = 0.10
INSTALLED_BASE_B2B_SHARE = 0.30

#: Service interactions per customer-year (Poisson).
SERVICE_RATE_PER_YEAR = {"B2C": 0.6, "B2B": 2.0}
#: Marketing contacts per customer-year (Poisson).
CONTACT_RATE_PER_YEAR = {"B2C": 4.0, "B2B": 3.0}
CAMPAIGN_TYPES = {  # type: (code, share of contacts, base response rate)
    "newsletter": ("NEWS", 0.30, 0.02),
    "birthday_upcoming": ("BDAY", 0.12, 0.12),
    "first_purchase_anniversary": ("ANNI", 0.15, 0.08),
    "stage_change": ("STGE", 0.15, 0.06),
    "high_value_complaint": ("HVCP", 0.08, 0.15),
    "wallet_opportunity": ("WALL", 0.20, 0.07),
}
RESPONSE_CHANNEL_MULTIPLIER = {"email": 1.0, "sms": 1.3, "phone": 2.0, "mail": 0.7}
RESPONSE_SEGMENT_MULTIPLIER = {"B2C": 1.0, "B2B": 0.8}
CONVERSION_WINDOW_DAYS = 14
#: Consent: initial opt-in probability per channel; share of customer x channel pairs with
#: no record; share of records that later flip (half of those flip back later).
CONSENT_CHANNELS = ["email", "sms", "phone", "mail"]
CONSENT_OPT_IN = [0.7, 0.5, 0.4, 0.6]
CONSENT_MISSING_SHARE = 0.10
CONSENT_CHANGE_SHARE = 0.08
CUSTOMER_CHANGE_SHARE = 0.05

#: Bad-row kinds injected per entity (SPEC §8).
BAD_ROW_KINDS = [
    ("orders", "bad_type"),
    ("order_lines", "bad_type"),
    ("customers", "bad_encoding"),
    ("orders", "bad_encoding"),
    ("orders", "bad_quoting"),  # a quote opened and never closed (an export that cut a quoted field)
    ("order_lines", "wrong_column_count"),
    ("service_interactions", "wrong_column_count"),
    ("order_lines", "negative_quantity"),
    ("orders", "unknown_customer"),
    ("order_lines", "unknown_product"),
    ("orders", "duplicate_key"),
    ("order_lines", "duplicate_key"),
    ("orders", "order_in_future"),
    ("returns", "refund_exceeds_line"),
]
PARSE_FAILURE_KINDS = ("bad_type", "bad_encoding", "wrong_column_count", "bad_quoting")

# Vocabularies.
REGIONS = {
    "northeast": ["Boston", "New York", "Philadelphia"],
    "southeast": ["Atlanta", "Miami", "Charlotte"],
    "midwest": ["Chicago", "Detroit", "Minneapolis"],
    "southwest": ["Dallas", "Phoenix", "Houston"],
    "west": ["Los Angeles", "San Francisco", "San Diego"],
    "northwest": ["Seattle", "Portland", "Boise"],
}
REGION_NAMES = list(REGIONS)
COUNTRY = "US"
FIRST_NAMES_F = ["Mary", "Linda", "Susan", "Karen", "Emily", "Anna", "Grace", "Chloe", "Olivia", "Sofia"]
FIRST_NAMES_M = ["James", "John", "Robert", "Michael", "David", "Daniel", "Lucas", "Noah", "Liam", "Ethan"]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Martin",
    "Lee",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
]
OCCUPATIONS = [
    "engineer",
    "teacher",
    "nurse",
    "student",
    "retired",
    "sales",
    "manager",
    "artist",
    "clerk",
    "driver",
]
INDUSTRIES = ["manufacturing", "retail", "healthcare", "finance", "technology", "construction"]
COMPANY_A = ["North", "Blue", "Summit", "Pioneer", "Bright", "Iron", "Cedar", "Atlas", "Harbor", "Silver"]
COMPANY_B = [
    "Logistics",
    "Systems",
    "Foods",
    "Partners",
    "Labs",
    "Works",
    "Health",
    "Capital",
    "Build",
    "Retail",
]
COMPANY_C = ["LLC", "Inc", "Corp", "Group", "Co"]
ACQ_CHANNELS = ["organic_search", "paid_search", "social", "referral", "email", "store", "sales_rep"]
ACQ_P = {"B2C": [0.25, 0.2, 0.2, 0.12, 0.08, 0.15, 0.0], "B2B": [0.15, 0.15, 0.05, 0.2, 0.05, 0.05, 0.35]}
ORDER_CHANNELS = ["web", "store", "call_center", "sales_rep"]
ORDER_CHANNEL_P = {"B2C": [0.6, 0.3, 0.08, 0.02], "B2B": [0.3, 0.05, 0.15, 0.5]}
LINES_P = {"B2C": [0.4, 0.3, 0.18, 0.12], "B2B": [0.2, 0.3, 0.25, 0.25]}
QUANTITY_P = {"B2C": [0.7, 0.18, 0.07, 0.03, 0.02], "B2B": [0.3, 0.25, 0.2, 0.15, 0.1]}
#: Consumable categories are bought in larger quantities (preferred quantity + 0..2).
CONSUMABLES = ("office_supplies", "apparel", "groceries")
DISCOUNT_P = {"B2C": 0.12, "B2B": 0.25}
RETURN_REASONS = ["defective", "wrong_item", "not_as_described", "changed_mind", "late_delivery"]
SERVICE_TYPES = ["inquiry", "complaint", "repair", "support"]
SERVICE_TYPE_P = [0.4, 0.15, 0.15, 0.3]
SERVICE_CHANNELS = ["phone", "email", "chat", "store"]
SERVICE_CHANNEL_P = [0.4, 0.3, 0.2, 0.1]
SERVICE_DURATION_MEDIAN = [8.0, 15.0, 10.0, 20.0]  # minutes, by channel; repairs x3
SATISFACTION_P = {"other": [0.05, 0.07, 0.18, 0.35, 0.35], "complaint": [0.25, 0.3, 0.25, 0.12, 0.08]}
CONTACT_CHANNEL_P = {"B2C": [0.5, 0.2, 0.1, 0.2], "B2B": [0.5, 0.05, 0.3, 0.15]}
SURVEY_SOURCES = ["call_center", "market_research"]

_STREAMS = [
    "customers",
    "products",
    "purchases",
    "orders",
    "lines",
    "returns",
    "service",
    "marketing",
    "consents",
    "wallet",
    "bad",
]
_DAY = 86400
_EPOCH = date(1970, 1, 1)


# ---------------------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------------------


def _choice(rng: np.random.Generator, probs, size: int) -> np.ndarray:
    """Vectorised categorical draw (indices) from one probability vector."""
    cum = np.cumsum(np.asarray(probs, dtype=float))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(cum) - 1)


def _choice_by_type(rng, probs_by_type: dict, is_b2b: np.ndarray) -> np.ndarray:
    """Categorical draw whose probabilities depend on B2C/B2B."""
    u = rng.random(len(is_b2b))
    out = np.empty(len(is_b2b), dtype=np.int64)
    for flag, key in ((False, "B2C"), (True, "B2B")):
        cum = np.cumsum(probs_by_type[key])
        cum /= cum[-1]
        m = is_b2b == flag
        out[m] = np.minimum(np.searchsorted(cum, u[m], side="right"), len(cum) - 1)
    return out


def _ids(prefix: str, numbers: np.ndarray, width: int):
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _vocab(words, idx: np.ndarray):
    import pyarrow as pa

    return pa.array(list(words), pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def _join(*parts, sep: str = ""):
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*parts, sep)


def _money(cents: np.ndarray, valid: np.ndarray | None = None):
    """int64 cents -> DECIMAL(18,2) without float rounding."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cents = np.ascontiguousarray(cents, dtype=np.int64)
    buf = np.empty((len(cents), 2), dtype=np.int64)
    buf[:, 0] = cents
    buf[:, 1] = np.where(cents < 0, -1, 0)
    arr = pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(buf)])
    if valid is not None:
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.decimal128(18, 2)))
    return arr


def _ts(start_epoch_s: int, sec: np.ndarray):
    import pyarrow as pa

    return pa.array(np.asarray(sec, dtype=np.int64) + start_epoch_s, pa.timestamp("s"))


def _date(start_epoch_d: int, day: np.ndarray):
    import pyarrow as pa

    return pa.array((np.asarray(day, dtype=np.int64) + start_epoch_d).astype(np.int32), pa.date32())


def _starts(counts: np.ndarray) -> np.ndarray:
    """Start offset of each group in a flat array of groups of the given sizes."""
    return (np.cumsum(counts) - counts).astype(np.int64)


def _within_group_index(group_starts_repeated: np.ndarray) -> np.ndarray:
    return np.arange(len(group_starts_repeated)) - group_starts_repeated


def _tod(rng, n: int, lo_h: float, hi_h: float, mean_h: float, sd_h: float) -> np.ndarray:
    """Time of day in seconds, clipped normal around mean_h."""
    h = np.clip(rng.normal(mean_h, sd_h, n), lo_h, hi_h)
    return np.minimum((h * 3600).astype(np.int64), _DAY - 1)


# ---------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------


def generate(
    out: Path,
    customers: int,
    days: int,
    seed: int = 42,
    end_date: date = date(2025, 12, 31),
    bad_rows_rate: float = 0.0,
) -> dict:
    """Write synthetic landing files for ``days`` days ending on ``end_date``.

    Returns ``{"rows": {entity: rows written incl. bad rows}, "bad_rows": {entity: {kind: n}},
    "files": n, "seconds": s, "start_date": ..., "end_date": ...}``.
    """
    t0 = time.perf_counter()
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be >= 1")
    if not 0.0 <= bad_rows_rate <= 0.2:
        raise ValueError("bad_rows_rate must be in [0, 0.2]")
    out = Path(out)
    start_date = end_date - timedelta(days=days - 1)
    start_d = (start_date - _EPOCH).days
    start_s = start_d * _DAY
    rngs = dict(
        zip(
            _STREAMS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(_STREAMS))),
            strict=True,
        )
    )
    g = _World(customers, days, start_date, rngs)
    g.customers()
    g.products_setup(rngs["products"])
    g.purchases()
    g.orders()
    g.lines()
    g.returns()
    g.service()
    g.marketing()
    g.consents()
    g.wallet()
    bad = g.bad_rows(bad_rows_rate)

    for name in list(ENTITIES) + ["_ground_truth"]:
        shutil.rmtree(out / name, ignore_errors=True)
    (out / "_ground_truth").mkdir(parents=True, exist_ok=True)

    tables = g.tables(start_s, start_d)
    files = 0
    rows = {}
    for name in ENTITIES:
        table, day, order = tables[name]
        raw = bad["raw"].get(name, {})
        files += _write_entity(out / name, name, table, day, order, raw, start_date)
        rows[name] = table.num_rows + sum(len(v) for v in raw.values())

    g.write_ground_truth(out / "_ground_truth", seed, end_date, start_s, start_d, bad)
    return {
        "rows": rows,
        "bad_rows": bad["counts"],
        "files": files,
        "seconds": round(time.perf_counter() - t0, 3),
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
    }


def _write_entity(
    folder: Path, name: str, table, day: np.ndarray, order: np.ndarray, raw: dict, start_date: date
) -> int:
    """Write one CSV per day: sorted rows, then that day's raw (unparseable) lines."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    folder.mkdir(parents=True, exist_ok=True)
    idx = np.lexsort((order, day))
    table = table.take(pa.array(idx))
    day = day[idx]
    header = (",".join(ENTITIES[name].columns) + "\n").encode()
    opts = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    days_with_rows = np.unique(np.concatenate([day, np.array(sorted(raw), dtype=np.int64)]))
    lo = np.searchsorted(day, days_with_rows, side="left")
    hi = np.searchsorted(day, days_with_rows, side="right")
    for d, a, b in zip(days_with_rows.tolist(), lo.tolist(), hi.tolist(), strict=True):
        buf = io.BytesIO()
        buf.write(header)
        if b > a:
            pa_csv.write_csv(table.slice(a, b - a), buf, opts)
        for line in raw.get(d, ()):
            buf.write(line)
        path = folder / f"{name}_{(start_date + timedelta(days=d)).isoformat()}.csv"
        path.write_bytes(buf.getvalue())
    return len(days_with_rows)


class _World:
    """All simulated arrays; times are seconds since the window start (may be < 0)."""

    def __init__(self, n: int, days: int, start_date: date, rngs: dict):
        self.n = n
        self.days = days
        self.start_date = start_date
        self.H = days * _DAY
        self.rng = rngs
        # Daily seasonality and operational time Lambda at day boundaries.
        dates = np.datetime64(start_date.isoformat()) + np.arange(days)
        month = dates.astype("datetime64[M]").astype(np.int64) % 12
        self.season_day = np.asarray(SEASONALITY)[month]
        self.cum_lambda = np.concatenate([[0.0], np.cumsum(self.season_day)])
        self.cw = max(7, len(str(n)))

    # -- customers ---------------------------------------------------------------------
    def customers(self):
        rng, n = self.rng["customers"], self.n
        self.is_b2b = rng.random(n) < B2B_SHARE
        pre = rng.random(n) < PRE_WINDOW_SIGNUP_SHARE
        sday = np.where(pre, -rng.integers(1, 731, n), rng.integers(0, self.days, n))
        self.signup_s = sday * _DAY + _tod(rng, n, 7, 21, 13, 3.5)
        self.cust_file_day = np.maximum(sday, 0)
        # BG/NBD and Gamma-Gamma individual parameters.
        self.lam = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], n)
        self.pdrop = rng.beta(BGNBD["a"], BGNBD["b"], n)
        nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["gamma"], n)
        self.nu = np.where(self.is_b2b, nu / B2B_SPEND_MULTIPLIER, nu)
        # Birth (first purchase), in days since window start.
        delay = np.where(
            pre,
            rng.exponential(BIRTH_DELAY_DAYS["pre_window"], n),
            rng.exponential(BIRTH_DELAY_DAYS["in_window"], n),
        )
        self.birth_t = np.where(pre, 0.0, self.signup_s / _DAY) + delay
        # Preferred categories: Gumbel top-k without replacement, 2 or 3 each.
        logw = np.log(np.where(self.is_b2b[:, None], CATEGORY_WEIGHTS["B2B"], CATEGORY_WEIGHTS["B2C"]))
        keys = logw + rng.gumbel(size=(n, len(CATEGORY_NAMES)))
        self.prefs = np.argsort(-keys, axis=1, kind="stable")[:, :3]
        self.k_pref = np.where(rng.random(n) < 0.5, 2, 3)
        w = rng.gamma(2.0, 1.0, (n, 3))
        w[self.k_pref == 2, 2] = 0.0
        self.pref_w = w / w.sum(axis=1, keepdims=True)
        self.pref_cum = np.cumsum(self.pref_w, axis=1)
        # Attributes.
        self.region = rng.integers(0, len(REGION_NAMES), n)
        self.city = rng.integers(0, 3, n)
        self.female = rng.random(n) < 0.5
        self.first = rng.integers(0, 10, n)
        self.last = rng.integers(0, len(LAST_NAMES), n)
        self.gender_x = rng.random(n) < 0.02
        self.age_days = rng.integers(18 * 365, 85 * 365, n)
        self.occupation = rng.integers(0, len(OCCUPATIONS), n)
        self.industry = rng.integers(0, len(INDUSTRIES), n)
        self.employees = np.maximum(1, np.round(np.exp(rng.normal(np.log(50), 1.5, n)))).astype(np.int64)
        self.revenue_c = np.round(self.employees * 150_000 * np.exp(rng.normal(0, 0.4, n)) * 100).astype(
            np.int64
        )
        self.company = rng.integers(0, [len(COMPANY_A), len(COMPANY_B), len(COMPANY_C)], (n, 3))
        self.phone = rng.integers(0, 10_000_000, n)
        self.acq = _choice_by_type(rng, ACQ_P, self.is_b2b)
        # ~5% later change of region/city.
        self.changed = rng.random(n) < CUSTOMER_CHANGE_SHARE
        lo = self.cust_file_day + 1
        ok = self.changed & (lo < self.days)
        self.changed = ok
        self.change_day = np.where(
            ok, lo + (rng.random(n) * np.maximum(self.days - lo, 1)).astype(np.int64), -1
        )
        self.change_s = self.change_day * _DAY + _tod(rng, n, 7, 21, 13, 3.5)
        self.new_region = (self.region + rng.integers(1, len(REGION_NAMES), n)) % len(REGION_NAMES)
        self.new_city = rng.integers(0, 3, n)

    # -- purchases (BG/NBD with seasonality via time change) ----------------------------
    def purchases(self):
        rng, H_days = self.rng["purchases"], float(self.days)
        tau_end = self.cum_lambda[-1]
        born = np.flatnonzero(self.birth_t < H_days)
        self.born = np.zeros(self.n, dtype=bool)
        self.born[born] = True
        cust_parts = [born]
        t_parts = [self.birth_t[born]]
        alive = np.ones(self.n, dtype=bool)
        idx = born
        tau = np.interp(self.birth_t[born], np.arange(self.days + 1), self.cum_lambda)
        lam = self.lam[born]
        pdrop = self.pdrop[born]
        while len(idx):
            tau = tau + rng.exponential(1.0, len(idx)) / lam
            inside = tau < tau_end
            idx, tau, lam, pdrop = idx[inside], tau[inside], lam[inside], pdrop[inside]
            t = np.interp(tau, self.cum_lambda, np.arange(self.days + 1))
            t = np.minimum(t, np.nextafter(H_days, 0))
            cust_parts.append(idx)
            t_parts.append(t)
            dies = rng.random(len(idx)) < pdrop
            alive[idx[dies]] = False
            keep = ~dies
            idx, tau, lam, pdrop = idx[keep], tau[keep], lam[keep], pdrop[keep]
        self.alive_at_end = alive & self.born
        self.p_cust = np.concatenate(cust_parts)
        self.p_t = np.concatenate(t_parts)

    # -- orders -------------------------------------------------------------------------
    def orders(self):
        rng = self.rng["orders"]
        cust, t = self.p_cust, self.p_t
        n = len(cust)
        day = np.floor(t).astype(np.int64)
        sec = day * _DAY + _tod(rng, n, 6, 23.5, 14, 4)
        sig = self.signup_s[cust]
        same = sec <= sig  # only possible on the signup day: place after signup
        day_end = day * _DAY + _DAY - 1
        sec = np.where(
            same, sig + 1 + (rng.random(n) * np.maximum(day_end - sig - 1, 0)).astype(np.int64), sec
        )
        # z ~ Gamma(p, rate nu_raw) * mult with nu (effective) = nu_raw / mult  <=>  z ~ Gamma(p, rate nu)
        z = rng.gamma(GAMMA_GAMMA["p"], 1.0, n) / self.nu[cust]
        # Cancelled orders: extra orders earlier on the day of a real purchase.
        canc = rng.random(n) < CANCELLED_SHARE / (1 - CANCELLED_SHARE)
        ci = np.flatnonzero(canc)
        lo = np.minimum(np.maximum(day[ci] * _DAY + 6 * 3600, sig[ci] + 1), sec[ci])
        csec = lo + (rng.random(len(ci)) * np.maximum(sec[ci] - lo, 0)).astype(np.int64)
        cz = rng.gamma(GAMMA_GAMMA["p"], 1.0, len(ci)) / self.nu[cust[ci]]
        o_cust = np.concatenate([cust, cust[ci]])
        o_sec = np.concatenate([sec, csec])
        o_canc = np.concatenate([np.zeros(n, bool), np.ones(len(ci), bool)])
        o_z = np.concatenate([z, cz])
        order = np.lexsort((o_canc, o_cust, o_sec))
        self.o_cust = o_cust[order].astype(np.int64)
        self.o_sec = o_sec[order]
        self.o_canc = o_canc[order]
        self.o_z = o_z[order]
        no = len(order)
        self.o_day = self.o_sec // _DAY
        ob2b = self.is_b2b[self.o_cust]
        self.o_channel = _choice_by_type(rng, ORDER_CHANNEL_P, ob2b)
        upd = np.where(rng.random(no) < 0.3, rng.integers(60, 3 * _DAY, no), 0)
        upd = np.where(self.o_canc, rng.integers(300, _DAY, no), upd)
        self.o_upd = self.o_sec + upd
        self.o_width = max(9, len(str(no)))

    # -- order lines --------------------------------------------------------------------
    def lines(self):
        rng = self.rng["lines"]
        no = len(self.o_cust)
        ob2b = self.is_b2b[self.o_cust]
        k = _choice_by_type(rng, LINES_P, ob2b) + 1
        starts = _starts(k)
        self.o_k = k
        self.o_line_start = starts
        li_order = np.repeat(np.arange(no), k)
        nl = len(li_order)
        line_no = _within_group_index(np.repeat(starts, k)) + 1
        cust = self.o_cust[li_order]
        lb2b = self.is_b2b[cust]
        u = rng.random(nl)
        slot = (u > self.pref_cum[cust, 0]).astype(np.int64) + (u > self.pref_cum[cust, 1])
        cat = self.prefs[cust, slot]
        q = _choice_by_type(rng, QUANTITY_P, lb2b) + 1
        consumable = np.isin(cat, [CATEGORY_NAMES.index(c) for c in CONSUMABLES])
        q = np.minimum(q + consumable * rng.integers(0, 3, nl), 5)
        gsplit = rng.gamma(2.0, 1.0, nl)
        share = gsplit / np.bincount(li_order, gsplit, minlength=no)[li_order]
        target = self.o_z[li_order] * share  # line net value
        disc = rng.random(nl) < np.where(lb2b, DISCOUNT_P["B2B"], DISCOUNT_P["B2C"])
        d = np.where(disc, rng.uniform(0.05, 0.25, nl), 0.0)
        # Products: nearest list price to the target unit price (with noise), in category.
        want = np.log(target / (1 - d) / q) + rng.normal(0, 0.1, nl)
        pkeys = self.prod_cat * 100.0 + np.log(self.prod_price_c / 100.0)
        key = cat * 100.0 + want
        j = np.searchsorted(pkeys, key)
        first = cat * PRODUCTS_PER_CATEGORY
        lastp = first + PRODUCTS_PER_CATEGORY - 1
        jl = np.clip(j - 1, first, lastp)
        jr = np.clip(j, first, lastp)
        prod = np.where(np.abs(pkeys[jl] - key) <= np.abs(pkeys[jr] - key), jl, jr)
        # Quantity that best fits the chosen product's price (bulk buys of cheap items).
        net_price = self.prod_price_c[prod] / 100.0 * (1 - d)
        q_fit = np.clip(np.round(target / net_price), 1, 5).astype(np.int64)
        q = np.where(
            np.abs(np.log(target / (q_fit * net_price))) < np.abs(np.log(target / (q * net_price))), q_fit, q
        )
        # Unique products within an order: bump duplicates to the next product.
        for _ in range(50):
            srt = np.lexsort((prod, li_order))
            dup = np.zeros(nl, dtype=bool)
            dup[srt[1:]] = (li_order[srt[1:]] == li_order[srt[:-1]]) & (prod[srt[1:]] == prod[srt[:-1]])
            if not dup.any():
                break
            prod = np.where(dup, first + (prod - first + 1) % PRODUCTS_PER_CATEGORY, prod)
        else:  # pragma: no cover - 4 lines, 12 products per category
            raise RuntimeError("could not make products unique within orders")
        target_c = np.maximum(np.round(target * 100).astype(np.int64), q)
        up = np.maximum(np.round(target_c / (1 - d) / q).astype(np.int64), 1)
        disc_c = np.where(disc, np.maximum(q * up - target_c, 0), 0)
        self.l_order = li_order
        self.l_no = line_no
        self.l_prod = prod
        self.l_q = q
        self.l_up = up
        self.l_disc = disc_c
        self.l_has_disc = disc
        self.l_cat = cat

    def products_setup(self, rng):
        nc = len(CATEGORY_NAMES)
        cat = np.repeat(np.arange(nc), PRODUCTS_PER_CATEGORY)
        grid = np.concatenate(
            [np.geomspace(*PRODUCT_PRICE_RANGE[c], PRODUCTS_PER_CATEGORY) for c in CATEGORY_NAMES]
        )
        price = grid * np.exp(rng.normal(0, 0.05, len(cat)))
        self.prod_cat = cat
        self.prod_price_c = np.round(price * 100).astype(np.int64)
        self.prod_cost_c = np.round(self.prod_price_c * rng.uniform(0.4, 0.8, len(cat))).astype(np.int64)

    # -- returns ------------------------------------------------------------------------
    def returns(self):
        rng = self.rng["returns"]
        nl = len(self.l_order)
        comp = ~self.o_canc[self.l_order]
        r = np.flatnonzero(comp & (rng.random(nl) < RETURN_SHARE))
        rsec = self.o_sec[self.l_order[r]] + rng.integers(_DAY, 30 * _DAY + 1, len(r))
        keep = rsec < self.H
        r, rsec = r[keep], rsec[keep]
        q = self.l_q[r]
        rq = 1 + (rng.random(len(r)) * q).astype(np.int64)
        net_unit = (q * self.l_up[r] - self.l_disc[r]) / q
        fee = np.where(rng.random(len(r)) < 0.2, rng.uniform(0.8, 0.9, len(r)), 1.0)
        refund = np.floor(rq * net_unit * fee).astype(np.int64)
        refund = np.minimum(refund, rq * self.l_up[r])
        order = np.lexsort((r, rsec))
        self.r_line = r[order]
        self.r_sec = rsec[order]
        self.r_q = rq[order]
        self.r_refund = refund[order]
        self.r_reason = rng.integers(0, len(RETURN_REASONS), len(r))

    # -- service interactions -----------------------------------------------------------
    def _span(self):
        lo = np.maximum(self.signup_s, 0)
        return lo, np.maximum(self.H - lo, 0)

    def service(self):
        rng = self.rng["service"]
        lo, span = self._span()
        rate = np.where(self.is_b2b, SERVICE_RATE_PER_YEAR["B2B"], SERVICE_RATE_PER_YEAR["B2C"])
        cnt = rng.poisson(rate * span / (365.25 * _DAY))
        cust = np.repeat(np.arange(self.n), cnt)
        m = len(cust)
        sec = lo[cust] + (rng.random(m) * span[cust]).astype(np.int64)
        day = sec // _DAY
        sec = np.maximum(day * _DAY + _tod(rng, m, 8, 20, 13, 3), lo[cust])
        typ = _choice(rng, SERVICE_TYPE_P, m)
        ch = _choice(rng, SERVICE_CHANNEL_P, m)
        med = np.asarray(SERVICE_DURATION_MEDIAN)[ch] * np.where(typ == 2, 3.0, 1.0)
        dur = np.round(med * np.exp(rng.normal(0, 0.5, m)), 1)
        u = rng.random(m)
        sat = np.where(
            typ == 1,
            np.searchsorted(np.cumsum(SATISFACTION_P["complaint"]), u, side="right"),
            np.searchsorted(np.cumsum(SATISFACTION_P["other"]), u, side="right"),
        )
        sat = np.minimum(sat, 4) + 1
        resolved = rng.random(m) < np.where(typ == 1, 0.7, 0.88)
        order = np.lexsort((cust, sec))
        self.s_cust, self.s_sec, self.s_type, self.s_ch = cust[order], sec[order], typ[order], ch[order]
        self.s_dur, self.s_sat, self.s_res = dur[order], sat[order], resolved[order]

    # -- marketing contacts -------------------------------------------------------------
    def marketing(self):
        rng = self.rng["marketing"]
        lo, span = self._span()
        rate = np.where(self.is_b2b, CONTACT_RATE_PER_YEAR["B2B"], CONTACT_RATE_PER_YEAR["B2C"])
        cnt = rng.poisson(rate * span / (365.25 * _DAY))
        cust = np.repeat(np.arange(self.n), cnt)
        m = len(cust)
        day = (lo[cust] + (rng.random(m) * span[cust]).astype(np.int64)) // _DAY
        sec = np.maximum(day * _DAY + _tod(rng, m, 8, 19, 11, 2.5), lo[cust])
        types = list(CAMPAIGN_TYPES)
        ctype = _choice(rng, [CAMPAIGN_TYPES[t][1] for t in types], m)
        b2b = self.is_b2b[cust]
        ctype = np.where(b2b & (ctype == types.index("birthday_upcoming")), types.index("newsletter"), ctype)
        ch = _choice_by_type(rng, CONTACT_CHANNEL_P, b2b)
        base = np.array([CAMPAIGN_TYPES[t][2] for t in types])[ctype]
        chm = np.array([RESPONSE_CHANNEL_MULTIPLIER[c] for c in CONSENT_CHANNELS])[ch]
        segm = np.where(b2b, RESPONSE_SEGMENT_MULTIPLIER["B2B"], RESPONSE_SEGMENT_MULTIPLIER["B2C"])
        responded = rng.random(m) < np.minimum(base * chm * segm, 0.9)
        u = rng.random(m)
        pref_slot = (u > self.pref_cum[cust, 0]).astype(np.int64) + (u > self.pref_cum[cust, 1])
        offer = np.where(
            rng.random(m) < 0.6, self.prefs[cust, pref_slot], rng.integers(0, len(CATEGORY_NAMES), m)
        )
        # Conversion: first completed order of the customer within 14 days after the contact.
        comp = np.flatnonzero(~self.o_canc)
        okey = self.o_cust[comp] * (1 << 34) + self.o_sec[comp]
        osrt = np.argsort(okey, kind="stable")
        okey_s, comp_s = okey[osrt], comp[osrt]
        ckey = cust * (1 << 34) + sec
        j = np.searchsorted(okey_s, ckey, side="right")
        jj = np.minimum(j, len(okey_s) - 1) if len(okey_s) else j
        if len(okey_s):
            cand = comp_s[jj]
            conv = (
                responded
                & (j < len(okey_s))
                & (self.o_cust[cand] == cust)
                & (self.o_sec[cand] <= sec + CONVERSION_WINDOW_DAYS * _DAY)
            )
        else:
            cand = np.zeros(m, dtype=np.int64)
            conv = np.zeros(m, dtype=bool)
        order = np.lexsort((cust, sec))
        self.m_cust, self.m_sec, self.m_type, self.m_ch = cust[order], sec[order], ctype[order], ch[order]
        self.m_resp, self.m_offer = responded[order], offer[order]
        self.m_conv, self.m_conv_order = conv[order], cand[order]

    # -- consents -----------------------------------------------------------------------
    def consents(self):
        rng = self.rng["consents"]
        n, nc = self.n, len(CONSENT_CHANNELS)
        has = rng.random((n, nc)) >= CONSENT_MISSING_SHARE
        opt_in = rng.random((n, nc)) < np.asarray(CONSENT_OPT_IN)
        cust, ch = np.nonzero(has)
        status = opt_in[cust, ch]
        sec0 = self.signup_s[cust]
        day0 = self.cust_file_day[cust]
        m = len(cust)
        change = rng.random(m) < CONSENT_CHANGE_SHARE
        lo = day0 + 1
        change &= lo < self.days
        c1 = lo + (rng.random(m) * np.maximum(self.days - lo, 1)).astype(np.int64)
        back = change & (rng.random(m) < 0.5) & (c1 + 1 < self.days)
        c2 = c1 + 1 + (rng.random(m) * np.maximum(self.days - c1 - 1, 1)).astype(np.int64)
        tod1, tod2 = _tod(rng, m, 0, 23.9, 12, 5), _tod(rng, m, 0, 23.9, 12, 5)
        i1, i2 = np.flatnonzero(change), np.flatnonzero(back)
        self.c_cust = np.concatenate([cust, cust[i1], cust[i2]])
        self.c_ch = np.concatenate([ch, ch[i1], ch[i2]])
        self.c_status = np.concatenate([status, ~status[i1], status[i2]])
        self.c_sec = np.concatenate([sec0, c1[i1] * _DAY + tod1[i1], c2[i2] * _DAY + tod2[i2]])
        self.c_day = np.concatenate([day0, c1[i1], c2[i2]])

    # -- wallet, surveys, installed base ------------------------------------------------
    def wallet(self):
        rng = self.rng["wallet"]
        n = self.n
        cust = np.repeat(np.arange(n), self.k_pref)
        slot = _within_group_index(np.repeat(_starts(self.k_pref), self.k_pref))
        cat = self.prefs[cust, slot]
        w = self.pref_w[cust, slot]
        spend = self.lam[cust] * 365.25 * GAMMA_GAMMA["p"] / self.nu[cust] * w
        share = rng.beta(*SHARE_OF_WALLET_BETA, len(cust))
        self.w_cust, self.w_cat, self.w_spend, self.w_share = cust, cat, spend, share
        self.w_wallet = spend / share
        growth = np.array([CATEGORIES[c]["annual_growth_rate"] for c in CATEGORY_NAMES])
        cycle = np.array([CATEGORIES[c]["replacement_cycle_years"] for c in CATEGORY_NAMES])
        avgp = np.array([CATEGORIES[c]["avg_unit_price"] for c in CATEGORY_NAMES])

        def wallet_at(i, day):  # day since start; wallet is defined as of end (day = days-1)
            return self.w_wallet[i] * (1 + growth[self.w_cat[i]]) ** ((day - (self.days - 1)) / 365.25)

        lo, span = self._span()
        surveyed = rng.random(n) < WALLET_SURVEY_SHARE
        ncat = np.minimum(rng.integers(1, 4, n), self.k_pref)
        pick = surveyed[cust] & (slot < ncat[cust]) & (span[cust] > 0)
        i = np.flatnonzero(pick)
        sday = (lo[cust[i]] + (rng.random(len(i)) * span[cust[i]]).astype(np.int64)) // _DAY
        rep = wallet_at(i, sday) * np.exp(rng.normal(0, WALLET_SURVEY_NOISE_SIGMA, len(i)))
        src = np.where(self.is_b2b[cust[i]], rng.random(len(i)) < 0.7, rng.random(len(i)) < 0.3).astype(
            np.int64
        )
        order = np.lexsort((i, sday))
        self.sv_i, self.sv_day = i[order], sday[order]
        self.sv_cents = np.round(rep[order] * 100).astype(np.int64)
        self.sv_src = src[order]
        # Installed base: ~30% of B2B customers, durable categories, one row per year.
        ib_cust = self.is_b2b & (rng.random(n) < INSTALLED_BASE_B2B_SHARE)
        offset = rng.integers(0, 365, n)
        durable = cycle[cat] >= INSTALLED_BASE_MIN_CYCLE
        base_i = np.flatnonzero(ib_cust[cust] & durable)
        first_day = np.maximum(lo[cust[base_i]] // _DAY, 0) + offset[cust[base_i]] % 365
        nyears = np.where(first_day < self.days, (self.days - 1 - first_day) // 365 + 1, 0)
        ii = np.repeat(base_i, nyears)
        k = _within_group_index(np.repeat(_starts(nyears), nyears))
        ad = np.repeat(first_day, nyears) + 365 * k
        units = np.maximum(1, np.round(wallet_at(ii, ad) * cycle[self.w_cat[ii]] / avgp[self.w_cat[ii]]))
        order = np.lexsort((self.w_cat[ii], self.w_cust[ii], ad))
        self.ib_i, self.ib_day, self.ib_units = ii[order], ad[order], units[order].astype(np.int64)

    # -- bad rows -----------------------------------------------------------------------
    def bad_rows(self, rate: float) -> dict:
        """Pick bad rows. Business-rule rows go into the typed tables (self.x_* extras);
        parse failures become raw byte lines per (entity, day)."""
        rng = self.rng["bad"]
        self.extra = {name: [] for name in ENTITIES}
        counts = {name: {} for name in ENTITIES}
        listing = []
        raw: dict = {}
        if rate <= 0:
            return {"counts": {k: v for k, v in counts.items() if v}, "rows": listing, "raw": raw}
        n_orders = len(self.o_cust)
        n_lines = len(self.l_order)
        base_rows = {
            "orders": n_orders,
            "order_lines": n_lines,
            "customers": self.n + int(self.changed.sum()),
            "service_interactions": len(self.s_cust),
            "returns": len(self.r_line),
        }
        need = {(e, k): max(1, int(round(rate * base_rows[e]))) for e, k in BAD_ROW_KINDS}
        for (e, k), v in need.items():
            counts[e][k] = v
        comp_orders = np.flatnonzero(~self.o_canc)
        born = np.flatnonzero(self.born)
        day_str = lambda d: (self.start_date + timedelta(days=int(d))).isoformat()  # noqa: E731
        ts_str = lambda s: self._fmt_ts(s)  # noqa: E731

        def add_raw(entity, day, line: bytes):
            raw.setdefault(entity, {}).setdefault(int(day), []).append(line)

        # Extra lines on good completed orders (one per order): line_number = k + 1.
        line_kinds = ["bad_type", "wrong_column_count", "negative_quantity", "unknown_product"]
        tot = sum(need[("order_lines", k)] for k in line_kinds)
        if len(comp_orders) == 0:
            raise ValueError("no completed orders to attach bad rows to; use more customers/days")
        host = rng.choice(comp_orders, size=tot, replace=tot > len(comp_orders))
        host_ln = self.o_k[host] + 1
        if tot > len(comp_orders):  # several extras on one order: distinct line numbers
            srt = np.argsort(host, kind="stable")
            hs = host[srt]
            grp_start = np.r_[0, np.flatnonzero(np.diff(hs)) + 1]
            rank = np.arange(tot) - np.repeat(grp_start, np.diff(np.r_[grp_start, tot]))
            host_ln[srt] = self.o_k[hs] + 1 + rank
        pos = 0
        for kind in line_kinds:
            cnt = need[("order_lines", kind)]
            hs, lns = host[pos : pos + cnt], host_ln[pos : pos + cnt]
            pos += cnt
            # a template line of the same order
            tl = self.o_line_start[hs]
            for o, ln, t in zip(hs.tolist(), lns.tolist(), tl.tolist(), strict=True):
                oid = self._oid(o)
                # a product not yet in the order, so a return still identifies its line
                in_order = set(self.l_prod[t : t + self.o_k[o]].tolist())
                pid = self._pid(next(p for p in range(len(self.prod_cat)) if p not in in_order))
                up = self._fmt_money(self.l_up[t])
                day = self.o_day[o]
                rec = {
                    "entity": "order_lines",
                    "kind": kind,
                    "file_day": day_str(day),
                    "key": {"order_id": oid, "line_number": ln},
                }
                if kind == "bad_type":
                    add_raw("order_lines", day, f"{oid},{ln},{pid},abc,{up},\n".encode())
                elif kind == "wrong_column_count":
                    add_raw("order_lines", day, f"{oid},{ln},{pid},1,{up},,extra\n".encode())
                elif kind == "negative_quantity":
                    self.extra["order_lines"].append(
                        (day, o, ln, pid, -int(rng.integers(1, 4)), self.l_up[t])
                    )
                else:  # unknown_product
                    self.extra["order_lines"].append((day, o, ln, f"PX{len(listing):06d}", 1, self.l_up[t]))
                listing.append(rec)

        # Duplicate order lines (exact copies, same day or up to 3 days later).
        cnt = need[("order_lines", "duplicate_key")]
        li = rng.choice(n_lines, size=cnt, replace=cnt > n_lines)
        for x in li.tolist():
            o = self.l_order[x]
            day = min(self.o_day[o] + int(rng.integers(0, 4)), self.days - 1)
            self.extra["order_lines"].append(
                (day, o, int(self.l_no[x]), self._pid(self.l_prod[x]), int(self.l_q[x]), self.l_up[x], x)
            )
            listing.append(
                {
                    "entity": "order_lines",
                    "kind": "duplicate_key",
                    "file_day": day_str(day),
                    "key": {"order_id": self._oid(o), "line_number": int(self.l_no[x])},
                }
            )

        # Orders: new ids OX..., never referenced by lines.
        seq = 0

        def new_oid():
            nonlocal seq
            seq += 1
            return f"OX{seq:0{self.o_width}d}"

        for kind in ["bad_type", "bad_encoding", "bad_quoting", "unknown_customer", "order_in_future"]:
            cnt = need[("orders", kind)]
            days = rng.integers(0, self.days, cnt)
            cs = rng.choice(born, size=cnt) if len(born) else np.zeros(cnt, dtype=np.int64)
            tods = _tod(rng, cnt, 8, 20, 13, 3)
            ahead = rng.integers(2, 31, cnt)
            for d, c, tdy, ah in zip(days.tolist(), cs.tolist(), tods.tolist(), ahead.tolist(), strict=True):
                oid = new_oid()
                cid = self._cid(c)
                sec = d * _DAY + tdy
                rec = {"entity": "orders", "kind": kind, "file_day": day_str(d), "key": {"order_id": oid}}
                if kind == "bad_type":
                    add_raw("orders", d, f"{oid},{cid},not_a_timestamp,web,completed,\n".encode())
                elif kind == "bad_encoding":
                    add_raw(
                        "orders",
                        d,
                        f"{oid},{cid},{ts_str(sec)},".encode() + b"we\xff\xfeb" + b",completed,\n",
                    )
                elif kind == "bad_quoting":
                    add_raw("orders", d, f'{oid},{cid},{ts_str(sec)},"web,completed,\n'.encode())
                elif kind == "unknown_customer":
                    self.extra["orders"].append((d, oid, f"CX{len(listing):07d}", sec, 0))
                else:  # order_in_future: order_ts >= file day + 2 days
                    self.extra["orders"].append((d, oid, cid, (d + ah) * _DAY + tdy, 0))
                listing.append(rec)
        cnt = need[("orders", "duplicate_key")]
        oi = rng.choice(n_orders, size=cnt, replace=cnt > n_orders)
        for o in oi.tolist():
            day = min(self.o_day[o] + int(rng.integers(0, 4)), self.days - 1)
            self.extra["orders"].append((day, o))
            listing.append(
                {
                    "entity": "orders",
                    "kind": "duplicate_key",
                    "file_day": day_str(day),
                    "key": {"order_id": self._oid(o)},
                }
            )

        # Customers with invalid UTF-8 in the name (new ids CY...).
        cnt = need[("customers", "bad_encoding")]
        days = rng.integers(0, self.days, cnt)
        for j, d in enumerate(days.tolist()):
            cid = f"CY{j + 1:07d}"
            line = (
                f"{cid},B2C,".encode()
                + b"J\xff\xfene Doe"
                + f",,,,,,,{COUNTRY},,,,,web,{day_str(d)},{day_str(d)} 12:00:00\n".encode()
            )
            add_raw("customers", d, line)
            listing.append(
                {
                    "entity": "customers",
                    "kind": "bad_encoding",
                    "file_day": day_str(d),
                    "key": {"customer_id": cid},
                }
            )

        # Service interactions with an extra field (new ids IX...).
        cnt = need[("service_interactions", "wrong_column_count")]
        days = rng.integers(0, self.days, cnt)
        cs = rng.integers(0, self.n, cnt)
        for j, (d, c) in enumerate(zip(days.tolist(), cs.tolist(), strict=True)):
            iid = f"IX{j + 1:09d}"
            add_raw(
                "service_interactions",
                d,
                f"{iid},{self._cid(c)},{ts_str(d * _DAY + 43200)},phone,inquiry,5.0,4,true,extra\n".encode(),
            )
            listing.append(
                {
                    "entity": "service_interactions",
                    "kind": "wrong_column_count",
                    "file_day": day_str(d),
                    "key": {"interaction_id": iid},
                }
            )

        # Returns whose refund exceeds quantity x unit_price of the line (new ids RX...).
        cnt = need[("returns", "refund_exceeds_line")]
        comp_lines = np.flatnonzero(~self.o_canc[self.l_order] & (self.o_day[self.l_order] < self.days - 1))
        if len(comp_lines) == 0:
            comp_lines = np.flatnonzero(~self.o_canc[self.l_order])
        li = rng.choice(comp_lines, size=cnt, replace=cnt > len(comp_lines))
        for j, x in enumerate(li.tolist()):
            o = self.l_order[x]
            sec = min(self.o_sec[o] + int(rng.integers(_DAY, 30 * _DAY)), self.H - 1)
            rid = f"RX{j + 1:08d}"
            q = int(self.l_q[x])
            refund = q * int(self.l_up[x]) * 2 + 100
            self.extra["returns"].append((sec // _DAY, rid, o, x, sec, q, refund))
            listing.append(
                {
                    "entity": "returns",
                    "kind": "refund_exceeds_line",
                    "file_day": day_str(sec // _DAY),
                    "key": {"return_id": rid},
                }
            )

        listing.sort(
            key=lambda r: (r["entity"], r["kind"], r["file_day"], json.dumps(r["key"], sort_keys=True))
        )
        return {
            "counts": {k: dict(sorted(v.items())) for k, v in counts.items() if v},
            "rows": listing,
            "raw": raw,
        }

    # scalar formatters (bad rows only)
    def _fmt_ts(self, sec: int) -> str:
        s = int(sec)
        d = self.start_date + timedelta(days=s // _DAY)
        r = s % _DAY
        return f"{d.isoformat()} {r // 3600:02d}:{r % 3600 // 60:02d}:{r % 60:02d}"

    @staticmethod
    def _fmt_money(c: int) -> str:
        c = int(c)
        return f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"

    def _oid(self, o: int) -> str:
        return f"O{int(o) + 1:0{self.o_width}d}"

    def _cid(self, c: int) -> str:
        return f"C{int(c) + 1:0{self.cw}d}"

    @staticmethod
    def _pid(p: int) -> str:
        p = int(p)
        return f"P{p // PRODUCTS_PER_CATEGORY + 1:02d}{p % PRODUCTS_PER_CATEGORY + 1:02d}"

    # -- arrow tables -------------------------------------------------------------------
    def tables(self, start_s: int, start_d: int) -> dict:
        """entity -> (table in contract column order, file day per row, sort key per row)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        T = {}
        n = self.n
        cid = _ids("C", np.arange(1, n + 1), self.cw)
        pid_all = pa.array([self._pid(p) for p in range(len(self.prod_cat))])
        oid = _ids("O", np.arange(1, len(self.o_cust) + 1), self.o_width)

        # customers (+ change rows)
        b2b = self.is_b2b
        first = np.where(self.female, self.first, self.first + 10)
        first_a = _vocab(FIRST_NAMES_F + FIRST_NAMES_M, first)
        last_a = _vocab(LAST_NAMES, self.last)
        comp_name = _join(
            _vocab(COMPANY_A, self.company[:, 0]),
            _vocab(COMPANY_B, self.company[:, 1]),
            _vocab(COMPANY_C, self.company[:, 2]),
            sep=" ",
        )
        num = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
        email_c = _join(pc.utf8_lower(first_a), ".", pc.utf8_lower(last_a), num, "@example.com")
        email_b = _join(
            "purchasing",
            num,
            "@",
            pc.utf8_lower(_vocab(COMPANY_A, self.company[:, 0])),
            pc.utf8_lower(_vocab(COMPANY_B, self.company[:, 1])),
            ".example.com",
        )
        bmask = pa.array(b2b)
        cmask = pa.array(~b2b)
        null_s = pa.scalar(None, pa.string())
        gender = np.where(self.gender_x, "X", np.where(self.female, "F", "M"))
        signup_day = self.signup_s // _DAY
        birth_d = signup_day - self.age_days

        def cust_cols(region, city):
            city_idx = region * 3 + city
            return {
                "customer_id": cid,
                "customer_type": pa.array(np.where(b2b, "B2B", "B2C")),
                "name": pc.if_else(bmask, comp_name, _join(first_a, last_a, sep=" ")),
                "email": pc.if_else(bmask, email_b, email_c),
                "phone": _join("+1-555-", pc.utf8_lpad(pc.cast(pa.array(self.phone), pa.string()), 7, "0")),
                "birth_date": pc.if_else(cmask, _date(start_d, birth_d), pa.scalar(None, pa.date32())),
                "gender": pc.if_else(cmask, pa.array(gender), null_s),
                "city": _vocab([c for r in REGION_NAMES for c in REGIONS[r]], city_idx),
                "region": _vocab(REGION_NAMES, region),
                "country": pa.array(np.full(n, COUNTRY)),
                "occupation": pc.if_else(cmask, _vocab(OCCUPATIONS, self.occupation), null_s),
                "industry": pc.if_else(bmask, _vocab(INDUSTRIES, self.industry), null_s),
                "employee_count": pa.array(self.employees.astype(np.int32), mask=~b2b),
                "annual_revenue": _money(self.revenue_c, b2b),
                "acquisition_channel": _vocab(ACQ_CHANNELS, self.acq),
                "signup_date": _date(start_d, signup_day),
            }

        c1 = cust_cols(self.region, self.city)
        c1["updated_at"] = _ts(start_s, self.signup_s)
        ch = np.flatnonzero(self.changed)
        c2 = {k: v.take(pa.array(ch)) for k, v in cust_cols(self.new_region, self.new_city).items()}
        c2["updated_at"] = _ts(start_s, self.change_s[ch])
        tab = pa.concat_tables([pa.table(c1), pa.table(c2)])
        T["customers"] = (
            tab,
            np.concatenate([self.cust_file_day, self.change_day[ch]]),
            np.concatenate([self.signup_s, self.change_s[ch]]) * (n + 1) + np.concatenate([np.arange(n), ch]),
        )

        # products (one file, the first day)
        cat_names = _vocab(CATEGORY_NAMES, self.prod_cat)
        pnum = pc.cast(pa.array(np.arange(len(self.prod_cat)) % PRODUCTS_PER_CATEGORY + 1), pa.string())
        T["products"] = (
            pa.table(
                {
                    "product_id": pid_all,
                    "product_name": _join(
                        pc.utf8_capitalize(pc.replace_substring(cat_names, "_", " ")), " item ", pnum
                    ),
                    "category": cat_names,
                    "unit_cost": _money(self.prod_cost_c),
                    "list_price": _money(self.prod_price_c),
                }
            ),
            np.zeros(len(self.prod_cat), dtype=np.int64),
            np.arange(len(self.prod_cat)),
        )

        # orders (+ business-rule bad rows)
        no = len(self.o_cust)
        ex = self.extra["orders"]
        dup = [e for e in ex if len(e) == 2]
        new = [e for e in ex if len(e) == 5]
        dup_o = np.array([e[1] for e in dup], dtype=np.int64)
        ords = {
            "order_id": oid,
            "customer_id": cid.take(pa.array(self.o_cust)),
            "order_ts": _ts(start_s, self.o_sec),
            "channel": _vocab(ORDER_CHANNELS, self.o_channel),
            "status": pa.array(np.where(self.o_canc, "cancelled", "completed")),
            "updated_at": _ts(start_s, self.o_upd),
        }
        parts = [pa.table(ords)]
        day_parts = [self.o_day]
        ord_parts = [np.arange(no)]
        if dup:
            parts.append(pa.table(ords).take(pa.array(dup_o)))
            day_parts.append(np.array([e[0] for e in dup], dtype=np.int64))
            ord_parts.append(dup_o)
        if new:
            secs = np.array([e[3] for e in new], dtype=np.int64)
            parts.append(
                pa.table(
                    {
                        "order_id": pa.array([e[1] for e in new]),
                        "customer_id": pa.array([e[2] for e in new]),
                        "order_ts": _ts(start_s, secs),
                        "channel": pa.array(["web"] * len(new)),
                        "status": pa.array(["completed"] * len(new)),
                        "updated_at": _ts(start_s, secs),
                    }
                )
            )
            day_parts.append(np.array([e[0] for e in new], dtype=np.int64))
            ord_parts.append(no + np.arange(len(new)))
        T["orders"] = (pa.concat_tables(parts), np.concatenate(day_parts), np.concatenate(ord_parts))

        # order lines (+ bad rows)
        nl = len(self.l_order)
        lines = {
            "order_id": oid.take(pa.array(self.l_order)),
            "line_number": pa.array(self.l_no.astype(np.int32)),
            "product_id": pid_all.take(pa.array(self.l_prod)),
            "quantity": pa.array(self.l_q.astype(np.int32)),
            "unit_price": _money(self.l_up),
            "discount_amount": _money(self.l_disc, self.l_has_disc),
        }
        parts = [pa.table(lines)]
        day_parts = [self.o_day[self.l_order]]
        ord_parts = [np.arange(nl)]
        ex = self.extra["order_lines"]
        dup = [e for e in ex if len(e) == 7]
        new = [e for e in ex if len(e) == 6]
        if dup:
            x = np.array([e[6] for e in dup], dtype=np.int64)
            parts.append(pa.table(lines).take(pa.array(x)))
            day_parts.append(np.array([e[0] for e in dup], dtype=np.int64))
            ord_parts.append(x)
        if new:
            o = np.array([e[1] for e in new], dtype=np.int64)
            parts.append(
                pa.table(
                    {
                        "order_id": oid.take(pa.array(o)),
                        "line_number": pa.array([e[2] for e in new], pa.int32()),
                        "product_id": pa.array([e[3] for e in new]),
                        "quantity": pa.array([e[4] for e in new], pa.int32()),
                        "unit_price": _money(np.array([e[5] for e in new], dtype=np.int64)),
                        "discount_amount": _money(
                            np.zeros(len(new), dtype=np.int64), np.zeros(len(new), dtype=bool)
                        ),
                    }
                )
            )
            day_parts.append(np.array([e[0] for e in new], dtype=np.int64))
            # after the order's last good line
            ord_parts.append(self.o_line_start[o] + self.o_k[o] - 1)
        T["order_lines"] = (pa.concat_tables(parts), np.concatenate(day_parts), np.concatenate(ord_parts))

        # returns (+ bad rows)
        nr = len(self.r_line)
        rl = self.r_line
        rets = {
            "return_id": _ids("R", np.arange(1, nr + 1), 8),
            "order_id": oid.take(pa.array(self.l_order[rl])),
            "product_id": pid_all.take(pa.array(self.l_prod[rl])),
            "return_ts": _ts(start_s, self.r_sec),
            "quantity": pa.array(self.r_q.astype(np.int32)),
            "refund_amount": _money(self.r_refund),
            "reason": _vocab(RETURN_REASONS, self.r_reason),
        }
        parts = [pa.table(rets)]
        day_parts = [self.r_sec // _DAY]
        ord_parts = [self.r_sec]
        ex = self.extra["returns"]
        if ex:
            x = np.array([e[3] for e in ex], dtype=np.int64)
            secs = np.array([e[4] for e in ex], dtype=np.int64)
            parts.append(
                pa.table(
                    {
                        "return_id": pa.array([e[1] for e in ex]),
                        "order_id": oid.take(pa.array(self.l_order[x])),
                        "product_id": pid_all.take(pa.array(self.l_prod[x])),
                        "return_ts": _ts(start_s, secs),
                        "quantity": pa.array([e[5] for e in ex], pa.int32()),
                        "refund_amount": _money(np.array([e[6] for e in ex], dtype=np.int64)),
                        "reason": pa.array(["changed_mind"] * len(ex)),
                    }
                )
            )
            day_parts.append(np.array([e[0] for e in ex], dtype=np.int64))
            ord_parts.append(secs)
        T["returns"] = (pa.concat_tables(parts), np.concatenate(day_parts), np.concatenate(ord_parts))

        # service interactions
        ns = len(self.s_cust)
        T["service_interactions"] = (
            pa.table(
                {
                    "interaction_id": _ids("I", np.arange(1, ns + 1), 9),
                    "customer_id": cid.take(pa.array(self.s_cust)),
                    "interaction_ts": _ts(start_s, self.s_sec),
                    "channel": _vocab(SERVICE_CHANNELS, self.s_ch),
                    "type": _vocab(SERVICE_TYPES, self.s_type),
                    "duration_minutes": pa.array(self.s_dur),
                    "satisfaction_score": pa.array(self.s_sat.astype(np.int32)),
                    "resolved": pa.array(self.s_res),
                }
            ),
            self.s_sec // _DAY,
            np.arange(ns),
        )

        # marketing contacts
        nm = len(self.m_cust)
        mday = self.m_sec // _DAY
        monday = mday + start_d - (mday + start_d + 3) % 7
        types = list(CAMPAIGN_TYPES)
        camp = _join(
            "CMP-",
            pc.replace_substring(pc.cast(_date(0, monday), pa.string()), "-", ""),
            "-",
            _vocab([CAMPAIGN_TYPES[t][0] for t in types], self.m_type),
        )
        T["marketing_contacts"] = (
            pa.table(
                {
                    "contact_id": _ids("M", np.arange(1, nm + 1), 9),
                    "customer_id": cid.take(pa.array(self.m_cust)),
                    "campaign_id": camp,
                    "channel": _vocab(CONSENT_CHANNELS, self.m_ch),
                    "contact_ts": _ts(start_s, self.m_sec),
                    "offer_category": _vocab(CATEGORY_NAMES, self.m_offer),
                    "responded": pa.array(self.m_resp),
                    "converted_order_id": pc.if_else(
                        pa.array(self.m_conv),
                        oid.take(pa.array(self.m_conv_order)),
                        pa.scalar(None, pa.string()),
                    ),
                }
            ),
            mday,
            np.arange(nm),
        )

        # consents
        T["consents"] = (
            pa.table(
                {
                    "customer_id": cid.take(pa.array(self.c_cust)),
                    "channel": _vocab(CONSENT_CHANNELS, self.c_ch),
                    "status": pa.array(np.where(self.c_status, "opt_in", "opt_out")),
                    "updated_at": _ts(start_s, self.c_sec),
                }
            ),
            self.c_day,
            self.c_sec * (4 * n + 4) + self.c_cust * 4 + self.c_ch,
        )

        # wallet surveys
        i = self.sv_i
        T["wallet_surveys"] = (
            pa.table(
                {
                    "survey_id": _ids("S", np.arange(1, len(i) + 1), 8),
                    "customer_id": cid.take(pa.array(self.w_cust[i])),
                    "survey_date": _date(start_d, self.sv_day),
                    "category": _vocab(CATEGORY_NAMES, self.w_cat[i]),
                    "reported_annual_spend": _money(self.sv_cents),
                    "source": _vocab(SURVEY_SOURCES, self.sv_src),
                }
            ),
            self.sv_day,
            np.arange(len(i)),
        )

        # installed base
        i = self.ib_i
        T["installed_base"] = (
            pa.table(
                {
                    "customer_id": cid.take(pa.array(self.w_cust[i])),
                    "category": _vocab(CATEGORY_NAMES, self.w_cat[i]),
                    "as_of_date": _date(start_d, self.ib_day),
                    "units_installed": pa.array(self.ib_units.astype(np.int32)),
                }
            ),
            self.ib_day,
            np.arange(len(i)),
        )
        self._cid_arr = cid
        return T

    # -- ground truth -------------------------------------------------------------------
    def write_ground_truth(
        self, folder: Path, seed: int, end_date: date, start_s: int, start_d: int, bad: dict
    ) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        types = list(CAMPAIGN_TYPES)
        rates = [
            {
                "segment": seg,
                "campaign_type": t,
                "campaign_code": CAMPAIGN_TYPES[t][0],
                "channel": ch,
                "rate": min(
                    0.9,
                    CAMPAIGN_TYPES[t][2] * RESPONSE_CHANNEL_MULTIPLIER[ch] * RESPONSE_SEGMENT_MULTIPLIER[seg],
                ),
            }
            for seg in ("B2C", "B2B")
            for t in types
            for ch in CONSENT_CHANNELS
            if not (seg == "B2B" and t == "birthday_upcoming")
        ]
        completed = ~self.o_canc
        params = {
            "seed": seed,
            "start_date": self.start_date.isoformat(),
            "end_date": end_date.isoformat(),
            "days": self.days,
            "customers": self.n,
            "time_unit": "day",
            **BGNBD,
            "p": GAMMA_GAMMA["p"],
            "q": GAMMA_GAMMA["q"],
            "gamma": GAMMA_GAMMA["gamma"],
            "b2b_spend_multiplier": B2B_SPEND_MULTIPLIER,
            "b2b_share": B2B_SHARE,
            "seasonality": {
                "monthly_multiplier": SEASONALITY,
                "method": "time change (equivalent to thinning)",
            },
            "cancelled_share": CANCELLED_SHARE,
            "return_share": RETURN_SHARE,
            "category_parameters": [{"category": c, **CATEGORIES[c]} for c in CATEGORY_NAMES],
            "share_of_wallet_beta": list(SHARE_OF_WALLET_BETA),
            "wallet_survey_noise_sigma": WALLET_SURVEY_NOISE_SIGMA,
            "response_rates": rates,
            "campaign_id_format": "CMP-<monday YYYYMMDD>-<campaign_code>",
            "conversion_window_days": CONVERSION_WINDOW_DAYS,
            "service_rate_per_year": SERVICE_RATE_PER_YEAR,
            "contact_rate_per_year": CONTACT_RATE_PER_YEAR,
            "counts": {
                "customers": self.n,
                "customers_born": int(self.born.sum()),
                "customers_alive_at_end": int(self.alive_at_end.sum()),
                "orders_completed": int(completed.sum()),
                "orders_cancelled": int(self.o_canc.sum()),
                "order_lines": int(len(self.l_order)),
                "returns": int(len(self.r_line)),
                "service_interactions": int(len(self.s_cust)),
                "marketing_contacts": int(len(self.m_cust)),
                "consents": int(len(self.c_cust)),
                "wallet_surveys": int(len(self.sv_i)),
                "installed_base": int(len(self.ib_i)),
            },
        }
        (folder / "params.json").write_text(json.dumps(params, indent=2, sort_keys=False) + "\n")
        bad_doc = {
            "counts": bad["counts"],
            "parse_failure_kinds": list(PARSE_FAILURE_KINDS),
            "rows": bad["rows"],
        }
        (folder / "bad_rows.json").write_text(json.dumps(bad_doc, indent=1) + "\n")
        n_orders = np.bincount(self.o_cust[completed], minlength=self.n)
        birth_day = np.floor(self.birth_t).astype(np.int64)
        pq.write_table(
            pa.table(
                {
                    "customer_id": self._cid_arr,
                    "customer_type": pa.array(np.where(self.is_b2b, "B2B", "B2C")),
                    "lambda": pa.array(self.lam),
                    "p_dropout": pa.array(self.pdrop),
                    "nu": pa.array(self.nu),
                    "expected_order_value": pa.array(GAMMA_GAMMA["p"] / self.nu),
                    "alive_at_end": pa.array(self.alive_at_end),
                    "birth_date": pc.if_else(
                        pa.array(self.born),
                        _date(start_d, np.minimum(birth_day, self.days - 1)),
                        pa.scalar(None, pa.date32()),
                    ),
                    "completed_orders": pa.array(n_orders),
                }
            ),
            folder / "customers.parquet",
        )
        end_day = self.days - 1
        pq.write_table(
            pa.table(
                {
                    "customer_id": self._cid_arr.take(pa.array(self.w_cust)),
                    "category": _vocab(CATEGORY_NAMES, self.w_cat),
                    "category_weight": pa.array(self._w_weight()),
                    "expected_annual_spend": pa.array(self.w_spend),
                    "true_wallet": pa.array(self.w_wallet),
                    "true_share": pa.array(self.w_share),
                    "as_of_date": _date(start_d, np.full(len(self.w_cust), end_day)),
                }
            ),
            folder / "wallets.parquet",
        )

    def _w_weight(self) -> np.ndarray:
        slot = _within_group_index(np.repeat(_starts(self.k_pref), self.k_pref))
        return self.pref_w[self.w_cust, slot]
