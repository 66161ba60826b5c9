"""Purchases (BG/NBD with seasonality), orders (Gamma-Gamma values, cancellations), order lines, returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvw.generate.draws import choice_by_type, group_starts, time_of_day, within_group_index
from cvw.generate.params import (
    CANCELLED_SHARE,
    CATEGORY_NAMES,
    CONSUMABLES,
    DISCOUNT_P,
    GAMMA_GAMMA,
    LINES_P,
    ORDER_CHANNEL_P,
    PRODUCTS_PER_CATEGORY,
    QUANTITY_P,
    RETURN_REASONS,
    RETURN_SHARE,
    SEASONALITY,
)
from cvw.generate.simulation.customers import Customers, Products
from cvw.generate.window import DAY, Window


@dataclass(frozen=True, eq=False)
class Purchases:
    """Completed purchases (customer, time in days since the start), births first, then repeats."""

    born: np.ndarray  # per customer: first purchase inside the window
    alive_at_end: np.ndarray  # per customer
    cust: np.ndarray
    t: np.ndarray


@dataclass(frozen=True, eq=False)
class Orders:
    """Orders sorted by (time, customer, cancelled); order ``o`` has id ``O<o + 1>`` of ``id_width`` digits."""

    cust: np.ndarray
    sec: np.ndarray
    canc: np.ndarray
    z: np.ndarray  # order value
    day: np.ndarray
    channel: np.ndarray
    upd: np.ndarray  # updated_at, seconds
    id_width: int


@dataclass(frozen=True, eq=False)
class Lines:
    """Order lines grouped by order; ``per_order`` / ``order_start``: each order's line count and first line."""

    per_order: np.ndarray
    order_start: np.ndarray
    order: np.ndarray
    number: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price_c: np.ndarray
    discount_c: np.ndarray
    has_discount: np.ndarray
    category: np.ndarray


@dataclass(frozen=True, eq=False)
class Returns:
    """Returns sorted by (time, line); ``reason`` is in draw order (not sorted), as it always was."""

    line: np.ndarray
    sec: np.ndarray
    quantity: np.ndarray
    refund_c: np.ndarray
    reason: np.ndarray


def operational_time(window: Window) -> np.ndarray:
    """Lambda at day boundaries: the integral of the daily seasonality from the start (days + 1 values)."""
    dates = np.datetime64(window.start_date.isoformat()) + np.arange(window.days)
    month = dates.astype("datetime64[M]").astype(np.int64) % 12
    season_day = np.asarray(SEASONALITY)[month]
    return np.concatenate([[0.0], np.cumsum(season_day)])


def simulate_purchases(window: Window, customers: Customers, rng: np.random.Generator) -> Purchases:
    """BG/NBD with seasonality via a time change: exponential gaps in operational time, dropout after repeats."""
    n, days = window.customers, window.days
    cum_lambda = operational_time(window)
    H_days = float(days)
    tau_end = cum_lambda[-1]
    born = np.flatnonzero(customers.birth_t < H_days)
    born_mask = np.zeros(n, dtype=bool)
    born_mask[born] = True
    cust_parts = [born]
    t_parts = [customers.birth_t[born]]
    alive = np.ones(n, dtype=bool)
    idx = born
    tau = np.interp(customers.birth_t[born], np.arange(days + 1), cum_lambda)
    lam = customers.lam[born]
    pdrop = customers.pdrop[born]
    while len(idx):
        tau = tau + rng.exponential(1.0, len(idx)) / lam
        inside = tau < tau_end
        idx, tau, lam, pdrop = idx[inside], tau[inside], lam[inside], pdrop[inside]
        t = np.interp(tau, cum_lambda, np.arange(days + 1))
        t = np.minimum(t, np.nextafter(H_days, 0))
        cust_parts.append(idx)
        t_parts.append(t)
        dies = rng.random(len(idx)) < pdrop
        alive[idx[dies]] = False
        keep = ~dies
        idx, tau, lam, pdrop = idx[keep], tau[keep], lam[keep], pdrop[keep]
    return Purchases(
        born=born_mask,
        alive_at_end=alive & born_mask,
        cust=np.concatenate(cust_parts),
        t=np.concatenate(t_parts),
    )


