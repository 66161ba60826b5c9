"""What drives a customer's wallet and our share of it (issue 18), and the copula that ties the purchase rate to
them. Pure functions of the customer's attributes; the noise is drawn by the caller from its own stream."""

from __future__ import annotations

import numpy as np

from cvw.generate.params import (
    ACQ_CHANNELS,
    CATEGORY_NEED,
    CATEGORY_WEIGHTS,
    INDUSTRIES,
    OCCUPATIONS,
    REGION_NAMES,
    WALLET_NEED,
    WALLET_SHARE,
)


def age_band(age_years: np.ndarray) -> np.ndarray:
    """0: under 30, 1: 30-44, 2: 45-59, 3: 60 and over."""
    return np.searchsorted(np.asarray(WALLET_NEED["age_band_years"]), age_years, side="right")


def need_index(is_b2b, employees, industry, age_years, occupation, region) -> np.ndarray:
    """log need without its noise: B2B by firm size and industry, B2C by age band and occupation, both by region."""
    b2b = WALLET_NEED["employees_elasticity"] * (np.log(employees) - np.log(50.0)) + np.array(
        [WALLET_NEED["industry"][i] for i in INDUSTRIES])[industry]
    b2c = np.asarray(WALLET_NEED["age_band"])[age_band(age_years)] + np.array(
        [WALLET_NEED["occupation"][o] for o in OCCUPATIONS])[occupation]
    return np.where(is_b2b, b2b, b2c) + np.array([WALLET_NEED["region"][r] for r in REGION_NAMES])[region]


def share_logit(acq, tenure_years) -> np.ndarray:
    """logit of our share without its noise: how the customer came to us and how long they have been with us."""
    return (WALLET_SHARE["intercept"]
            + np.array([WALLET_SHARE["acquisition_channel"][c] for c in ACQ_CHANNELS])[acq]
            + WALLET_SHARE["per_tenure_year"] * np.clip(tenure_years, 0.0, WALLET_SHARE["tenure_cap_years"]))


def category_need(is_b2b, industry, band) -> np.ndarray:
    """n x categories: relative need per category (customer-type weights x industry or age-band affinity)."""
    weights = np.where(is_b2b[:, None], np.asarray(CATEGORY_WEIGHTS["B2B"]), np.asarray(CATEGORY_WEIGHTS["B2C"]))
    by_industry = np.array([CATEGORY_NEED[i] for i in INDUSTRIES])[industry]
    by_band = np.asarray(CATEGORY_NEED["age_band"])[band]
    return weights * np.where(is_b2b[:, None], by_industry, by_band)


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Standard normal scores of x's ranks (ties by position): exactly N(0, 1)-distributed whatever x is."""
    from scipy.special import ndtri

    rank = np.empty(len(x), dtype=np.int64)
    rank[np.argsort(x, kind="stable")] = np.arange(len(x))
    return ndtri((rank + 0.5) / len(x))


def couple_gamma(x: np.ndarray, shape: float, rate: float, target_z: np.ndarray, rho: float) -> np.ndarray:
    """Gamma(shape, rate) draws x re-drawn to correlate (Gaussian copula, rho) with standard normal target_z.

    x's own normal score carries the rest: z = rho * target_z + sqrt(1 - rho^2) * Phi^-1(F(x)) is N(0, 1), so
    F^-1(Phi(z)) is Gamma(shape, rate) again: the marginal is unchanged, only who gets which value moves."""
    from scipy.special import gammainc, gammaincinv, ndtr, ndtri

    u = np.clip(gammainc(shape, x * rate), 1e-300, 1 - 1e-16)
    z = rho * target_z + np.sqrt(1.0 - rho**2) * ndtri(u)
    return gammaincinv(shape, np.clip(ndtr(z), 1e-300, 1 - 1e-16)) / rate
