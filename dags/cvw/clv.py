"""Predictive CLV: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma spend, by maximum likelihood.

Inputs are the per-customer activity summary of SPEC 4.1 in days: frequency x (repeat purchase days),
recency t_x (first to last purchase day), tenure T (first purchase day to D) and, for Gamma-Gamma, the
mean value of the repeat purchase days. Everything is vectorised numpy over the whole summary; parameters
are fitted on the log scale (so they stay positive) with scipy's L-BFGS-B from data-based starting
values and an analytic gradient, on the unique (x, t_x, T) rows weighted by their counts (the likelihood
only depends on those), and every fit reports whether the optimiser converged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_CUSTOMERS = 20
MIN_REPEAT_BUYERS = 10


class FitError(ValueError):
    """The data cannot support a fit (too few customers or repeat buyers, or bad inputs)."""


@dataclass
class FitResult:
    model: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    message: str = ""
    extra: dict = field(default_factory=dict)


def _arrays(*cols):
    import numpy as np

    return [np.asarray(c, dtype="float64") for c in cols]


def _check_summary(x, t_x, T) -> None:
    import numpy as np

    if not (len(x) == len(t_x) == len(T)):
        raise FitError("frequency, recency and tenure must have the same length")
    if len(x) < MIN_CUSTOMERS:
        raise FitError(f"BG/NBD needs at least {MIN_CUSTOMERS} customers with a purchase, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise FitError("the activity summary holds NaN or infinite values")
    if (x < 0).any() or (t_x < 0).any() or (t_x > T).any():
        raise FitError("activity summary violates 0 <= recency <= tenure or frequency >= 0")
    if int((x > 0).sum()) < MIN_REPEAT_BUYERS:
        raise FitError(
            f"BG/NBD needs at least {MIN_REPEAT_BUYERS} repeat buyers (frequency > 0), got {int((x > 0).sum())}: "
            "use a longer history or an earlier as-of date"
        )


def bgnbd_log_likelihood(params, x, t_x, T):
    """Per-customer BG/NBD log-likelihood (vector). params = (r, alpha, a, b)."""
    import numpy as np
    from scipy.special import gammaln

    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def _compress(*cols):
    """Unique rows of the inputs and how often each occurs: the likelihood only depends on these."""
    import numpy as np

    stacked = np.column_stack(cols)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype("float64")


def _bgnbd_negll_and_grad(theta, x, t_x, T, weights):
    """Negative weighted log-likelihood and its gradient in log-parameters (analytic)."""
    import numpy as np
    from scipy.special import digamma

    r, alpha, a, b = np.exp(theta)
    ll_terms = bgnbd_log_likelihood((r, alpha, a, b), x, t_x, T)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    top = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - top)
    w4 = np.where(x > 0, np.exp(a4 - top), 0.0)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    with np.errstate(divide="ignore", invalid="ignore"):
        d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - np.where(
            x > 0, w4 / np.maximum(b + x - 1, 1e-300), 0.0
        )
    grad = np.array([(weights * d).sum() for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
    return -(weights * ll_terms).sum(), -grad


def _minimize(fun_and_grad, start, names, model: str, n: int, bounds=(-20.0, 20.0)) -> FitResult:
    """L-BFGS-B on log-parameters with an analytic gradient."""
    import numpy as np
    from scipy.optimize import minimize

    def objective(theta):
        value, grad = fun_and_grad(theta)
        if not np.isfinite(value) or not np.isfinite(grad).all():
            return 1e300, np.zeros_like(theta)
        return value, grad

    res = minimize(objective, np.log(start), jac=True, method="L-BFGS-B", bounds=[bounds] * len(start),
                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    params = dict(zip(names, np.exp(res.x).tolist()))
    at_bound = bool(np.any(np.isclose(res.x, bounds[0])) or np.any(np.isclose(res.x, bounds[1])))
    converged = bool(res.success) and bool(np.isfinite(res.fun)) and not at_bound
    return FitResult(
        model=model, params=params, log_likelihood=float(-res.fun), n_customers=n, converged=converged,
        iterations=int(res.nit), message=str(res.message),
    )


def fit_bgnbd(frequency, recency, tenure) -> FitResult:
    """Maximum-likelihood BG/NBD on (x, t_x, T) in days; alpha is then per day."""
    import numpy as np

    x, t_x, T = _arrays(frequency, recency, tenure)
    _check_summary(x, t_x, T)
    (ux, ut, uT), w = _compress(x, t_x, T)
    # start: purchase rate r/alpha from the data, a and b for a mean dropout around 0.25
    rate = max(float(x.sum() / np.maximum(T, 1.0).sum()), 1e-6)
    start = np.array([1.0, 1.0 / rate, 1.0, 3.0])
    return _minimize(lambda th: _bgnbd_negll_and_grad(th, ux, ut, uT, w), start, ("r", "alpha", "a", "b"),
                     "bg_nbd", len(x))


def gamma_gamma_log_likelihood(params, frequency, monetary):
    """Per-customer Gamma-Gamma log-likelihood (repeat buyers only). params = (p, q, gamma)."""
    import numpy as np
    from scipy.special import gammaln

    p, q, v = params
    x, m = frequency, monetary
    return (
        gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
        + (p * x - 1) * np.log(m) + (p * x) * np.log(x) - (p * x + q) * np.log(x * m + v)
    )


def _gamma_gamma_negll_and_grad(theta, x, m, weights):
    import numpy as np
    from scipy.special import digamma

    p, q, v = np.exp(theta)
    ll_terms = gamma_gamma_log_likelihood((p, q, v), x, m)
    d_p = x * (digamma(p * x + q) - digamma(p * x) + np.log(m) + np.log(x) - np.log(x * m + v))
    d_q = digamma(p * x + q) - digamma(q) + np.log(v) - np.log(x * m + v)
    d_v = q / v - (p * x + q) / (x * m + v)
    grad = np.array([(weights * d).sum() for d in (d_p, d_q, d_v)]) * np.array([p, q, v])
    return -(weights * ll_terms).sum(), -grad


def fit_gamma_gamma(frequency, monetary) -> FitResult:
    """Maximum-likelihood Gamma-Gamma on repeat buyers (frequency > 0, monetary > 0)."""
    import numpy as np

    x, m = _arrays(frequency, monetary)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    if len(x) < MIN_REPEAT_BUYERS:
        raise FitError(f"Gamma-Gamma needs at least {MIN_REPEAT_BUYERS} repeat buyers with spend > 0, got {len(x)}")
    (ux, um), w = _compress(x, m)
    start = np.array([1.0, 2.0, float(m.mean())])
    return _minimize(lambda th: _gamma_gamma_negll_and_grad(th, ux, um, w), start, ("p", "q", "gamma"),
                     "gamma_gamma", len(x))


def p_alive(params: dict, frequency, recency, tenure):
    """P(alive at T | x, t_x, T) under BG/NBD."""
    import numpy as np

    x, t_x, T = _arrays(frequency, recency, tenure)
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (
            np.log(alpha + T) - np.log(alpha + t_x)
        )
        odds = np.where(x > 0, np.exp(np.minimum(log_ratio, 700.0)), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(params: dict, t: float, frequency, recency, tenure):
    """E[purchases in (T, T + t] | x, t_x, T] under BG/NBD (same time unit as the fit)."""
    import numpy as np
    from scipy.special import hyp2f1

    x, t_x, T = _arrays(frequency, recency, tenure)
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1)
    body = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
    value = head * body * p_alive(params, x, t_x, T)
    return np.clip(np.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)


def expected_average_value(params: dict, frequency, monetary):
    """E[value of a future purchase | x, m] under Gamma-Gamma; the population mean when x = 0."""
    import numpy as np

    x, m = _arrays(frequency, monetary)
    p, q, v = (params[k] for k in ("p", "q", "gamma"))
    population = p * v / (q - 1) if q > 1 else float("nan")
    m = np.where(np.isfinite(m), m, 0.0)
    individual = (v + m * x) * p / (p * x + q - 1)
    out = np.where(x > 0, individual, population)
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)
