"""The ``_ground_truth/`` folder: what the landing data was drawn from, for tests and benchmarks.

* ``params.json``: the true parameters (params.py), the window, the response rates, row counts;
* ``bad_rows.json``: the injected bad rows, counted per (entity, kind) and listed with their keys;
* ``customers.parquet``: per customer lambda, p_dropout, nu, alive at the end, birth date, orders;
* ``wallets.parquet``: per customer x category (all of them, bought from us or not) the true wallet and share as
  of the end.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np

from cvw.generate.bad_rows import BadRows
from cvw.generate.formats import customer_ids, dates, vocab
from cvw.generate.params import (
    B2B_SHARE,
    B2B_SPEND_MULTIPLIER,
    BGNBD,
    CAMPAIGN_TYPES,
    CANCELLED_SHARE,
    CATEGORIES,
    CATEGORY_NAMES,
    CATEGORY_NEED,
    CONSENT_CHANNELS,
    CONTACT_RATE_PER_YEAR,
    CONVERSION_WINDOW_DAYS,
    GAMMA_GAMMA,
    PARSE_FAILURE_KINDS,
    RESPONSE_CHANNEL_MULTIPLIER,
    RESPONSE_SEGMENT_MULTIPLIER,
    RETURN_SHARE,
    SEASONALITY,
    SERVICE_RATE_PER_YEAR,
    WALLET_LAMBDA_RHO,
    WALLET_NEED,
    WALLET_SHARE,
    WALLET_SURVEY_NOISE_SIGMA,
)
from cvw.generate.simulation import World


def write_ground_truth(folder: Path, world: World, bad: BadRows, seed: int, end_date: date) -> None:
    (folder / "params.json").write_text(json.dumps(_params(world, seed, end_date), indent=2, sort_keys=False) + "\n")
    bad_doc = {"counts": bad.counts, "parse_failure_kinds": list(PARSE_FAILURE_KINDS), "rows": bad.listing}
    (folder / "bad_rows.json").write_text(json.dumps(bad_doc, indent=1) + "\n")
    _write_customers(folder / "customers.parquet", world)
    _write_wallets(folder / "wallets.parquet", world)


def response_rates() -> list[dict]:
    """P(responded) per segment x campaign type x channel (no birthday campaigns for B2B)."""
    return [
        {
            "segment": seg,
            "campaign_type": t,
            "campaign_code": CAMPAIGN_TYPES[t][0],
            "channel": ch,
            "rate": min(
                0.9,
                CAMPAIGN_TYPES[t][2] * RESPONSE_CHANNEL_MULTIPLIER[ch] * RESPONSE_SEGMENT_MULTIPLIER[seg],
            ),
        }
        for seg in ("B2C", "B2B")
        for t in CAMPAIGN_TYPES
        for ch in CONSENT_CHANNELS
        if not (seg == "B2B" and t == "birthday_upcoming")
    ]


def _params(world: World, seed: int, end_date: date) -> dict:
    w, o = world.window, world.orders
    return {
        "seed": seed,
        "start_date": w.start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "days": w.days,
        "customers": w.customers,
        "time_unit": "day",
        **BGNBD,
        "p": GAMMA_GAMMA["p"],
        "q": GAMMA_GAMMA["q"],
        "gamma": GAMMA_GAMMA["gamma"],
        "b2b_spend_multiplier": B2B_SPEND_MULTIPLIER,
        "b2b_share": B2B_SHARE,
        "seasonality": {
            "monthly_multiplier": SEASONALITY,
            "method": "time change (equivalent to thinning)",
        },
        "cancelled_share": CANCELLED_SHARE,
        "return_share": RETURN_SHARE,
        "category_parameters": [{"category": c, **CATEGORIES[c]} for c in CATEGORY_NAMES],
        "wallet_model": {"need": WALLET_NEED, "share": WALLET_SHARE, "lambda_copula_rho": WALLET_LAMBDA_RHO,
                         "category_need": CATEGORY_NEED},
        "wallet_survey_noise_sigma": WALLET_SURVEY_NOISE_SIGMA,
        "response_rates": response_rates(),
        "campaign_id_format": "CMP-<monday YYYYMMDD>-<campaign_code>",
        "conversion_window_days": CONVERSION_WINDOW_DAYS,
        "service_rate_per_year": SERVICE_RATE_PER_YEAR,
        "contact_rate_per_year": CONTACT_RATE_PER_YEAR,
        "counts": {
            "customers": w.customers,
            "customers_born": int(world.purchases.born.sum()),
            "customers_alive_at_end": int(world.purchases.alive_at_end.sum()),
            "orders_completed": int((~o.canc).sum()),
            "orders_cancelled": int(o.canc.sum()),
            "order_lines": int(len(world.lines.order)),
            "returns": int(len(world.returns.line)),
            "service_interactions": int(len(world.service.cust)),
            "marketing_contacts": int(len(world.marketing.cust)),
            "consents": int(len(world.consents.cust)),
            "wallet_surveys": int(len(world.surveys.wallet_row)),
            "installed_base": int(len(world.installed_base.wallet_row)),
        },
    }


def _write_customers(path: Path, world: World) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    w, c, p, o = world.window, world.customers, world.purchases, world.orders
    completed = ~o.canc
    n_orders = np.bincount(o.cust[completed], minlength=w.customers)
    birth_day = np.floor(c.birth_t).astype(np.int64)
    table = pa.table(
        {
            "customer_id": customer_ids(w),
            "customer_type": pa.array(np.where(c.is_b2b, "B2B", "B2C")),
            "lambda": pa.array(c.lam),
            "p_dropout": pa.array(c.pdrop),
            "nu": pa.array(c.nu),
            "log_need": pa.array(c.log_need),
            "share_propensity": pa.array(c.share_propensity),
            "expected_order_value": pa.array(GAMMA_GAMMA["p"] / c.nu),
            "alive_at_end": pa.array(p.alive_at_end),
            "birth_date": pc.if_else(
                pa.array(p.born),
                dates(w.start_day, np.minimum(birth_day, w.days - 1)),
                pa.scalar(None, pa.date32()),
            ),
            "completed_orders": pa.array(n_orders),
        }
    )
    pq.write_table(table, path)


def _write_wallets(path: Path, world: World) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    w, wal = world.window, world.wallets
    table = pa.table(
        {
            "customer_id": customer_ids(w).take(pa.array(wal.cust)),
            "category": vocab(CATEGORY_NAMES, wal.cat),
            "category_weight": pa.array(wal.weight),
            "expected_annual_spend": pa.array(wal.spend),
            "true_wallet": pa.array(wal.wallet),
            "true_share": pa.array(wal.share),
            "bought_from_us": pa.array(wal.weight > 0),
            "as_of_date": dates(w.start_day, np.full(len(wal.cust), w.days - 1)),
        }
    )
    pq.write_table(table, path)
