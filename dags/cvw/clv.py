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


def _check_summary(x, t_x, T, weights=None) -> None:
    import numpy as np

    if not (len(x) == len(t_x) == len(T)):
        raise FitError("frequency, recency and tenure must have the same length")
    w = np.ones(len(x)) if weights is None else weights
    n, repeat = int(w.sum()), int(w[x > 0].sum())
    if n < MIN_CUSTOMERS:
        raise FitError(f"BG/NBD needs at least {MIN_CUSTOMERS} customers with a purchase, got {n}")
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise FitError("the activity summary holds NaN or infinite values")
    if (x < 0).any() or (t_x < 0).any() or (t_x > T).any() or (w < 0).any():
        raise FitError("activity summary violates 0 <= recency <= tenure or frequency >= 0")
    if repeat < MIN_REPEAT_BUYERS:
        raise FitError(
            f"BG/NBD needs at least {MIN_REPEAT_BUYERS} repeat buyers (frequency > 0), got {repeat}: "
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
    """Unique rows of the inputs and how often each occurs: the likelihood only depends on these.

    Whole-day summaries (non-negative integers below 2**20) are packed into one int64 key, which sorts
    ~10x faster than numpy's row-wise unique."""
    import numpy as np

    bits = 63 // len(cols)
    if all(((c >= 0) & (c < 2**min(bits, 20)) & (c == np.floor(c))).all() for c in cols):
        key = np.zeros(len(cols[0]), dtype="int64")
        for c in cols:
            key = (key << bits) | c.astype("int64")
        unique, counts = np.unique(key, return_counts=True)
        out = []
        for i in range(len(cols) - 1, -1, -1):
            out.append(((unique >> (bits * (len(cols) - 1 - i))) & ((1 << bits) - 1)).astype("float64"))
        return out[::-1], counts.astype("float64")
    stacked = np.column_stack(cols)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype("float64")


def _bgnbd_negll_and_grad(theta, x, t_x, T, weights, x_index=None, day_index=None):
    """Negative weighted log-likelihood and its gradient in log-parameters (analytic).

    Terms that depend on x alone (log-gamma, digamma) enter linearly, so they are evaluated once per distinct x
    and weighted by the summed weights of that x; only log(b + x - 1) is gathered per row. Whole-day
    recencies/tenures take few distinct values, so log(alpha + day) and 1/(alpha + day) are computed per
    distinct day and gathered. A step then costs one logaddexp and one exp per row plus arithmetic."""
    import numpy as np
    from scipy.special import digamma, gammaln

    r, alpha, a, b = np.exp(theta)
    if x_index is None:
        ux, x_index = np.unique(x, return_inverse=True)
    else:
        ux = x_index[1]
        x_index = x_index[0]
    weight_x = np.bincount(x_index, weights=weights, minlength=len(ux))
    repeat = ux > 0
    bx1 = np.where(repeat, b + ux - 1, 1.0)
    if day_index is None:
        days, day_idx = np.unique(np.concatenate([t_x, T]), return_inverse=True)
        t_idx, T_idx = day_idx[: len(t_x)], day_idx[len(t_x):]
    else:
        days, t_idx, T_idx = day_index
    log_days, inv_days = np.log(alpha + days), 1.0 / (alpha + days)
    log_aT, log_at = log_days[T_idx], log_days[t_idx]
    rx = r + x
    a3 = -rx * log_aT
    has_repeat = repeat[x_index]
    a4 = np.where(has_repeat, np.log(a) - np.log(bx1)[x_index] - rx * log_at, -np.inf)
    top = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - top)
    w4 = 1.0 - w3  # the two weights sum to one (w4 = 0 without a repeat purchase)
    wt = weights * top
    wt3, wt4 = weights * w3, weights * w4
    n = weights.sum()
    ll = (
        n * (-gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b))
        + weight_x @ (gammaln(r + ux) + gammaln(b + ux) - gammaln(a + b + ux))
        + wt.sum()
    )
    d_r = weight_x @ digamma(r + ux) + n * (np.log(alpha) - digamma(r)) - wt3 @ log_aT - wt4 @ log_at
    d_alpha = n * r / alpha - (wt3 * rx) @ inv_days[T_idx] - (wt4 * rx) @ inv_days[t_idx]
    d_abx = weight_x @ digamma(a + b + ux)
    d_a = n * digamma(a + b) - d_abx + wt4.sum() / a
    d_b = n * (digamma(a + b) - digamma(b)) + weight_x @ digamma(b + ux) - d_abx - wt4 @ (1.0 / bx1)[x_index]
    grad = np.array([d_r, d_alpha, d_a, d_b]) * np.array([r, alpha, a, b])
    return -ll, -grad


