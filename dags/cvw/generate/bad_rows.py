"""Bad rows (SPEC §8): extra rows of one kind each, returned for the writers and the ground truth.

:func:`inject_bad_rows` leaves the simulated world as it is and returns :class:`BadRows`:

* business-rule rows, which parse and go into the typed tables: new orders and order lines, exact
  duplicates of good orders and lines (by index), returns whose refund exceeds their line;
* parse failures as raw byte lines per entity and file day, appended after that day's good rows;
* the listing and the counts per (entity, kind) that ``_ground_truth/bad_rows.json`` holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from cvw.contract import ENTITIES
from cvw.generate.draws import time_of_day
from cvw.generate.formats import customer_id, money_text, order_id, product_id, timestamp_text
from cvw.generate.params import BAD_ROW_KINDS, COUNTRY
from cvw.generate.simulation import World
from cvw.generate.window import DAY


@dataclass(frozen=True)
class NewOrder:
    """An order row with a new id (``OX…``): kinds unknown_customer and order_in_future."""

    day: int
    order_id: str
    customer_id: str
    sec: int


@dataclass(frozen=True)
class NewLine:
    """An extra line on a good order (``order`` is its index): kinds negative_quantity and unknown_product."""

    day: int
    order: int
    line_number: int
    product_id: str
    quantity: int
    unit_price_c: int


@dataclass(frozen=True)
class Duplicate:
    """An exact copy of good row ``index`` (an order or an order line) in the file of ``day``."""

    day: int
    index: int


@dataclass(frozen=True)
class BadReturn:
    """A return (new id ``RX…``) of good line ``line`` whose refund exceeds quantity x unit_price."""

    day: int
    return_id: str
    line: int
    sec: int
    quantity: int
    refund_c: int


@dataclass(frozen=True)
class BadRows:
    """What inject_bad_rows adds; every tuple is in injection order."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # entity -> kind -> n (entities with any)
    listing: list[dict] = field(default_factory=list)  # one record per bad row, sorted
    raw: dict[str, dict[int, list[bytes]]] = field(default_factory=dict)  # entity -> file day -> lines
    new_orders: tuple[NewOrder, ...] = ()
    duplicate_orders: tuple[Duplicate, ...] = ()
    new_lines: tuple[NewLine, ...] = ()
    duplicate_lines: tuple[Duplicate, ...] = ()
    returns: tuple[BadReturn, ...] = ()


