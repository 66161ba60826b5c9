"""Benchmark (not a test): wallet estimates of `customer_wallet` (SPEC 4.6) against the generator's true wallets.

Generates a data set (cvw.generate writes the true wallet of every customer x category, bought from us or not,
to <landing>/_ground_truth/wallets.parquet), ingests it, builds `+customer_wallet` on DuckDB for D = the last day,
and compares wallet_estimate with true_wallet: median absolute percentage error (MdAPE = median of
|estimate - true| / true) per wallet_method and overall, next to the naive estimate "wallet = own 365-day
spend" on the same rows. A row with no estimate (wallet_method none) counts as estimate 0 (error 100%), as the
naive estimate does for a customer who did not buy. Peer variants (spend bands, quantile) are rebuilt on the
same data.

    python scripts/bench_wallet.py --customers 20000 --days 730
    python scripts/bench_wallet.py --customers 20000 --spend-bands 1 3 5 10 --quantiles 0.75 0.9
    python scripts/bench_wallet.py --customers 20000 --model 0.9 0.97   # the wallet model (cvw.wallet_model)

--model fits cvw.wallet_model at each quantile on the same build and prints, on the rows without a survey or
installed base (what the model is for), its MdAPE beside naive and the peer quantile, with and without our
365-day spend, its coverage, and its leave-survey-out error beside its error against the true wallets on the
surveyed rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from datetime import date
from pathlib import Path

WALLET_SQL = """
select wallet.customer_id, wallet.category, cast(wallet.own_spend_365d as double) as own_spend_365d,
       wallet.wallet_estimate, wallet.wallet_method, wallet.peer_group,
       coalesce(spend.spend_lifetime > 0, false) as bought_before
from marts.analytics.customer_wallet as wallet
left join intermediate.int_customer_category_spend as spend
    on wallet.customer_id = spend.customer_id and wallet.category = spend.category