def _minimize(fun_and_grad, start, names, model: str, n: int, bounds=(-20.0, 20.0),
              standard_errors: bool = False) -> FitResult:
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
    params = dict(zip(names, np.exp(res.x).tolist(), strict=False))
    names = list(names)
    at_bound = bool(np.any(np.isclose(res.x, bounds[0])) or np.any(np.isclose(res.x, bounds[1])))
    # L-BFGS-B can stop with "ABNORMAL" in the line search right at the optimum: then judge by the gradient
    # (per customer, in log-parameters)
    flat = bool(np.max(np.abs(res.jac)) <= 1e-5 * max(n, 1))
    converged = bool(res.success or flat) and bool(np.isfinite(res.fun)) and not at_bound
    return FitResult(
        model=model, params=params, log_likelihood=float(-res.fun), n_customers=n, converged=converged,
        iterations=int(res.nit), message=str(res.message),
        extra={"se_log": {names[i]: se for i, se in _standard_errors(fun_and_grad, res.x).items()}}
        if standard_errors else {},
    )


def _standard_errors(fun_and_grad, theta) -> dict:
    """Asymptotic standard errors of the log-parameters: sqrt(diag(H^-1)) with H the observed information
    (the Hessian of the negative log-likelihood, by central differences of the analytic gradient)."""
    import numpy as np

    k = len(theta)
    hessian = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = 1e-5
        hessian[i] = (fun_and_grad(theta + step)[1] - fun_and_grad(theta - step)[1]) / 2e-5
    hessian = (hessian + hessian.T) / 2
    try:
        cov = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return {}
    diag = np.diag(cov)
    return {i: float(np.sqrt(d)) if d > 0 else float("nan") for i, d in enumerate(diag)}


def fit_bgnbd(frequency, recency, tenure, weights=None, standard_errors: bool = False) -> FitResult:
    """Maximum-likelihood BG/NBD on (x, t_x, T) in days; alpha is then per day.

    With `weights`, each row stands for that many customers with the same (x, t_x, T): the warehouse
    hands over `count(*) ... group by frequency, recency_days, tenure_days`, the likelihood's sufficient
    statistic, so a fit over millions of customers moves a few hundred thousand rows at most."""
    import numpy as np

    x, t_x, T = _arrays(frequency, recency, tenure)
    if weights is None:
        _check_summary(x, t_x, T)
        (ux, ut, uT), w = _compress(x, t_x, T)
    else:
        (w,) = _arrays(weights)
        _check_summary(x, t_x, T, w)
        ux, ut, uT = x, t_x, T
    distinct_x, x_index = np.unique(ux, return_inverse=True)
    days, day_idx = np.unique(np.concatenate([ut, uT]), return_inverse=True)
    day_index = (days, day_idx[: len(ut)], day_idx[len(ut):])
    # start: purchase rate r/alpha from the data, a and b for a mean dropout around 0.25
    rate = max(float((w * ux).sum() / (w * np.maximum(uT, 1.0)).sum()), 1e-6)
    start = np.array([1.0, 1.0 / rate, 1.0, 3.0])
    return _minimize(lambda th: _bgnbd_negll_and_grad(th, ux, ut, uT, w, (x_index, distinct_x), day_index), start,
                     ("r", "alpha", "a", "b"), "bg_nbd", int(w.sum()), standard_errors=standard_errors)


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


def _gamma_gamma_negll_and_grad(theta, stats, hessian: bool = False):
    """Negative log-likelihood, gradient (and with `hessian`, the Hessian) in log-parameters.

    Everything that does not involve gamma (v) is summed once before the optimiser starts (`_gg_stats`): terms in
    log m and log x are constants times p, and the x-only log-gamma terms are evaluated per distinct x. A step then
    costs one log and one division per customer plus a few dot products."""
    import numpy as np
    from scipy.special import digamma, gammaln, polygamma

    theta = np.asarray(theta, dtype="float64")
    p, q, v = np.exp(theta)
    ux, cx, n = stats["distinct_x"], stats["count_x"], stats["n"]
    px = p * ux
    xmv = stats["xm"] + v
    log_xmv = np.log(xmv)
    inv_xmv = 1.0 / xmv
    sum_x_log, sum_log = stats["x"] @ log_xmv, log_xmv.sum()
    sum_x_inv, sum_inv = stats["x"] @ inv_xmv, inv_xmv.sum()
    ll = (
        cx @ (gammaln(px + q) - gammaln(px)) - n * gammaln(q) + n * q * np.log(v)
        + p * (stats["s_x_log_m"] + stats["s_x_log_x"]) - stats["s_log_m"] - p * sum_x_log - q * sum_log
    )
    dig_pxq = digamma(px + q)
    d_p = cx @ (ux * (dig_pxq - digamma(px))) + stats["s_x_log_m"] + stats["s_x_log_x"] - sum_x_log
    d_q = cx @ dig_pxq - n * digamma(q) + n * np.log(v) - sum_log
    d_v = n * q / v - p * sum_x_inv - q * sum_inv
    natural = np.array([d_p, d_q, d_v])
    params = np.array([p, q, v])
    if not hessian:
        return -ll, -natural * params
    inv2 = inv_xmv * inv_xmv
    tri_pxq, tri_px = polygamma(1, px + q), polygamma(1, px)
    h = np.empty((3, 3))
    h[0, 0] = cx @ (ux * ux * (tri_pxq - tri_px))
    h[0, 1] = h[1, 0] = cx @ (ux * tri_pxq)
    h[0, 2] = h[2, 0] = -sum_x_inv
    h[1, 1] = cx @ tri_pxq - n * polygamma(1, q)
    h[1, 2] = h[2, 1] = n / v - sum_inv
    h[2, 2] = -n * q / v**2 + p * (stats["x"] @ inv2) + q * inv2.sum()
    # chain rule to log-parameters: d2/dphi_i dphi_j = theta_i theta_j H_ij + [i == j] theta_i g_i
    h_log = np.outer(params, params) * h + np.diag(params * natural)
    return -ll, -natural * params, -h_log


