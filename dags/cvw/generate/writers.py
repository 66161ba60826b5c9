"""The landing files: the simulated world plus the bad rows as one CSV per entity and day.

:func:`entity_tables` builds, per entity, an Arrow table in contract column order with each row's
file day and sort key (business-rule bad rows included); :func:`write_entity` writes a day's rows
sorted, then that day's raw (unparseable) bad lines.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from cvw.contract import ENTITIES
from cvw.generate.bad_rows import BadRows
from cvw.generate.formats import customer_ids, dates, ids, join, money, product_ids, timestamps, vocab
from cvw.generate.params import (
    ACQ_CHANNELS,
    CAMPAIGN_TYPES,
    CATEGORY_NAMES,
    COMPANY_A,
    COMPANY_B,
    COMPANY_C,
    CONSENT_CHANNELS,
    COUNTRY,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    INDUSTRIES,
    LAST_NAMES,
    OCCUPATIONS,
    ORDER_CHANNELS,
    PRODUCTS_PER_CATEGORY,
    REGION_NAMES,
    REGIONS,
    RETURN_REASONS,
    SERVICE_CHANNELS,
    SERVICE_TYPES,
    SURVEY_SOURCES,
)
from cvw.generate.simulation import World
from cvw.generate.window import DAY


@dataclass(frozen=True, eq=False)
class EntityRows:
    """An entity's rows: ``table`` (contract columns), the file ``day`` and the sort key ``order`` per row."""

    table: object  # pyarrow.Table
    day: np.ndarray
    order: np.ndarray


def write_landing(out: Path, world: World, bad: BadRows) -> tuple[dict[str, int], int]:
    """Write every entity's files under ``out``; return (rows per entity incl. bad rows, files written)."""
    tables = entity_tables(world, bad)
    files = 0
    rows = {}
    for name in ENTITIES:
        t = tables[name]
        raw = bad.raw.get(name, {})
        files += write_entity(out / name, name, t, raw, world.window.start_date)
        rows[name] = t.table.num_rows + sum(len(v) for v in raw.values())
    return rows, files


