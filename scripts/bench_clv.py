"""Benchmark (not a test): our BG/NBD + Gamma-Gamma fit against lifetimes' BetaGeoFitter +
GammaGammaFitter on the same per-customer summary, side by side in one run.

    python scripts/bench_clv.py --customers 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time
import warnings


def summary(customers: int, seed: int):
    """A BG/NBD + Gamma-Gamma summary in days (CDNOW-like parameters), vectorised."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.243, 30.9, 0.793, 2.426
    T = rng.integers(30, 730, customers).astype(float)
    lam = rng.gamma(r, 1 / alpha, customers)
    p = rng.beta(a, b, customers)
    # purchases until death or T: simulate in rounds (vectorised over customers)
    t = np.zeros(customers)
    last = np.zeros(customers)
    x = np.zeros(customers)
    alive = np.ones(customers, dtype=bool)
    while alive.any():
        gap = rng.exponential(1 / np.maximum(lam, 1e-12))
        nxt = t + gap
        buys = alive & (nxt <= T)
        x[buys] += 1
        last[buys] = nxt[buys]
        t = np.where(buys, nxt, t)
        dies = buys & (rng.random(customers) < p)
        alive = buys & ~dies
    rec = np.floor(last)
    nu = rng.gamma(3.74, 1 / 15.44, customers)
    mean_value = np.where(x > 0, rng.gamma(6.25 * np.maximum(x, 1), 1 / nu) / np.maximum(x, 1), 0.0)
    return pd.DataFrame({"frequency": x, "recency": rec, "T": np.floor(T), "monetary_value": mean_value})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3, help="fits per side; the best time is kept")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import lifetimes
    from cvw import clv

    s = summary(args.customers, args.seed)
    rep = s[s["frequency"] > 0]

    def ours():
        return clv.fit_bgnbd(s["frequency"], s["recency"], s["T"]), clv.fit_gamma_gamma(rep["frequency"], rep["monetary_value"])

    def theirs():
        bg = lifetimes.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        gg = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
        return bg, gg

    def best(fn):
        times, out = [], None
        for _ in range(args.repeats):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return min(times), out

    t_ours, (bg, gg) = best(ours)
    t_theirs, (lbg, lgg) = best(theirs)
    theirs_params = {**lbg.params_.to_dict(), **{("gamma" if k == "v" else k): v for k, v in lgg.params_.to_dict().items()}}
    ours_params = {**bg.params, **gg.params}
    rel = {k: abs(ours_params[k] - theirs_params[k]) / abs(theirs_params[k]) for k in ours_params}
    print(json.dumps({
        "customers": args.customers,
        "repeat_buyers": int(len(rep)),
        "seconds_ours": round(t_ours, 4),
        "seconds_lifetimes": round(t_theirs, 4),
        "speedup": round(t_theirs / t_ours, 1),
        "params_ours": {k: round(v, 6) for k, v in ours_params.items()},
        "max_relative_difference": max(rel.values()),
        "converged": bg.converged and gg.converged,
    }, indent=2))


if __name__ == "__main__":
    main()
