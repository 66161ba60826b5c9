"""Keys and values as they appear in the files: scalars (bad rows) and Arrow arrays (writers, ground truth)."""

from __future__ import annotations

import numpy as np

from cvw.generate.params import PRODUCTS_PER_CATEGORY
from cvw.generate.window import DAY, Window

# -- scalars ---------------------------------------------------------------------------


def timestamp_text(window: Window, sec: int) -> str:
    """Seconds since the start as ``YYYY-MM-DD HH:MM:SS``."""
    s = int(sec)
    r = s % DAY
    return f"{window.iso_day(s // DAY)} {r // 3600:02d}:{r % 3600 // 60:02d}:{r % 60:02d}"


def money_text(cents: int) -> str:
    c = int(cents)
    return f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"


def order_id(o: int, width: int) -> str:
    return f"O{int(o) + 1:0{width}d}"


def customer_id(c: int, width: int) -> str:
    return f"C{int(c) + 1:0{width}d}"


def product_id(p: int) -> str:
    p = int(p)
    return f"P{p // PRODUCTS_PER_CATEGORY + 1:02d}{p % PRODUCTS_PER_CATEGORY + 1:02d}"


# -- Arrow arrays ----------------------------------------------------------------------


def ids(prefix: str, numbers: np.ndarray, width: int):
    """``prefix`` + zero-padded numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def customer_ids(window: Window):
    """Ids of all customers, in index order."""
    return ids("C", np.arange(1, window.customers + 1), window.customer_id_width)


def product_ids(n_products: int):
    import pyarrow as pa

    return pa.array([product_id(p) for p in range(n_products)])


def vocab(words, idx: np.ndarray):
    import pyarrow as pa

    return pa.array(list(words), pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def join(*parts, sep: str = ""):
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*parts, sep)


def money(cents: np.ndarray, valid: np.ndarray | None = None):
    """int64 cents -> DECIMAL(18,2) without float rounding."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cents = np.ascontiguousarray(cents, dtype=np.int64)
    buf = np.empty((len(cents), 2), dtype=np.int64)
    buf[:, 0] = cents
    buf[:, 1] = np.where(cents < 0, -1, 0)
    arr = pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(buf)])
    if valid is not None:
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.decimal128(18, 2)))
    return arr


def timestamps(start_epoch_s: int, sec: np.ndarray):
    import pyarrow as pa

    return pa.array(np.asarray(sec, dtype=np.int64) + start_epoch_s, pa.timestamp("s"))


def dates(start_epoch_d: int, day: np.ndarray):
    import pyarrow as pa

    return pa.array((np.asarray(day, dtype=np.int64) + start_epoch_d).astype(np.int32), pa.date32())
