"""Synthetic landing data with known ground truth (SPEC §3, §4, §8).

``generate(out, customers, days, ...)`` writes the ten landing entities of
:data:`cvw.contract.ENTITIES` as daily CSV files ``out/<entity>/<entity>_YYYY-MM-DD.csv``
and the true parameters beside them in ``out/_ground_truth/`` (ingest skips folders that
start with ``_``).

The generative model (all "true" parameters are the constants of :mod:`cvw.generate.params`):

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
* **Wallet** (issue 18; parameters ``WALLET_NEED``, ``WALLET_SHARE``, ``WALLET_SCALE``, ``WALLET_SHARE_MAX``,
  ``WALLET_LAMBDA_RHO``, ``CATEGORY_NEED``). Every customer has a *need* (log scale): for B2B ``0.6 *
  log(employees / 50)`` plus an industry effect, for B2C an age-band and an occupation effect, for both a
  region effect, plus ``Normal(0, 0.35)``. The customer's wallet over all categories is ``WALLET_SCALE[type] *
  exp(need)``, split over the eight categories by relative need (customer-type weight x industry or age-band
  affinity x ``LogNormal(0, 0.3)``), whether the customer buys the category from us or not. A *share
  propensity* follows what we control: ``logit = -0.5 + acquisition channel + 0.15 * tenure years (capped at
  6) + Normal(0, 0.6)``. The purchase rate ``lambda`` is coupled to ``need + propensity`` by a Gaussian copula
  on normal scores ranked within each customer type (rho 0.85): each ``lambda`` is re-drawn as ``F^-1(Phi(rho
  * z + sqrt(1 - rho^2) * Phi^-1(F(lambda))))``, so it is still exactly ``Gamma(r, alpha)`` among B2B and
  among B2C customers and BG/NBD holds, but customers with more need and a higher propensity buy more. In a
  category the customer buys from us (preferred, weight ``w_c``) the expected yearly spend with us is ``lambda
  * 365.25 * (p / nu) * w_c``; the category's wallet is never below that spend over ``WALLET_SHARE_MAX``
  (0.95), and the true share is spend / wallet. So every customer x category has a wallet
  (``_ground_truth/wallets.parquet``, ``bought_from_us``), the share varies with channel and tenure, and some
  customers have large wallets and small shares. The wallet grows with the category's ``annual_growth_rate``:
  ``W(t) = W(end) * (1 + g) ** ((t - end) / 365.25)``. Surveys (10% of customers, 1-3 categories each, any
  category) report ``W(survey_date) * LogNormal(0, 0.1)``; installed base rows (30% of B2B customers, durable
  categories they buy from us) report ``round(W(as_of) * replacement_cycle_years / avg_unit_price)`` units.
* **Campaign response**: ``P(responded) = base[campaign_type] * channel[channel] *
  segment[customer_type]`` (table in ``params.json``). The campaign type is encoded in
  ``campaign_id`` = ``CMP-<monday YYYYMMDD>-<type code>``. A response is only attributed
  (``converted_order_id``) to a completed order within 14 days; it does not cause one.
* **Bad rows** (SPEC §8, ``bad_rows_rate > 0``): extra rows, each of exactly one kind,
  listed with their keys and counted per (entity, kind) in ``bad_rows.json``.

Same seed, same arguments: byte-identical files (independent random streams per part,
no wall clock, no set/dict ordering); tests/fixtures/generator_sha256.json holds the
SHA-256 of every file for a few configurations.

The parts, in data-flow order (``generate`` below is the whole sequence):

* ``params.py``: the true parameters, vocabularies, categories and bad-row kinds;
* ``window.py``: the window (days, start date, seconds since the start, customer id width);
* ``simulation/``: one function per part with its own random stream, each returning a frozen
  dataclass of numpy arrays (``customers.py``: customers, products; ``orders.py``: purchases,
  orders, lines, returns; ``contacts.py``: service, marketing, consents; ``wallet.py``: wallets,
  surveys, installed base); ``simulate`` calls them and returns the ``World``;
* ``bad_rows.py``: ``inject_bad_rows(world, rate, rng)`` returns the rows it adds (``BadRows``):
  business-rule rows for the typed tables, raw byte lines for parse failures, listing and counts;
* ``writers.py``: the world plus the bad rows as one CSV per entity and day;
* ``ground_truth.py``: ``_ground_truth/`` (params.json, bad_rows.json, customers/wallets.parquet);
* ``draws.py``, ``formats.py``: vectorised draws; ids and values as they appear in the files.
"""

from __future__ import annotations

import shutil
import time
from datetime import date, timedelta
from pathlib import Path

from cvw.contract import ENTITIES
from cvw.generate.bad_rows import inject_bad_rows
from cvw.generate.ground_truth import write_ground_truth
from cvw.generate.params import (
    B2B_SHARE,
    B2B_SPEND_MULTIPLIER,
    BAD_ROW_KINDS,
    BGNBD,
    CATEGORIES,
    CATEGORY_NAMES,
    GAMMA_GAMMA,
    PARSE_FAILURE_KINDS,
    SEASONALITY,
)
from cvw.generate.simulation import random_streams, simulate
from cvw.generate.window import Window
from cvw.generate.writers import write_landing

__all__ = [
    "B2B_SHARE",
    "B2B_SPEND_MULTIPLIER",
    "BAD_ROW_KINDS",
    "BGNBD",
    "CATEGORIES",
    "CATEGORY_NAMES",
    "GAMMA_GAMMA",
    "PARSE_FAILURE_KINDS",
    "SEASONALITY",
    "generate",
]


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
    window = Window(customers, days, end_date - timedelta(days=days - 1))
    rngs = random_streams(seed)
    world = simulate(window, rngs)
    bad = inject_bad_rows(world, bad_rows_rate, rngs["bad"])

    for name in list(ENTITIES) + ["_ground_truth"]:
        shutil.rmtree(out / name, ignore_errors=True)
    (out / "_ground_truth").mkdir(parents=True, exist_ok=True)
    rows, files = write_landing(out, world, bad)
    write_ground_truth(out / "_ground_truth", world, bad, seed, end_date)
    return {
        "rows": rows,
        "bad_rows": bad.counts,
        "files": files,
        "seconds": round(time.perf_counter() - t0, 3),
        "start_date": window.start_date.isoformat(),
        "end_date": end_date.isoformat(),
    }