"""


def build(home: Path, customers: int, days: int, seed: int, end: date):
    from cvw import settings as cvw_settings
    from cvw.dbt import run_dbt
    from cvw.generate import generate
    from cvw.pipeline import new_run_id, step_ingest

    landing = home / "landing"
    t0 = time.perf_counter()
    generate(landing, customers=customers, days=days, seed=seed, end_date=end)
    t1 = time.perf_counter()
    s = cvw_settings.load(home=home, landing_dir=landing, warehouse=home / "warehouse" / "cvw.duckdb", target="duckdb")
    step_ingest(s, new_run_id(end))
    t2 = time.perf_counter()
    run_dbt(s, ["--quiet", "build", "--select", "+customer_wallet", "--indirect-selection", "cautious"], end)
    t3 = time.perf_counter()
    print(f"generate {t1 - t0:.1f}s, ingest {t2 - t1:.1f}s, dbt build +customer_wallet {t3 - t2:.1f}s")
    return s, landing


def rebuild(s, end: date, bands: int, quantile: float) -> None:
    from cvw.dbt import run_dbt

    run_dbt(s, ["--quiet", "run", "--select", "int_wallet_peers", "customer_wallet"], end,
            extra_vars={"wallet_peer_spend_bands": bands, "wallet_peer_quantile": quantile})


def estimates(s):
    from cvw import db

    with db.connect_warehouse(s.warehouse, read_only=True) as con:  # copes with dbt-duckdb's open connection
        return con.execute(WALLET_SQL).df()


def evaluate(truth, wallet):
    """Rows = the true wallets (every customer x category); returns (table rows, overall dict)."""
    import numpy as np

    df = truth.merge(wallet, on=["customer_id", "category"], how="left", indicator=True)
    missing = int((df["_merge"] != "both").sum())
    df["wallet_method"] = df["wallet_method"].fillna("none")
    df["own_spend_365d"] = df["own_spend_365d"].fillna(0.0)
    df["ours"] = df["wallet_estimate"].fillna(0.0)
    w = df["true_wallet"]
    df["ape_ours"] = (df["ours"] - w).abs() / w
    df["ape_naive"] = (df["own_spend_365d"] - w).abs() / w
    df["ratio_ours"] = df["ours"] / w

    def row(name, part):
        ours, naive = float(np.median(part["ape_ours"])), float(np.median(part["ape_naive"]))
        return {
            "rows": name,
            "n": len(part),
            "mdape_ours": ours,
            "mdape_naive": naive,
            "improvement": naive / ours if ours > 0 else float("inf"),
            "median_est_over_true": float(np.median(part["ratio_ours"])),
            "wape_ours": float((part["ours"] - part["true_wallet"]).abs().sum() / part["true_wallet"].sum()),
            "wape_naive": float((part["own_spend_365d"] - part["true_wallet"]).abs().sum() / part["true_wallet"].sum()),
        }

    table = [row(m, df[df["wallet_method"] == m]) for m in ("survey", "installed_base", "peer_quantile", "none")
             if (df["wallet_method"] == m).any()]
    table.append(row("with an estimate", df[df["wallet_method"] != "none"]))
    # what issue 18 asks about: rows without a survey or installed base, with and without our 365-day spend
    rest = df[~df["wallet_method"].isin(("survey", "installed_base"))]
    table.append(row("no survey/IB, spend", rest[rest["own_spend_365d"] > 0]))
    table.append(row("no survey/IB, none", rest[rest["own_spend_365d"] <= 0]))
    table.append(row("all true wallets", df))
    peer = df[df["wallet_method"] == "peer_quantile"]
    grid = np.round(np.arange(1.0, 5.01, 0.1), 1)
    errors = [float(np.median((k * peer["own_spend_365d"] - peer["true_wallet"]).abs() / peer["true_wallet"]))
              for k in grid]
    none = df[df["wallet_method"] == "none"]
    info = {
        "truth_rows": len(df),
        "truth_rows_missing_in_customer_wallet": missing,
        "coverage": float((df["wallet_method"] != "none").mean()),  # true wallets that get an estimate
        # reference: the best multiple k x own spend on the peer rows, chosen in hindsight with the true wallets
        "peer_rows_best_hindsight_k": float(grid[int(np.argmin(errors))]),
        "peer_rows_best_hindsight_mdape": min(errors),
        "none_rows_category_bought_before_window": int(none["bought_before"].fillna(False).sum()),
        "none_rows_never_bought_category": int((~none["bought_before"].fillna(False).astype(bool)).sum()),
    }
    return table, info


def model(s, end: date, truth, quantile: float) -> dict:
    """Fit cvw.wallet_model on the build and compare it with the truth, naive and today's estimate."""
    import numpy as np
    import pandas as pd
    from cvw import db, wallet_model

    with db.connect_warehouse(s.warehouse, read_only=True) as con:
        features = con.sql(wallet_model.FEATURE_SQL.format(as_of=f"date '{end}'")).to_arrow_table()
        current = con.execute(WALLET_SQL).df()
    keys = features.select(["customer_id", "category"]).to_pandas()
    current = keys.merge(current, on=["customer_id", "category"], how="left")
    survey = np.where(current["wallet_method"] == "survey", current["wallet_estimate"].astype(float), np.nan)
    fitted = wallet_model.fit(features, survey=survey, quantile=quantile)
    df = current.assign(model=wallet_model.predict(fitted, features)).merge(
        truth, on=["customer_id", "category"], how="inner")
    w = df["true_wallet"]
    rest = ~df["wallet_method"].isin(("survey", "installed_base"))
    spend = df["own_spend_365d"].fillna(0) > 0

    def mdape(est, rows) -> float:
        return float(np.median((est[rows] - w[rows]).abs() / w[rows]))

    out = {"quantile": quantile, "fit_seconds": fitted.seconds, "train_rows": fitted.n_train,
           "coverage": float(df["model"].gt(0).mean()), "rows": []}
    for name, rows in (("no survey/IB, spend", rest & spend), ("no survey/IB, none", rest & ~spend),
                       ("no survey/IB, all", rest)):
        naive, peer = df["own_spend_365d"].fillna(0), df["wallet_estimate"].fillna(0).astype(float)
        out["rows"].append({"rows": name, "n": int(rows.sum()), "mdape_model": mdape(df["model"], rows),
                            "mdape_naive": mdape(naive, rows), "mdape_today": mdape(peer, rows)})
    surveyed = df["wallet_method"] == "survey"
    overall = fitted.validation[-1]
    out["leave_survey_out_mdape"] = overall["mdape_leave_survey_out"]
    out["model_vs_truth_on_surveyed_rows"] = mdape(df["model"], surveyed)
    print(f"\nwallet model, quantile {quantile}: fit {fitted.seconds:.1f}s on {fitted.n_train} rows, coverage "
          f"{out['coverage']:.1%} of {len(df)} true wallets")
    print(f"{'rows':<22}{'n':>8}{'MdAPE model':>13}{'naive':>8}{'today':>8}{'model vs naive':>16}")
    for r in out["rows"]:
        print(f"{r['rows']:<22}{r['n']:>8}{r['mdape_model']:>12.1%}{r['mdape_naive']:>8.1%}{r['mdape_today']:>8.1%}"
              f"{r['mdape_naive'] / r['mdape_model']:>15.2f}x")
    print(f"leave-survey-out MdAPE (vs what surveyed customers reported) {out['leave_survey_out_mdape']:.1%}; "
          f"model vs the true wallets on the same rows {out['model_vs_truth_on_surveyed_rows']:.1%}")
    print(pd.DataFrame(fitted.validation[:-1]).to_string(index=False))
    return out