def _gg_stats(x, m) -> dict:
    import numpy as np

    distinct_x, count_x = np.unique(x, return_counts=True)
    log_m, log_x = np.log(m), np.log(x)
    return {
        "x": x, "xm": x * m, "n": float(len(x)), "distinct_x": distinct_x, "count_x": count_x.astype("float64"),
        "s_x_log_m": float(x @ log_m), "s_x_log_x": float(x @ log_x), "s_log_m": float(log_m.sum()),
    }


def fit_gamma_gamma(frequency, monetary, standard_errors: bool = False) -> FitResult:
    """Maximum-likelihood Gamma-Gamma on repeat buyers (frequency > 0, monetary > 0).

    Three parameters and an analytic Hessian: scipy's trust-region Newton (`trust-exact`) converges in about
    ten evaluations where a quasi-Newton method needs seventy."""
    import numpy as np
    from scipy.optimize import minimize

    x, m = _arrays(frequency, monetary)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    if len(x) < MIN_REPEAT_BUYERS:
        raise FitError(f"Gamma-Gamma needs at least {MIN_REPEAT_BUYERS} repeat buyers with spend > 0, got {len(x)}")
    stats = _gg_stats(x, m)
    names = ["p", "q", "gamma"]
    start = np.log(np.array([1.0, 2.0, float(m.mean())]))
    n = len(x)

    def fun(th):
        value, grad = _gamma_gamma_negll_and_grad(th, stats)
        return (value / n, grad / n) if np.isfinite(value) and np.isfinite(grad).all() else (1e300, np.zeros(3))

    def hess(th):
        return _gamma_gamma_negll_and_grad(th, stats, hessian=True)[2] / n

    res = minimize(fun, start, jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-8, "maxiter": 500})
    params = dict(zip(names, np.exp(res.x).tolist(), strict=True))
    # the objective is per customer: a gradient below 1e-6 is the optimum to float precision even when the trust
    # region stops on "a bad approximation" (it cannot improve further)
    flat = bool(np.max(np.abs(res.jac)) <= 1e-6)
    converged = bool(res.success or flat) and bool(np.isfinite(res.fun)) and bool(np.all(np.abs(res.x) < 20))
    extra = {}
    if standard_errors:
        extra["se_log"] = {names[i]: se for i, se in _standard_errors(
            lambda th: _gamma_gamma_negll_and_grad(th, stats), res.x).items()}
    return FitResult(
        model="gamma_gamma", params=params, log_likelihood=float(-res.fun * n), n_customers=n, converged=converged,
        iterations=int(res.nit), message=str(res.message), extra=extra,
    )


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


def score(bg: dict | None, gg: dict | None, horizon_days: float, frequency, recency, tenure, avg_repeat_value):
    """Per-customer predictions as a dict of arrays: p_alive, expected_purchases, expected_avg_value.

    Pure numpy over one batch of customers (the engines stream batches through it). Without a fit
    (bg or gg None) the columns are NaN, which the caller stores as null."""
    import numpy as np

    n = len(frequency)
    if bg is None or gg is None:
        nan = np.full(n, np.nan)
        return {"p_alive": nan, "expected_purchases": nan, "expected_avg_value": nan}
    return {
        "p_alive": p_alive(bg, frequency, recency, tenure),
        "expected_purchases": expected_purchases(bg, horizon_days, frequency, recency, tenure),
        "expected_avg_value": expected_average_value(gg, frequency, avg_repeat_value),
    }
