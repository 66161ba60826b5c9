"""True wallets per customer x preferred category, wallet surveys and installed base."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvw.generate.draws import group_starts, within_group_index
from cvw.generate.params import (
    CATEGORIES,
    CATEGORY_NAMES,
    GAMMA_GAMMA,
    INSTALLED_BASE_B2B_SHARE,
    INSTALLED_BASE_MIN_CYCLE,
    SHARE_OF_WALLET_BETA,
    WALLET_SURVEY_NOISE_SIGMA,
    WALLET_SURVEY_SHARE,
)
from cvw.generate.simulation.customers import Customers, active_span
from cvw.generate.window import DAY, Window


@dataclass(frozen=True, eq=False)
class Wallets:
    """One row per customer x preferred category (customer order, then preference slot), as of the last day."""

    cust: np.ndarray
    cat: np.ndarray
    weight: np.ndarray  # the customer's preference weight of the category
    spend: np.ndarray  # expected yearly spend with us while alive
    share: np.ndarray  # true share of wallet
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
    """True wallets, then surveys reporting them (with noise), then installed base units implied by them."""
    n, days = window.customers, window.days
    cust = np.repeat(np.arange(n), customers.k_pref)
    slot = within_group_index(np.repeat(group_starts(customers.k_pref), customers.k_pref))
    cat = customers.prefs[cust, slot]
    w = customers.pref_w[cust, slot]
    spend = customers.lam[cust] * 365.25 * GAMMA_GAMMA["p"] / customers.nu[cust] * w
    share = rng.beta(*SHARE_OF_WALLET_BETA, len(cust))
    wallet = spend / share
    wallets = Wallets(cust=cust, cat=cat, weight=w, spend=spend, share=share, wallet=wallet)
    growth = np.array([CATEGORIES[c]["annual_growth_rate"] for c in CATEGORY_NAMES])
    cycle = np.array([CATEGORIES[c]["replacement_cycle_years"] for c in CATEGORY_NAMES])
    avgp = np.array([CATEGORIES[c]["avg_unit_price"] for c in CATEGORY_NAMES])

    def wallet_at(i, day):  # day since start; wallet is defined as of end (day = days-1)
        return wallet[i] * (1 + growth[cat[i]]) ** ((day - (days - 1)) / 365.25)

    lo, span = active_span(window, customers)
    surveyed = rng.random(n) < WALLET_SURVEY_SHARE
    ncat = np.minimum(rng.integers(1, 4, n), customers.k_pref)
    pick = surveyed[cust] & (slot < ncat[cust]) & (span[cust] > 0)
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
    # Installed base: ~30% of B2B customers, durable categories, one row per year.
    ib_cust = customers.is_b2b & (rng.random(n) < INSTALLED_BASE_B2B_SHARE)
    offset = rng.integers(0, 365, n)
    durable = cycle[cat] >= INSTALLED_BASE_MIN_CYCLE
    base_i = np.flatnonzero(ib_cust[cust] & durable)
    first_day = np.maximum(lo[cust[base_i]] // DAY, 0) + offset[cust[base_i]] % 365
    nyears = np.where(first_day < days, (days - 1 - first_day) // 365 + 1, 0)
    ii = np.repeat(base_i, nyears)
    k = within_group_index(np.repeat(group_starts(nyears), nyears))
    ad = np.repeat(first_day, nyears) + 365 * k
    units = np.maximum(1, np.round(wallet_at(ii, ad) * cycle[cat[ii]] / avgp[cat[ii]]))
    order = np.lexsort((cat[ii], cust[ii], ad))
    installed = InstalledBase(wallet_row=ii[order], day=ad[order], units=units[order].astype(np.int64))
    return wallets, surveys, installed