def show(title: str, table: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'rows':<20}{'n':>8}{'MdAPE ours':>12}{'MdAPE naive':>13}{'improvement':>13}{'median est/true':>17}"
          f"{'WAPE ours':>11}{'WAPE naive':>12}")
    for r in table:
        print(f"{r['rows']:<20}{r['n']:>8}{r['mdape_ours']:>11.1%}{r['mdape_naive']:>13.1%}"
              f"{r['improvement']:>12.2f}x{r['median_est_over_true']:>17.3f}{r['wape_ours']:>11.1%}{r['wape_naive']:>12.1%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-date", type=date.fromisoformat, default=date(2025, 12, 31), help="last day = D")
    ap.add_argument("--spend-bands", type=int, nargs="+", default=[5, 1],
                    help="wallet_peer_spend_bands variants (1 = plain SPEC segment peers); first = the build's")
    ap.add_argument("--quantiles", type=float, nargs="+", default=[0.9], help="wallet_peer_quantile variants")
    ap.add_argument("--model", type=float, nargs="*", help="also fit cvw.wallet_model at these quantiles")
    ap.add_argument("--home", type=Path, help="work folder (default: a new temp folder)")
    ap.add_argument("--reuse", action="store_true", help="reuse --home's build (same arguments) instead of a new one")
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import pandas as pd

    home = args.home or Path(tempfile.mkdtemp(prefix="cvw_bench_wallet_"))
    print(f"{args.customers} customers x {args.days} days, seed {args.seed}, D = {args.end_date}, home {home}")
    if args.reuse and (home / "warehouse" / "cvw.duckdb").exists():
        from cvw import settings as cvw_settings

        landing = home / "landing"
        s = cvw_settings.load(home=home, landing_dir=landing, warehouse=home / "warehouse" / "cvw.duckdb",
                              target="duckdb")
        print("reusing the build in --home")
    else:
        s, landing = build(home, args.customers, args.days, args.seed, args.end_date)
    truth = pd.read_parquet(landing / "_ground_truth" / "wallets.parquet")
    assert (pd.to_datetime(truth["as_of_date"]).dt.date == args.end_date).all()
    truth = truth[["customer_id", "category", "true_wallet"]]

    results = []
    for bands in args.spend_bands:
        for q in args.quantiles:
            rebuild(s, args.end_date, bands, q)
            table, info = evaluate(truth, estimates(s))
            results.append({"wallet_peer_spend_bands": bands, "wallet_peer_quantile": q, **info, "table": table})
            show(f"wallet_peer_spend_bands = {bands}, wallet_peer_quantile = {q} "
                 f"({info['truth_rows']} true wallets, {info['truth_rows_missing_in_customer_wallet']} without a row, "
                 f"coverage {info['coverage']:.1%})",
                 table)
            print(f"peer rows, best hindsight multiple of own spend: {info['peer_rows_best_hindsight_k']} x own -> "
                  f"MdAPE {info['peer_rows_best_hindsight_mdape']:.1%}; none rows: "
                  f"{info['none_rows_category_bought_before_window']} bought the category only before the window, "
                  f"{info['none_rows_never_bought_category']} never bought it")
    for q in args.model or []:
        results.append(model(s, args.end_date, truth, q))
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

