"""Customers (type, signup, true individual parameters, preferred categories, attributes) and products."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvw.generate.draws import choice_by_type, time_of_day
from cvw.generate.params import (
    ACQ_P,
    B2B_SHARE,
    B2B_SPEND_MULTIPLIER,
    BGNBD,
    BIRTH_DELAY_DAYS,
    CATEGORY_NAMES,
    CATEGORY_WEIGHTS,
    COMPANY_A,
    COMPANY_B,
    COMPANY_C,
    CUSTOMER_CHANGE_SHARE,
    GAMMA_GAMMA,
    INDUSTRIES,
    LAST_NAMES,
    OCCUPATIONS,
    PRE_WINDOW_SIGNUP_SHARE,
    PRODUCT_PRICE_RANGE,
    PRODUCTS_PER_CATEGORY,
    REGION_NAMES,
    WALLET_LAMBDA_RHO,
    WALLET_NEED,
    WALLET_SHARE,
)
from cvw.generate.simulation.drivers import age_band, couple_gamma, need_index, normal_scores, share_logit
from cvw.generate.window import DAY, Window


@dataclass(frozen=True, eq=False)
class Customers:
    """One entry per customer; customer ``c`` has id ``C<c + 1>``."""

    is_b2b: np.ndarray
    signup_s: np.ndarray
    file_day: np.ndarray  # day of the customer's first row (pre-window signups: the first day)
    # true individual parameters; birth_t = first purchase, days since the start
    lam: np.ndarray
    pdrop: np.ndarray
    nu: np.ndarray  # effective: nu / B2B_SPEND_MULTIPLIER for B2B
    birth_t: np.ndarray
    # preferred categories: the first k_pref of prefs (n x 3), their weights and cumulative weights
    prefs: np.ndarray
    k_pref: np.ndarray
    pref_w: np.ndarray
    pref_cum: np.ndarray
    # attributes
    region: np.ndarray
    city: np.ndarray
    female: np.ndarray
    first: np.ndarray
    last: np.ndarray
    gender_x: np.ndarray
    age_days: np.ndarray
    occupation: np.ndarray
    industry: np.ndarray
    employees: np.ndarray
    revenue_c: np.ndarray
    company: np.ndarray  # n x 3 indices into COMPANY_A, COMPANY_B, COMPANY_C
    phone: np.ndarray
    acq: np.ndarray
    # a later change of region and city (a second customer row)
    changed: np.ndarray
    change_day: np.ndarray
    change_s: np.ndarray
    new_region: np.ndarray
    new_city: np.ndarray
    # wallet drivers (simulation/drivers.py): log need, the propensity to give us a share (it orders lambda; the
    # true share is spend / wallet, simulation/wallet.py), age band at the window's end
    log_need: np.ndarray
    share_propensity: np.ndarray
    age_band: np.ndarray


@dataclass(frozen=True, eq=False)
class Products:
    """PRODUCTS_PER_CATEGORY products per category, in category order; product ``p`` has id product_id(p)."""

    category: np.ndarray
    price_c: np.ndarray
    cost_c: np.ndarray


def simulate_customers(window: Window, rng: np.random.Generator) -> Customers:
    n, days = window.customers, window.days
    is_b2b = rng.random(n) < B2B_SHARE
    pre = rng.random(n) < PRE_WINDOW_SIGNUP_SHARE
    sday = np.where(pre, -rng.integers(1, 731, n), rng.integers(0, days, n))
    signup_s = sday * DAY + time_of_day(rng, n, 7, 21, 13, 3.5)
    file_day = np.maximum(sday, 0)
    # BG/NBD and Gamma-Gamma individual parameters.
    lam = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], n)
    pdrop = rng.beta(BGNBD["a"], BGNBD["b"], n)
    nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["gamma"], n)
    nu = np.where(is_b2b, nu / B2B_SPEND_MULTIPLIER, nu)
    # Birth (first purchase), in days since window start.
    delay = np.where(
        pre,
        rng.exponential(BIRTH_DELAY_DAYS["pre_window"], n),
        rng.exponential(BIRTH_DELAY_DAYS["in_window"], n),
    )
    birth_t = np.where(pre, 0.0, signup_s / DAY) + delay
    # Preferred categories: Gumbel top-k without replacement, 2 or 3 each.
    logw = np.log(np.where(is_b2b[:, None], CATEGORY_WEIGHTS["B2B"], CATEGORY_WEIGHTS["B2C"]))
    keys = logw + rng.gumbel(size=(n, len(CATEGORY_NAMES)))
    prefs = np.argsort(-keys, axis=1, kind="stable")[:, :3]
    k_pref = np.where(rng.random(n) < 0.5, 2, 3)
    w = rng.gamma(2.0, 1.0, (n, 3))
    w[k_pref == 2, 2] = 0.0
    pref_w = w / w.sum(axis=1, keepdims=True)
    # Attributes (drawn in this order).
    region = rng.integers(0, len(REGION_NAMES), n)
    city = rng.integers(0, 3, n)
    female = rng.random(n) < 0.5
    first = rng.integers(0, 10, n)
    last = rng.integers(0, len(LAST_NAMES), n)
    gender_x = rng.random(n) < 0.02
    age_days = rng.integers(18 * 365, 85 * 365, n)
    occupation = rng.integers(0, len(OCCUPATIONS), n)
    industry = rng.integers(0, len(INDUSTRIES), n)
    employees = np.maximum(1, np.round(np.exp(rng.normal(np.log(50), 1.5, n)))).astype(np.int64)
    revenue_c = np.round(employees * 150_000 * np.exp(rng.normal(0, 0.4, n)) * 100).astype(np.int64)
    company = rng.integers(0, [len(COMPANY_A), len(COMPANY_B), len(COMPANY_C)], (n, 3))
    phone = rng.integers(0, 10_000_000, n)
    acq = choice_by_type(rng, ACQ_P, is_b2b)
    # ~5% later change of region/city.
    lo = file_day + 1
    changed = (rng.random(n) < CUSTOMER_CHANGE_SHARE) & (lo < days)
    change_day = np.where(changed, lo + (rng.random(n) * np.maximum(days - lo, 1)).astype(np.int64), -1)
    change_s = change_day * DAY + time_of_day(rng, n, 7, 21, 13, 3.5)
    new_region = (region + rng.integers(1, len(REGION_NAMES), n)) % len(REGION_NAMES)
    new_city = rng.integers(0, 3, n)
    # Wallet drivers (issue 18), drawn last so every draw above is unchanged: the customer's need (log scale) from
    # who they are, the propensity to give us a share from what we control, and lambda coupled to need x propensity
    # (it stays Gamma(r, alpha)).
    tenure_days = (window.horizon_s - signup_s) / DAY
    age_years = (age_days + tenure_days) / 365.25  # at the window's end
    region_now = np.where(changed, new_region, region)
    log_need = need_index(is_b2b, employees, industry, age_years, occupation, region_now) + WALLET_NEED[
        "sigma"] * rng.normal(0.0, 1.0, n)
    propensity = 1.0 / (1.0 + np.exp(-(share_logit(acq, tenure_days / 365.25)
                                  + WALLET_SHARE["sigma"] * rng.normal(0.0, 1.0, n))))
    # normal scores within each customer type: lambda stays Gamma(r, alpha) among B2B and among B2C customers
    # (B2B needs are larger; pooled scores would hand B2B the larger lambdas and bias a per-type BG/NBD fit)
    score = np.empty(n)
    for kind in (is_b2b, ~is_b2b):
        score[kind] = normal_scores((log_need + np.log(propensity))[kind])
    lam = couple_gamma(lam, BGNBD["r"], BGNBD["alpha"], score, WALLET_LAMBDA_RHO)
    return Customers(
        is_b2b=is_b2b,
        signup_s=signup_s,
        file_day=file_day,
        lam=lam,
        pdrop=pdrop,
        nu=nu,
        birth_t=birth_t,
        prefs=prefs,
        k_pref=k_pref,
        pref_w=pref_w,
        pref_cum=np.cumsum(pref_w, axis=1),
        region=region,
        city=city,
        female=female,
        first=first,
        last=last,
        gender_x=gender_x,
        age_days=age_days,
        occupation=occupation,
        industry=industry,
        employees=employees,
        revenue_c=revenue_c,
        company=company,
        phone=phone,
        acq=acq,
        changed=changed,
        change_day=change_day,
        change_s=change_s,
        new_region=new_region,
        new_city=new_city,
        log_need=log_need,
        share_propensity=propensity,
        age_band=age_band(age_years),
    )


def active_span(window: Window, customers: Customers) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: the first second in the window after signup, and the seconds from it to the end."""
    lo = np.maximum(customers.signup_s, 0)
    return lo, np.maximum(window.horizon_s - lo, 0)


def simulate_products(rng: np.random.Generator) -> Products:
    """List prices log-spaced over each category's range (x 5% noise); unit cost 40-80% of list price."""
    nc = len(CATEGORY_NAMES)
    cat = np.repeat(np.arange(nc), PRODUCTS_PER_CATEGORY)
    grid = np.concatenate([np.geomspace(*PRODUCT_PRICE_RANGE[c], PRODUCTS_PER_CATEGORY) for c in CATEGORY_NAMES])
    price = grid * np.exp(rng.normal(0, 0.05, len(cat)))
    price_c = np.round(price * 100).astype(np.int64)
    cost_c = np.round(price_c * rng.uniform(0.4, 0.8, len(cat))).astype(np.int64)
    return Products(category=cat, price_c=price_c, cost_c=cost_c)