def write_entity(folder: Path, name: str, rows: EntityRows, raw: dict, start_date: date) -> int:
    """Write one CSV per day: sorted rows, then that day's raw (unparseable) lines."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    folder.mkdir(parents=True, exist_ok=True)
    idx = np.lexsort((rows.order, rows.day))
    table = rows.table.take(pa.array(idx))
    day = rows.day[idx]
    header = (",".join(ENTITIES[name].columns) + "\n").encode()
    opts = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    days_with_rows = np.unique(np.concatenate([day, np.array(sorted(raw), dtype=np.int64)]))
    lo = np.searchsorted(day, days_with_rows, side="left")
    hi = np.searchsorted(day, days_with_rows, side="right")
    for d, a, b in zip(days_with_rows.tolist(), lo.tolist(), hi.tolist(), strict=True):
        buf = io.BytesIO()
        buf.write(header)
        if b > a:
            pa_csv.write_csv(table.slice(a, b - a), buf, opts)
        for line in raw.get(d, ()):
            buf.write(line)
        path = folder / f"{name}_{(start_date + timedelta(days=d)).isoformat()}.csv"
        path.write_bytes(buf.getvalue())
    return len(days_with_rows)


def entity_tables(world: World, bad: BadRows) -> dict[str, EntityRows]:
    """entity -> its rows (table in contract column order, file day per row, sort key per row)."""
    cid = customer_ids(world.window)
    pid = product_ids(len(world.products.category))
    oid = ids("O", np.arange(1, len(world.orders.cust) + 1), world.orders.id_width)
    return {
        "customers": _customers(world, cid),
        "products": _products(world, pid),
        "orders": _orders(world, bad, cid, oid),
        "order_lines": _order_lines(world, bad, pid, oid),
        "returns": _returns(world, bad, pid, oid),
        "service_interactions": _service_interactions(world, cid),
        "marketing_contacts": _marketing_contacts(world, cid, oid),
        "consents": _consents(world, cid),
        "wallet_surveys": _wallet_surveys(world, cid),
        "installed_base": _installed_base(world, cid),
    }


def _customers(world: World, cid) -> EntityRows:
    """One row per customer at signup, a second one for those who later changed region and city."""
    import pyarrow as pa
    import pyarrow.compute as pc

    c, n, start_d = world.customers, world.window.customers, world.window.start_day
    b2b = c.is_b2b
    first = np.where(c.female, c.first, c.first + 10)
    first_a = vocab(FIRST_NAMES_F + FIRST_NAMES_M, first)
    last_a = vocab(LAST_NAMES, c.last)
    comp_name = join(
        vocab(COMPANY_A, c.company[:, 0]),
        vocab(COMPANY_B, c.company[:, 1]),
        vocab(COMPANY_C, c.company[:, 2]),
        sep=" ",
    )
    num = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    email_c = join(pc.utf8_lower(first_a), ".", pc.utf8_lower(last_a), num, "@example.com")
    email_b = join(
        "purchasing",
        num,
        "@",
        pc.utf8_lower(vocab(COMPANY_A, c.company[:, 0])),
        pc.utf8_lower(vocab(COMPANY_B, c.company[:, 1])),
        ".example.com",
    )
    bmask = pa.array(b2b)
    cmask = pa.array(~b2b)
    null_s = pa.scalar(None, pa.string())
    gender = np.where(c.gender_x, "X", np.where(c.female, "F", "M"))
    signup_day = c.signup_s // DAY
    birth_d = signup_day - c.age_days

    def cust_cols(region, city):
        city_idx = region * 3 + city
        return {
            "customer_id": cid,
            "customer_type": pa.array(np.where(b2b, "B2B", "B2C")),
            "name": pc.if_else(bmask, comp_name, join(first_a, last_a, sep=" ")),
            "email": pc.if_else(bmask, email_b, email_c),
            "phone": join("+1-555-", pc.utf8_lpad(pc.cast(pa.array(c.phone), pa.string()), 7, "0")),
            "birth_date": pc.if_else(cmask, dates(start_d, birth_d), pa.scalar(None, pa.date32())),
            "gender": pc.if_else(cmask, pa.array(gender), null_s),
            "city": vocab([x for r in REGION_NAMES for x in REGIONS[r]], city_idx),
            "region": vocab(REGION_NAMES, region),
            "country": pa.array(np.full(n, COUNTRY)),
            "occupation": pc.if_else(cmask, vocab(OCCUPATIONS, c.occupation), null_s),
            "industry": pc.if_else(bmask, vocab(INDUSTRIES, c.industry), null_s),
            "employee_count": pa.array(c.employees.astype(np.int32), mask=~b2b),
            "annual_revenue": money(c.revenue_c, b2b),
            "acquisition_channel": vocab(ACQ_CHANNELS, c.acq),
            "signup_date": dates(start_d, signup_day),
        }

    start_s = world.window.start_s
    c1 = cust_cols(c.region, c.city)
    c1["updated_at"] = timestamps(start_s, c.signup_s)
    ch = np.flatnonzero(c.changed)
    c2 = {k: v.take(pa.array(ch)) for k, v in cust_cols(c.new_region, c.new_city).items()}
    c2["updated_at"] = timestamps(start_s, c.change_s[ch])
    return EntityRows(
        pa.concat_tables([pa.table(c1), pa.table(c2)]),
        np.concatenate([c.file_day, c.change_day[ch]]),
        np.concatenate([c.signup_s, c.change_s[ch]]) * (n + 1) + np.concatenate([np.arange(n), ch]),
    )


def _products(world: World, pid) -> EntityRows:
    """All products, in one file on the first day."""
    import pyarrow as pa
    import pyarrow.compute as pc

    p = world.products
    n = len(p.category)
    cat_names = vocab(CATEGORY_NAMES, p.category)
    pnum = pc.cast(pa.array(np.arange(n) % PRODUCTS_PER_CATEGORY + 1), pa.string())
    table = pa.table(
        {
            "product_id": pid,
            "product_name": join(pc.utf8_capitalize(pc.replace_substring(cat_names, "_", " ")), " item ", pnum),
            "category": cat_names,
            "unit_cost": money(p.cost_c),
            "list_price": money(p.price_c),
        }
    )
    return EntityRows(table, np.zeros(n, dtype=np.int64), np.arange(n))


def _orders(world: World, bad: BadRows, cid, oid) -> EntityRows:
    """Orders, then duplicated orders (exact copies), then new bad orders."""
    import pyarrow as pa

    o, start_s = world.orders, world.window.start_s
    no = len(o.cust)
    dup, new = bad.duplicate_orders, bad.new_orders
    dup_o = np.array([e.index for e in dup], dtype=np.int64)
    ords = {
        "order_id": oid,
        "customer_id": cid.take(pa.array(o.cust)),
        "order_ts": timestamps(start_s, o.sec),
        "channel": vocab(ORDER_CHANNELS, o.channel),
        "status": pa.array(np.where(o.canc, "cancelled", "completed")),
        "updated_at": timestamps(start_s, o.upd),
    }
    parts = [pa.table(ords)]
    day_parts = [o.day]
    ord_parts = [np.arange(no)]
    if dup:
        parts.append(pa.table(ords).take(pa.array(dup_o)))
        day_parts.append(np.array([e.day for e in dup], dtype=np.int64))
        ord_parts.append(dup_o)
    if new:
        secs = np.array([e.sec for e in new], dtype=np.int64)
        parts.append(
            pa.table(
                {
                    "order_id": pa.array([e.order_id for e in new]),
                    "customer_id": pa.array([e.customer_id for e in new]),
                    "order_ts": timestamps(start_s, secs),
                    "channel": pa.array(["web"] * len(new)),
                    "status": pa.array(["completed"] * len(new)),
                    "updated_at": timestamps(start_s, secs),
                }
            )
        )
        day_parts.append(np.array([e.day for e in new], dtype=np.int64))
        ord_parts.append(no + np.arange(len(new)))
    return EntityRows(pa.concat_tables(parts), np.concatenate(day_parts), np.concatenate(ord_parts))


def _order_lines(world: World, bad: BadRows, pid, oid) -> EntityRows:
    """Order lines, then duplicated lines (exact copies), then new bad lines (after their order's last line)."""
    import pyarrow as pa

    o, ln = world.orders, world.lines
    nl = len(ln.order)
    lines = {
        "order_id": oid.take(pa.array(ln.order)),
        "line_number": pa.array(ln.number.astype(np.int32)),
        "product_id": pid.take(pa.array(ln.product)),
        "quantity": pa.array(ln.quantity.astype(np.int32)),
        "unit_price": money(ln.unit_price_c),
        "discount_amount": money(ln.discount_c, ln.has_discount),
    }
    parts = [pa.table(lines)]
    day_parts = [o.day[ln.order]]
    ord_parts = [np.arange(nl)]
    dup, new = bad.duplicate_lines, bad.new_lines
    if dup:
        x = np.array([e.index for e in dup], dtype=np.int64)
        parts.append(pa.table(lines).take(pa.array(x)))
        day_parts.append(np.array([e.day for e in dup], dtype=np.int64))
        ord_parts.append(x)
    if new:
        h = np.array([e.order for e in new], dtype=np.int64)
        parts.append(
            pa.table(
                {
                    "order_id": oid.take(pa.array(h)),
                    "line_number": pa.array([e.line_number for e in new], pa.int32()),
                    "product_id": pa.array([e.product_id for e in new]),
                    "quantity": pa.array([e.quantity for e in new], pa.int32()),
                    "unit_price": money(np.array([e.unit_price_c for e in new], dtype=np.int64)),
                    "discount_amount": money(np.zeros(len(new), dtype=np.int64), np.zeros(len(new), dtype=bool)),
                }
            )
        )
        day_parts.append(np.array([e.day for e in new], dtype=np.int64))
        ord_parts.append(ln.order_start[h] + ln.per_order[h] - 1)
    return EntityRows(pa.concat_tables(parts), np.concatenate(day_parts), np.concatenate(ord_parts))


def _returns(world: World, bad: BadRows, pid, oid) -> EntityRows:
    """Returns, then bad returns (refund exceeds the line)."""
    import pyarrow as pa

    r, ln, start_s = world.returns, world.lines, world.window.start_s
    rl = r.line
    rets = {
        "return_id": ids("R", np.arange(1, len(rl) + 1), 8),
        "order_id": oid.take(pa.array(ln.order[rl])),
        "product_id": pid.take(pa.array(ln.product[rl])),
        "return_ts": timestamps(start_s, r.sec),
        "quantity": pa.array(r.quantity.astype(np.int32)),
        "refund_amount": money(r.refund_c),
        "reason": vocab(RETURN_REASONS, r.reason),
    }
    parts = [pa.table(rets)]
    day_parts = [r.sec // DAY]
    ord_parts = [r.sec]
    ex = bad.returns
    if ex:
        x = np.array([e.line for e in ex], dtype=np.int64)
        secs = np.array([e.sec for e in ex], dtype=np.int64)
        parts.append(
            pa.table(
                {
                    "return_id": pa.array([e.return_id for e in ex]),
                    "order_id": oid.take(pa.array(ln.order[x])),
                    "product_id": pid.take(pa.array(ln.product[x])),
                    "return_ts": timestamps(start_s, secs),
                    "quantity": pa.array([e.quantity for e in ex], pa.int32()),
                    "refund_amount": money(np.array([e.refund_c for e in ex], dtype=np.int64)),
                    "reason": pa.array(["changed_mind"] * len(ex)),
                }
            )
        )
        day_parts.append(np.array([e.day for e in ex], dtype=np.int64))
        ord_parts.append(secs)
    return EntityRows(pa.concat_tables(parts), np.concatenate(day_parts), np.concatenate(ord_parts))


def _service_interactions(world: World, cid) -> EntityRows:
    import pyarrow as pa

    s = world.service
    ns = len(s.cust)
    table = pa.table(
        {
            "interaction_id": ids("I", np.arange(1, ns + 1), 9),
            "customer_id": cid.take(pa.array(s.cust)),
            "interaction_ts": timestamps(world.window.start_s, s.sec),
            "channel": vocab(SERVICE_CHANNELS, s.channel),
            "type": vocab(SERVICE_TYPES, s.type),
            "duration_minutes": pa.array(s.duration),
            "satisfaction_score": pa.array(s.satisfaction.astype(np.int32)),
            "resolved": pa.array(s.resolved),
        }
    )
    return EntityRows(table, s.sec // DAY, np.arange(ns))


def _marketing_contacts(world: World, cid, oid) -> EntityRows:
    """Contacts; campaign_id = CMP-<monday YYYYMMDD>-<type code>."""
    import pyarrow as pa
    import pyarrow.compute as pc

    m, start_d = world.marketing, world.window.start_day
    nm = len(m.cust)
    mday = m.sec // DAY
    monday = mday + start_d - (mday + start_d + 3) % 7
    types = list(CAMPAIGN_TYPES)
    camp = join(
        "CMP-",
        pc.replace_substring(pc.cast(dates(0, monday), pa.string()), "-", ""),
        "-",
        vocab([CAMPAIGN_TYPES[t][0] for t in types], m.type),
    )
    table = pa.table(
        {
            "contact_id": ids("M", np.arange(1, nm + 1), 9),
            "customer_id": cid.take(pa.array(m.cust)),
            "campaign_id": camp,
            "channel": vocab(CONSENT_CHANNELS, m.channel),
            "contact_ts": timestamps(world.window.start_s, m.sec),
            "offer_category": vocab(CATEGORY_NAMES, m.offer),
            "responded": pa.array(m.responded),
            "converted_order_id": pc.if_else(
                pa.array(m.converted), oid.take(pa.array(m.conv_order)), pa.scalar(None, pa.string())
            ),
        }
    )
    return EntityRows(table, mday, np.arange(nm))


def _consents(world: World, cid) -> EntityRows:
    import pyarrow as pa

    c, n = world.consents, world.window.customers
    table = pa.table(
        {
            "customer_id": cid.take(pa.array(c.cust)),
            "channel": vocab(CONSENT_CHANNELS, c.channel),
            "status": pa.array(np.where(c.status, "opt_in", "opt_out")),
            "updated_at": timestamps(world.window.start_s, c.sec),
        }
    )
    return EntityRows(table, c.day, c.sec * (4 * n + 4) + c.cust * 4 + c.channel)


def _wallet_surveys(world: World, cid) -> EntityRows:
    import pyarrow as pa

    s, w = world.surveys, world.wallets
    i = s.wallet_row
    table = pa.table(
        {
            "survey_id": ids("S", np.arange(1, len(i) + 1), 8),
            "customer_id": cid.take(pa.array(w.cust[i])),
            "survey_date": dates(world.window.start_day, s.day),
            "category": vocab(CATEGORY_NAMES, w.cat[i]),
            "reported_annual_spend": money(s.cents),
            "source": vocab(SURVEY_SOURCES, s.source),
        }
    )
    return EntityRows(table, s.day, np.arange(len(i)))


def _installed_base(world: World, cid) -> EntityRows:
    import pyarrow as pa

    ib, w = world.installed_base, world.wallets
    i = ib.wallet_row
    table = pa.table(
        {
            "customer_id": cid.take(pa.array(w.cust[i])),
            "category": vocab(CATEGORY_NAMES, w.cat[i]),
            "as_of_date": dates(world.window.start_day, ib.day),
            "units_installed": pa.array(ib.units.astype(np.int32)),
        }
    )
    return EntityRows(table, ib.day, np.arange(len(i)))
