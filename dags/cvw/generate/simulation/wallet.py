"""True wallets per customer x category (bought from us or not), wallet surveys and installed base."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvw.generate.draws import group_starts, within_group_index
from cvw.generate.params import (
    CATEGORIES,
    CATEGORY_NAMES,
    CATEGORY_NEED,
    GAMMA_GAMMA,
    INSTALLED_BASE_B2B_SHARE,
    INSTALLED_BASE_MIN_CYCLE,
    WALLET_SCALE,
    WALLET_SHARE_MAX,
    WALLET_SURVEY_NOISE_SIGMA,
    WALLET_SURVEY_SHARE,
)
from cvw.generate.simulation.customers import Customers, active_span
from cvw.generate.simulation.drivers import category_need
from cvw.generate.window import DAY, Window


@dataclass(frozen=True, eq=False)
class Wallets:
    """One row per customer x category (customer order, then category order), every category, as of the last day."""

    cust: np.ndarray
    cat: np.ndarray
    weight: np.ndarray  # the customer's preference weight of the category (0: not a category they buy from us)
    spend: np.ndarray  # expected yearly spend with us while alive (0 outside the preferred categories)
    share: np.ndarray  # true share of wallet (0 outside the preferred categories)
    wallet: np.ndarray


@dataclass(frozen=True, eq=False)
class Surveys:
    """Wallet surveys sorted by (day, wallet row); ``wallet_row`` indexes Wallets."""

    wallet_row: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    source: np.ndarray  # index into SURVEY_SOURCES


@dataclass(frozen=True, eq=False)
class InstalledBase:
    """Installed base rows sorted by (day, customer, category); ``wallet_row`` indexes Wallets."""

    wallet_row: np.ndarray
    day: np.ndarray
    units: np.ndarray


def simulate_wallets(
    window: Window, customers: Customers, rng: np.random.Generator
) -> tuple[Wallets, Surveys, InstalledBase]:
    """True wallets, then surveys reporting them (with noise), then installed base units implied by them.

    A customer's wallet over all categories is WALLET_SCALE[type] x exp(need), split over the categories by
    relative need (customer type x industry or age band, lognormal noise), bought from us or not; a category's
    wallet is never below our expected yearly spend in it over WALLET_SHARE_MAX. The share is spend / wallet."""
    n, days = window.customers, window.days
    k = len(CATEGORY_NAMES)
    cust = np.repeat(np.arange(n), k)
    cat = np.tile(np.arange(k), n)
    pref_w = np.zeros((n, k))
    rows = np.arange(n)[:, None]
    pref_w[rows, customers.prefs] = np.where(np.arange(3)[None, :] < customers.k_pref[:, None], customers.pref_w, 0)
    preferred = pref_w > 0
    yearly = customers.lam * 365.25 * GAMMA_GAMMA["p"] / customers.nu  # with us, while alive
    spend = yearly[:, None] * pref_w
    need = category_need(customers.is_b2b, customers.industry, customers.age_band) * np.exp(
        rng.normal(0.0, CATEGORY_NEED["sigma"], (n, k)))
    total = np.where(customers.is_b2b, WALLET_SCALE["B2B"], WALLET_SCALE["B2C"]) * np.exp(customers.log_need)
    wallet = np.maximum(total[:, None] * need / need.sum(axis=1, keepdims=True), spend / WALLET_SHARE_MAX)
    share = spend / wallet
    wallets = Wallets(cust=cust, cat=cat, weight=pref_w.ravel(), spend=spend.ravel(), share=share.ravel(),
                      wallet=wallet.ravel())
    wallet = wallets.wallet
    growth = np.array([CATEGORIES[c]["annual_growth_rate"] for c in CATEGORY_NAMES])
    cycle = np.array([CATEGORIES[c]["replacement_cycle_years"] for c in CATEGORY_NAMES])
    avgp = np.array([CATEGORIES[c]["avg_unit_price"] for c in CATEGORY_NAMES])

    def wallet_at(i, day):  # day since start; wallet is defined as of end (day = days-1)
        return wallet[i] * (1 + growth[cat[i]]) ** ((day - (days - 1)) / 365.25)

    lo, span = active_span(window, customers)
    surveyed = rng.random(n) < WALLET_SURVEY_SHARE
    ncat = rng.integers(1, 4, n)
    # a surveyed customer reports on 1-3 categories, any of them (bought from us or not)
    rank = np.argsort(np.argsort(rng.random((n, k)), axis=1), axis=1).ravel()
    pick = surveyed[cust] & (rank < ncat[cust]) & (span[cust] > 0)
    i = np.flatnonzero(pick)
    sday = (lo[cust[i]] + (rng.random(len(i)) * span[cust[i]]).astype(np.int64)) // DAY
    rep = wallet_at(i, sday) * np.exp(rng.normal(0, WALLET_SURVEY_NOISE_SIGMA, len(i)))
    b2b = customers.is_b2b[cust[i]]
    src = np.where(b2b, rng.random(len(i)) < 0.7, rng.random(len(i)) < 0.3).astype(np.int64)
    order = np.lexsort((i, sday))
    surveys = Surveys(
        wallet_row=i[order],
        day=sday[order],
        cents=np.round(rep[order] * 100).astype(np.int64),
        source=src[order],
    )
    # Installed base: ~30% of B2B customers, durable categories they buy from us, one row per year.
    ib_cust = customers.is_b2b & (rng.random(n) < INSTALLED_BASE_B2B_SHARE)
    offset = rng.integers(0, 365, n)
    durable = cycle[cat] >= INSTALLED_BASE_MIN_CYCLE
    base_i = np.flatnonzero(ib_cust[cust] & durable & preferred.ravel())
    first_day = np.maximum(lo[cust[base_i]] // DAY, 0) + offset[cust[base_i]] % 365
    nyears = np.where(first_day < days, (days - 1 - first_day) // 365 + 1, 0)
    ii = np.repeat(base_i, nyears)
    k = within_group_index(np.repeat(group_starts(nyears), nyears))
    ad = np.repeat(first_day, nyears) + 365 * k
    units = np.maximum(1, np.round(wallet_at(ii, ad) * cycle[cat[ii]] / avgp[cat[ii]]))
    order = np.lexsort((cat[ii], cust[ii], ad))
    installed = InstalledBase(wallet_row=ii[order], day=ad[order], units=units[order].astype(np.int64))
    return wallets, surveys, installed