def simulate_orders(customers: Customers, purchases: Purchases, rng: np.random.Generator) -> Orders:
    """One completed order per purchase, plus cancelled orders earlier on the day of a purchase."""
    cust, t = purchases.cust, purchases.t
    n = len(cust)
    day = np.floor(t).astype(np.int64)
    sec = day * DAY + time_of_day(rng, n, 6, 23.5, 14, 4)
    sig = customers.signup_s[cust]
    same = sec <= sig  # only possible on the signup day: place after signup
    day_end = day * DAY + DAY - 1
    sec = np.where(same, sig + 1 + (rng.random(n) * np.maximum(day_end - sig - 1, 0)).astype(np.int64), sec)
    # z ~ Gamma(p, rate nu_raw) * mult with nu (effective) = nu_raw / mult  <=>  z ~ Gamma(p, rate nu)
    z = rng.gamma(GAMMA_GAMMA["p"], 1.0, n) / customers.nu[cust]
    # Cancelled orders: extra orders earlier on the day of a real purchase.
    canc = rng.random(n) < CANCELLED_SHARE / (1 - CANCELLED_SHARE)
    ci = np.flatnonzero(canc)
    lo = np.minimum(np.maximum(day[ci] * DAY + 6 * 3600, sig[ci] + 1), sec[ci])
    csec = lo + (rng.random(len(ci)) * np.maximum(sec[ci] - lo, 0)).astype(np.int64)
    cz = rng.gamma(GAMMA_GAMMA["p"], 1.0, len(ci)) / customers.nu[cust[ci]]
    o_cust = np.concatenate([cust, cust[ci]])
    o_sec = np.concatenate([sec, csec])
    o_canc = np.concatenate([np.zeros(n, bool), np.ones(len(ci), bool)])
    o_z = np.concatenate([z, cz])
    order = np.lexsort((o_canc, o_cust, o_sec))
    o_cust = o_cust[order].astype(np.int64)
    o_sec = o_sec[order]
    o_canc = o_canc[order]
    no = len(order)
    channel = choice_by_type(rng, ORDER_CHANNEL_P, customers.is_b2b[o_cust])
    upd = np.where(rng.random(no) < 0.3, rng.integers(60, 3 * DAY, no), 0)
    upd = np.where(o_canc, rng.integers(300, DAY, no), upd)
    return Orders(
        cust=o_cust,
        sec=o_sec,
        canc=o_canc,
        z=o_z[order],
        day=o_sec // DAY,
        channel=channel,
        upd=o_sec + upd,
        id_width=max(9, len(str(no))),
    )


def simulate_lines(customers: Customers, products: Products, orders: Orders, rng: np.random.Generator) -> Lines:
    """1-4 lines per order; categories from the customer's preferences; the order value split over the lines."""
    no = len(orders.cust)
    ob2b = customers.is_b2b[orders.cust]
    k = choice_by_type(rng, LINES_P, ob2b) + 1
    starts = group_starts(k)
    li_order = np.repeat(np.arange(no), k)
    nl = len(li_order)
    line_no = within_group_index(np.repeat(starts, k)) + 1
    cust = orders.cust[li_order]
    lb2b = customers.is_b2b[cust]
    u = rng.random(nl)
    slot = (u > customers.pref_cum[cust, 0]).astype(np.int64) + (u > customers.pref_cum[cust, 1])
    cat = customers.prefs[cust, slot]
    q = choice_by_type(rng, QUANTITY_P, lb2b) + 1
    consumable = np.isin(cat, [CATEGORY_NAMES.index(c) for c in CONSUMABLES])
    q = np.minimum(q + consumable * rng.integers(0, 3, nl), 5)
    gsplit = rng.gamma(2.0, 1.0, nl)
    share = gsplit / np.bincount(li_order, gsplit, minlength=no)[li_order]
    target = orders.z[li_order] * share  # line net value
    disc = rng.random(nl) < np.where(lb2b, DISCOUNT_P["B2B"], DISCOUNT_P["B2C"])
    d = np.where(disc, rng.uniform(0.05, 0.25, nl), 0.0)
    # Products: nearest list price to the target unit price (with noise), in category.
    want = np.log(target / (1 - d) / q) + rng.normal(0, 0.1, nl)
    pkeys = products.category * 100.0 + np.log(products.price_c / 100.0)
    key = cat * 100.0 + want
    j = np.searchsorted(pkeys, key)
    first = cat * PRODUCTS_PER_CATEGORY
    lastp = first + PRODUCTS_PER_CATEGORY - 1
    jl = np.clip(j - 1, first, lastp)
    jr = np.clip(j, first, lastp)
    prod = np.where(np.abs(pkeys[jl] - key) <= np.abs(pkeys[jr] - key), jl, jr)
    # Quantity that best fits the chosen product's price (bulk buys of cheap items).
    net_price = products.price_c[prod] / 100.0 * (1 - d)
    q_fit = np.clip(np.round(target / net_price), 1, 5).astype(np.int64)
    q = np.where(np.abs(np.log(target / (q_fit * net_price))) < np.abs(np.log(target / (q * net_price))), q_fit, q)
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
    return Lines(
        per_order=k,
        order_start=starts,
        order=li_order,
        number=line_no,
        product=prod,
        quantity=q,
        unit_price_c=up,
        discount_c=np.where(disc, np.maximum(q * up - target_c, 0), 0),
        has_discount=disc,
        category=cat,
    )


def simulate_returns(window: Window, orders: Orders, lines: Lines, rng: np.random.Generator) -> Returns:
    """~4% of completed lines (partly) returned 1-30 days later, inside the window; refunds never exceed the line."""
    nl = len(lines.order)
    comp = ~orders.canc[lines.order]
    r = np.flatnonzero(comp & (rng.random(nl) < RETURN_SHARE))
    rsec = orders.sec[lines.order[r]] + rng.integers(DAY, 30 * DAY + 1, len(r))
    keep = rsec < window.horizon_s
    r, rsec = r[keep], rsec[keep]
    q = lines.quantity[r]
    rq = 1 + (rng.random(len(r)) * q).astype(np.int64)
    net_unit = (q * lines.unit_price_c[r] - lines.discount_c[r]) / q
    fee = np.where(rng.random(len(r)) < 0.2, rng.uniform(0.8, 0.9, len(r)), 1.0)
    refund = np.floor(rq * net_unit * fee).astype(np.int64)
    refund = np.minimum(refund, rq * lines.unit_price_c[r])
    order = np.lexsort((r, rsec))
    return Returns(
        line=r[order],
        sec=rsec[order],
        quantity=rq[order],
        refund_c=refund[order],
        reason=rng.integers(0, len(RETURN_REASONS), len(r)),
    )
