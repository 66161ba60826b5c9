"""Service interactions, marketing contacts (responses and conversions) and consents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvw.generate.draws import choice, choice_by_type, time_of_day
from cvw.generate.params import (
    CAMPAIGN_TYPES,
    CATEGORY_NAMES,
    CONSENT_CHANGE_SHARE,
    CONSENT_CHANNELS,
    CONSENT_MISSING_SHARE,
    CONSENT_OPT_IN,
    CONTACT_CHANNEL_P,
    CONTACT_RATE_PER_YEAR,
    CONVERSION_WINDOW_DAYS,
    RESPONSE_CHANNEL_MULTIPLIER,
    RESPONSE_SEGMENT_MULTIPLIER,
    SATISFACTION_P,
    SERVICE_CHANNEL_P,
    SERVICE_DURATION_MEDIAN,
    SERVICE_RATE_PER_YEAR,
    SERVICE_TYPE_P,
)
from cvw.generate.simulation.customers import Customers, active_span
from cvw.generate.simulation.orders import Orders
from cvw.generate.window import DAY, Window


@dataclass(frozen=True, eq=False)
class Service:
    """Service interactions sorted by (time, customer)."""

    cust: np.ndarray
    sec: np.ndarray
    type: np.ndarray  # index into SERVICE_TYPES
    channel: np.ndarray  # index into SERVICE_CHANNELS
    duration: np.ndarray
    satisfaction: np.ndarray
    resolved: np.ndarray


@dataclass(frozen=True, eq=False)
class Marketing:
    """Marketing contacts sorted by (time, customer); ``conv_order`` is meaningful where ``converted``."""

    cust: np.ndarray
    sec: np.ndarray
    type: np.ndarray  # index into CAMPAIGN_TYPES
    channel: np.ndarray  # index into CONSENT_CHANNELS
    responded: np.ndarray
    offer: np.ndarray  # category index
    converted: np.ndarray
    conv_order: np.ndarray


@dataclass(frozen=True, eq=False)
class Consents:
    """Consent records: initial ones (at signup), then changes, then changes back."""

    cust: np.ndarray
    channel: np.ndarray  # index into CONSENT_CHANNELS
    status: np.ndarray  # opt-in
    sec: np.ndarray
    day: np.ndarray


def simulate_service(window: Window, customers: Customers, rng: np.random.Generator) -> Service:
    """Poisson interactions per customer-year after signup."""
    lo, span = active_span(window, customers)
    rate = np.where(customers.is_b2b, SERVICE_RATE_PER_YEAR["B2B"], SERVICE_RATE_PER_YEAR["B2C"])
    cnt = rng.poisson(rate * span / (365.25 * DAY))
    cust = np.repeat(np.arange(window.customers), cnt)
    m = len(cust)
    sec = lo[cust] + (rng.random(m) * span[cust]).astype(np.int64)
    day = sec // DAY
    sec = np.maximum(day * DAY + time_of_day(rng, m, 8, 20, 13, 3), lo[cust])
    typ = choice(rng, SERVICE_TYPE_P, m)
    ch = choice(rng, SERVICE_CHANNEL_P, m)
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
    return Service(
        cust=cust[order],
        sec=sec[order],
        type=typ[order],
        channel=ch[order],
        duration=dur[order],
        satisfaction=sat[order],
        resolved=resolved[order],
    )


def simulate_marketing(window: Window, customers: Customers, orders: Orders, rng: np.random.Generator) -> Marketing:
    """Poisson contacts per customer-year; responses by type x channel x segment; conversions attributed."""
    lo, span = active_span(window, customers)
    rate = np.where(customers.is_b2b, CONTACT_RATE_PER_YEAR["B2B"], CONTACT_RATE_PER_YEAR["B2C"])
    cnt = rng.poisson(rate * span / (365.25 * DAY))
    cust = np.repeat(np.arange(window.customers), cnt)
    m = len(cust)
    day = (lo[cust] + (rng.random(m) * span[cust]).astype(np.int64)) // DAY
    sec = np.maximum(day * DAY + time_of_day(rng, m, 8, 19, 11, 2.5), lo[cust])
    types = list(CAMPAIGN_TYPES)
    ctype = choice(rng, [CAMPAIGN_TYPES[t][1] for t in types], m)
    b2b = customers.is_b2b[cust]
    ctype = np.where(b2b & (ctype == types.index("birthday_upcoming")), types.index("newsletter"), ctype)
    ch = choice_by_type(rng, CONTACT_CHANNEL_P, b2b)
    base = np.array([CAMPAIGN_TYPES[t][2] for t in types])[ctype]
    chm = np.array([RESPONSE_CHANNEL_MULTIPLIER[c] for c in CONSENT_CHANNELS])[ch]
    segm = np.where(b2b, RESPONSE_SEGMENT_MULTIPLIER["B2B"], RESPONSE_SEGMENT_MULTIPLIER["B2C"])
    responded = rng.random(m) < np.minimum(base * chm * segm, 0.9)
    u = rng.random(m)
    pref_slot = (u > customers.pref_cum[cust, 0]).astype(np.int64) + (u > customers.pref_cum[cust, 1])
    offer = np.where(rng.random(m) < 0.6, customers.prefs[cust, pref_slot], rng.integers(0, len(CATEGORY_NAMES), m))
    # Conversion: first completed order of the customer within 14 days after the contact.
    comp = np.flatnonzero(~orders.canc)
    okey = orders.cust[comp] * (1 << 34) + orders.sec[comp]
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
            & (orders.cust[cand] == cust)
            & (orders.sec[cand] <= sec + CONVERSION_WINDOW_DAYS * DAY)
        )
    else:
        cand = np.zeros(m, dtype=np.int64)
        conv = np.zeros(m, dtype=bool)
    order = np.lexsort((cust, sec))
    return Marketing(
        cust=cust[order],
        sec=sec[order],
        type=ctype[order],
        channel=ch[order],
        responded=responded[order],
        offer=offer[order],
        converted=conv[order],
        conv_order=cand[order],
    )


def simulate_consents(window: Window, customers: Customers, rng: np.random.Generator) -> Consents:
    """A record per customer x channel (some missing) at signup; some flip later, half of those flip back."""
    n, days, nc = window.customers, window.days, len(CONSENT_CHANNELS)
    has = rng.random((n, nc)) >= CONSENT_MISSING_SHARE
    opt_in = rng.random((n, nc)) < np.asarray(CONSENT_OPT_IN)
    cust, ch = np.nonzero(has)
    status = opt_in[cust, ch]
    sec0 = customers.signup_s[cust]
    day0 = customers.file_day[cust]
    m = len(cust)
    change = rng.random(m) < CONSENT_CHANGE_SHARE
    lo = day0 + 1
    change &= lo < days
    c1 = lo + (rng.random(m) * np.maximum(days - lo, 1)).astype(np.int64)
    back = change & (rng.random(m) < 0.5) & (c1 + 1 < days)
    c2 = c1 + 1 + (rng.random(m) * np.maximum(days - c1 - 1, 1)).astype(np.int64)
    tod1, tod2 = time_of_day(rng, m, 0, 23.9, 12, 5), time_of_day(rng, m, 0, 23.9, 12, 5)
    i1, i2 = np.flatnonzero(change), np.flatnonzero(back)
    return Consents(
        cust=np.concatenate([cust, cust[i1], cust[i2]]),
        channel=np.concatenate([ch, ch[i1], ch[i2]]),
        status=np.concatenate([status, ~status[i1], status[i2]]),
        sec=np.concatenate([sec0, c1[i1] * DAY + tod1[i1], c2[i2] * DAY + tod2[i2]]),
        day=np.concatenate([day0, c1[i1], c2[i2]]),
    )
