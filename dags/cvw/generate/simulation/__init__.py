"""The simulation: one function per part, each with its own random stream, called in data-flow order.

Each part takes the parts it depends on and returns a frozen dataclass of numpy arrays; :func:`simulate`
is the whole order of calls. Indices, not ids: customer ``c``, order ``o``, line ``x``, product ``p``
(formats.py turns them into ``C…``, ``O…``, ``P…``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cvw.generate.simulation.contacts import (
    Consents,
    Marketing,
    Service,
    simulate_consents,
    simulate_marketing,
    simulate_service,
)
from cvw.generate.simulation.customers import Customers, Products, simulate_customers, simulate_products
from cvw.generate.simulation.orders import (
    Lines,
    Orders,
    Purchases,
    Returns,
    simulate_lines,
    simulate_orders,
    simulate_purchases,
    simulate_returns,
)
from cvw.generate.simulation.wallet import InstalledBase, Surveys, Wallets, simulate_wallets
from cvw.generate.window import Window

#: One independent random stream per part (``bad``: bad_rows.py). Order matters: it fixes the seeds.
STREAMS = (
    "customers",
    "products",
    "purchases",
    "orders",
    "lines",
    "returns",
    "service",
    "marketing",
    "consents",
    "wallet",
    "bad",
)


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators per part, spawned from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return dict(zip(STREAMS, (np.random.default_rng(s) for s in children), strict=True))


@dataclass(frozen=True, eq=False)
class World:
    """Everything simulated, before bad rows."""

    window: Window
    customers: Customers
    products: Products
    purchases: Purchases
    orders: Orders
    lines: Lines
    returns: Returns
    service: Service
    marketing: Marketing
    consents: Consents
    wallets: Wallets
    surveys: Surveys
    installed_base: InstalledBase


def simulate(window: Window, rngs: Mapping[str, np.random.Generator]) -> World:
    customers = simulate_customers(window, rngs["customers"])
    products = simulate_products(rngs["products"])
    purchases = simulate_purchases(window, customers, rngs["purchases"])
    orders = simulate_orders(customers, purchases, rngs["orders"])
    lines = simulate_lines(customers, products, orders, rngs["lines"])
    returns = simulate_returns(window, orders, lines, rngs["returns"])
    service = simulate_service(window, customers, rngs["service"])
    marketing = simulate_marketing(window, customers, orders, rngs["marketing"])
    consents = simulate_consents(window, customers, rngs["consents"])
    wallets, surveys, installed_base = simulate_wallets(window, customers, rngs["wallet"])
    return World(
        window=window,
        customers=customers,
        products=products,
        purchases=purchases,
        orders=orders,
        lines=lines,
        returns=returns,
        service=service,
        marketing=marketing,
        consents=consents,
        wallets=wallets,
        surveys=surveys,
        installed_base=installed_base,
    )