def inject_bad_rows(world: World, rate: float, rng: np.random.Generator) -> BadRows:
    """Pick ``max(1, round(rate x rows))`` bad rows per (entity, kind) of BAD_ROW_KINDS; none if ``rate <= 0``."""
    if rate <= 0:
        return BadRows()
    w, c, o, ln = world.window, world.customers, world.orders, world.lines
    n_orders = len(o.cust)
    n_lines = len(ln.order)
    base_rows = {
        "orders": n_orders,
        "order_lines": n_lines,
        "customers": w.customers + int(c.changed.sum()),
        "service_interactions": len(world.service.cust),
        "returns": len(world.returns.line),
    }
    need = {(e, k): max(1, int(round(rate * base_rows[e]))) for e, k in BAD_ROW_KINDS}
    counts = {name: {} for name in ENTITIES}
    for (e, k), v in need.items():
        counts[e][k] = v
    comp_orders = np.flatnonzero(~o.canc)
    born = np.flatnonzero(world.purchases.born)
    listing: list[dict] = []
    raw: dict = {}
    new_orders: list[NewOrder] = []
    duplicate_orders: list[Duplicate] = []
    new_lines: list[NewLine] = []
    duplicate_lines: list[Duplicate] = []
    returns: list[BadReturn] = []
    cw = w.customer_id_width

    def add_raw(entity, day, line: bytes):
        raw.setdefault(entity, {}).setdefault(int(day), []).append(line)

    def record(entity, kind, day, key):
        listing.append({"entity": entity, "kind": kind, "file_day": w.iso_day(day), "key": key})

    # Extra lines on good completed orders (one per order): line_number = k + 1.
    line_kinds = ["bad_type", "wrong_column_count", "negative_quantity", "unknown_product"]
    tot = sum(need[("order_lines", k)] for k in line_kinds)
    if len(comp_orders) == 0:
        raise ValueError("no completed orders to attach bad rows to; use more customers/days")
    host = rng.choice(comp_orders, size=tot, replace=tot > len(comp_orders))
    host_ln = ln.per_order[host] + 1
    if tot > len(comp_orders):  # several extras on one order: distinct line numbers
        srt = np.argsort(host, kind="stable")
        hs = host[srt]
        grp_start = np.r_[0, np.flatnonzero(np.diff(hs)) + 1]
        rank = np.arange(tot) - np.repeat(grp_start, np.diff(np.r_[grp_start, tot]))
        host_ln[srt] = ln.per_order[hs] + 1 + rank
    pos = 0
    for kind in line_kinds:
        cnt = need[("order_lines", kind)]
        hs, lns = host[pos : pos + cnt], host_ln[pos : pos + cnt]
        pos += cnt
        # a template line of the same order
        tl = ln.order_start[hs]
        for h, lno, t in zip(hs.tolist(), lns.tolist(), tl.tolist(), strict=True):
            oid = order_id(h, o.id_width)
            # a product not yet in the order, so a return still identifies its line
            in_order = set(ln.product[t : t + ln.per_order[h]].tolist())
            pid = product_id(next(p for p in range(len(world.products.category)) if p not in in_order))
            up = money_text(ln.unit_price_c[t])
            day = int(o.day[h])
            if kind == "bad_type":
                add_raw("order_lines", day, f"{oid},{lno},{pid},abc,{up},\n".encode())
            elif kind == "wrong_column_count":
                add_raw("order_lines", day, f"{oid},{lno},{pid},1,{up},,extra\n".encode())
            elif kind == "negative_quantity":
                new_lines.append(NewLine(day, h, lno, pid, -int(rng.integers(1, 4)), int(ln.unit_price_c[t])))
            else:  # unknown_product
                new_lines.append(NewLine(day, h, lno, f"PX{len(listing):06d}", 1, int(ln.unit_price_c[t])))
            record("order_lines", kind, day, {"order_id": oid, "line_number": lno})

    # Duplicate order lines (exact copies, same day or up to 3 days later).
    cnt = need[("order_lines", "duplicate_key")]
    li = rng.choice(n_lines, size=cnt, replace=cnt > n_lines)
    for x in li.tolist():
        h = ln.order[x]
        day = int(min(o.day[h] + int(rng.integers(0, 4)), w.days - 1))
        duplicate_lines.append(Duplicate(day, x))
        key = {"order_id": order_id(h, o.id_width), "line_number": int(ln.number[x])}
        record("order_lines", "duplicate_key", day, key)

    # Orders: new ids OX..., never referenced by lines.
    seq = 0
    for kind in ["bad_type", "bad_encoding", "bad_quoting", "unknown_customer", "order_in_future"]:
        cnt = need[("orders", kind)]
        days = rng.integers(0, w.days, cnt)
        cs = rng.choice(born, size=cnt) if len(born) else np.zeros(cnt, dtype=np.int64)
        tods = time_of_day(rng, cnt, 8, 20, 13, 3)
        ahead = rng.integers(2, 31, cnt)
        for d, cust, tdy, ah in zip(days.tolist(), cs.tolist(), tods.tolist(), ahead.tolist(), strict=True):
            seq += 1
            oid = f"OX{seq:0{o.id_width}d}"
            cid = customer_id(cust, cw)
            sec = d * DAY + tdy
            if kind == "bad_type":
                add_raw("orders", d, f"{oid},{cid},not_a_timestamp,web,completed,\n".encode())
            elif kind == "bad_encoding":
                ts = timestamp_text(w, sec)
                add_raw("orders", d, f"{oid},{cid},{ts},".encode() + b"we\xff\xfeb" + b",completed,\n")
            elif kind == "bad_quoting":
                add_raw("orders", d, f'{oid},{cid},{timestamp_text(w, sec)},"web,completed,\n'.encode())
            elif kind == "unknown_customer":
                new_orders.append(NewOrder(d, oid, f"CX{len(listing):07d}", sec))
            else:  # order_in_future: order_ts >= file day + 2 days
                new_orders.append(NewOrder(d, oid, cid, (d + ah) * DAY + tdy))
            record("orders", kind, d, {"order_id": oid})
    cnt = need[("orders", "duplicate_key")]
    oi = rng.choice(n_orders, size=cnt, replace=cnt > n_orders)
    for h in oi.tolist():
        day = int(min(o.day[h] + int(rng.integers(0, 4)), w.days - 1))
        duplicate_orders.append(Duplicate(day, h))
        record("orders", "duplicate_key", day, {"order_id": order_id(h, o.id_width)})

    # Customers with invalid UTF-8 in the name (new ids CY...).
    cnt = need[("customers", "bad_encoding")]
    days = rng.integers(0, w.days, cnt)
    for j, d in enumerate(days.tolist()):
        cid = f"CY{j + 1:07d}"
        tail = f",,,,,,,{COUNTRY},,,,,web,{w.iso_day(d)},{w.iso_day(d)} 12:00:00\n"
        add_raw("customers", d, f"{cid},B2C,".encode() + b"J\xff\xfene Doe" + tail.encode())
        record("customers", "bad_encoding", d, {"customer_id": cid})

    # Service interactions with an extra field (new ids IX...).
    cnt = need[("service_interactions", "wrong_column_count")]
    days = rng.integers(0, w.days, cnt)
    cs = rng.integers(0, w.customers, cnt)
    for j, (d, cust) in enumerate(zip(days.tolist(), cs.tolist(), strict=True)):
        iid = f"IX{j + 1:09d}"
        ts = timestamp_text(w, d * DAY + 43200)
        line = f"{iid},{customer_id(cust, cw)},{ts},phone,inquiry,5.0,4,true,extra\n"
        add_raw("service_interactions", d, line.encode())
        record("service_interactions", "wrong_column_count", d, {"interaction_id": iid})

    # Returns whose refund exceeds quantity x unit_price of the line (new ids RX...).
    cnt = need[("returns", "refund_exceeds_line")]
    comp_lines = np.flatnonzero(~o.canc[ln.order] & (o.day[ln.order] < w.days - 1))
    if len(comp_lines) == 0:
        comp_lines = np.flatnonzero(~o.canc[ln.order])
    li = rng.choice(comp_lines, size=cnt, replace=cnt > len(comp_lines))
    for j, x in enumerate(li.tolist()):
        h = ln.order[x]
        sec = int(min(o.sec[h] + int(rng.integers(DAY, 30 * DAY)), w.horizon_s - 1))
        rid = f"RX{j + 1:08d}"
        q = int(ln.quantity[x])
        returns.append(BadReturn(sec // DAY, rid, x, sec, q, q * int(ln.unit_price_c[x]) * 2 + 100))
        record("returns", "refund_exceeds_line", sec // DAY, {"return_id": rid})

    listing.sort(key=lambda r: (r["entity"], r["kind"], r["file_day"], json.dumps(r["key"], sort_keys=True)))
    return BadRows(
        counts={k: dict(sorted(v.items())) for k, v in counts.items() if v},
        listing=listing,
        raw=raw,
        new_orders=tuple(new_orders),
        duplicate_orders=tuple(duplicate_orders),
        new_lines=tuple(new_lines),
        duplicate_lines=tuple(duplicate_lines),
        returns=tuple(returns),
    )
