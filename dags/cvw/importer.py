"""Turn a plain transaction log into the landing contract (SPEC §3, last paragraph).

``import_transactions(file, out, customer_col, date_col, amount_col, ...)`` reads a log
with one purchase per row (customer id, date, amount and optionally quantity; e.g. the
CDNOW file that ``lifetimes`` ships) with DuckDB, set-based, and writes

* ``out/orders/<stem>.csv``      one order per row: ``order_id = <stem>-<n>`` where ``n`` is
  the 1-based data row number in the file (header and blank lines not counted),
  status ``completed``, ``order_ts`` = the parsed date (midnight when the log has a date
  only), channel and updated_at empty;
* ``out/order_lines/<stem>.csv`` one line per order: line_number 1, product_id ``unknown``;
* ``out/customers/<stem>.csv``   one row per customer: customer_id and ``updated_at`` = the
  customer's first transaction; every other column empty (not given = null);
* ``out/products/<stem>.csv``    one row: product ``unknown``, category ``unknown``,
  ``unit_cost`` 0.00 and ``list_price`` 0.00 (required columns cannot be null). Margin is
  therefore **unknown** for imported data: gross_margin equals revenue; treat it so.

Pricing decision (amount equality matters most, and the quantity is kept):
``quantity`` is the quantity column (or 1). When the amount in cents divides by the
quantity, ``unit_price = amount / quantity`` and ``discount_amount`` is empty. Otherwise
``unit_price = ceil(amount_cents / quantity) / 100`` and ``discount_amount`` is the
rounding remainder ``quantity * unit_price - amount`` (between 0.01 and quantity - 1
cents), so ``quantity * unit_price - discount_amount`` equals the amount to the cent on
every line. A missing, zero, negative or fractional quantity becomes quantity 1 with
``unit_price = amount`` (counted in ``quantity_defaulted``). Amounts are rounded to cents.

Nothing is dropped silently: a row whose customer, date, amount or (non-empty) quantity
cannot be parsed, or that has the wrong number of fields, raises ``ImportFailed`` (a ``ValueError``)
naming the file and the first offending rows; so do a missing file and an unknown column.

The file is read by its exact path (a ``*`` in its name is a character) and its line endings may be
LF, CRLF, a mix of both, or CR only (old Mac exports): it is read from a copy with LF endings.

Delimiter: ``None`` detects it from the first line (``,`` ``\\t`` ``;`` ``|``, else runs of
whitespace); ``" "`` or ``"whitespace"`` means fields separated by runs of whitespace
(leading/trailing whitespace ignored), as in CDNOW. Without a header, columns are named
by ``columns`` or ``column0``, ``column1``, ... Dates: ``date_format`` is a strptime
format (e.g. ``%Y%m%d``); without it ISO dates/timestamps and ``YYYYMMDD`` / ``YYYY/MM/DD``
are accepted.
"""

from __future__ import annotations

from pathlib import Path

from cvw.contract import ENTITIES
from cvw.db import sql_string

_WHITESPACE = {" ", "whitespace", r"\s+", "space"}
_SNIFF = [",", "\t", ";", "|"]


class ImportFailed(ValueError):
    """The transaction log cannot be imported; the message names the file and what is wrong."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _detect_delimiter(file: Path) -> str:
    with open(file, "rb") as fh:
        head = fh.read(65536).decode("utf-8", errors="replace")
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    for d in _SNIFF:
        if d in first:
            return d
    return "whitespace"


def _resolve(names: list[str], wanted: str, role: str) -> str:
    by_lower = {n.lower(): n for n in names}
    if wanted.lower() not in by_lower:
        raise ImportFailed(f"{role} column {wanted!r} not found; columns are {names}")
    return by_lower[wanted.lower()]


def _bad_rows(con, sql: str, what: str, file: Path) -> None:
    bad = con.execute(sql).fetchall()
    if bad and bad[0][0]:
        n, lines = bad[0]
        raise ImportFailed(f"{file}: {n} row(s) with {what}; first data rows: {lines}")


def import_transactions(
    file: Path,
    out: Path,
    customer_col: str,
    date_col: str,
    amount_col: str,
    quantity_col: str | None = None,
    date_format: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    columns: list[str] | None = None,
) -> dict:
    """Write orders, order_lines, customers and products CSVs for a transaction log.

    Returns counts: ``{"customers", "orders", "order_lines", "products", "amount_total"
    (str, exact to the cent), "rounding_discount_lines", "quantity_defaulted", "files"}``.
    """
    import tempfile

    file, out = Path(file), Path(out)
    if not file.is_file():
        raise ImportFailed(f"{file}: no such file")
    with tempfile.TemporaryDirectory(prefix="cvw_import_") as tmp:
        # DuckDB reads a copy with LF line endings under a plain name: mixed or CR-only endings are read, and
        # a `*` or `[` in the file's name is never a pattern
        copy = Path(tmp) / "log.txt"
        copy.write_bytes(file.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        try:
            return _import(file, copy, out, customer_col, date_col, amount_col, quantity_col, date_format,
                           delimiter, header, columns)
        except ImportFailed:
            raise
        except Exception as exc:  # DuckDB could not read the file as given
            raise ImportFailed(f"{file}: cannot be read as a transaction log ({' '.join(str(exc).split())[:300]})"
                               ) from exc


def _import(file: Path, copy: Path, out: Path, customer_col: str, date_col: str, amount_col: str,
            quantity_col: str | None, date_format: str | None, delimiter: str | None, header: bool,
            columns: list[str] | None) -> dict:
    import duckdb

    stem = file.stem
    delim = _detect_delimiter(copy) if delimiter is None else delimiter
    con = duckdb.connect()
    src = sql_string(str(copy))

    if delim in _WHITESPACE:
        con.execute(f"""
            CREATE TEMP TABLE _lines AS
            SELECT ordinality AS _line, regexp_split_to_array(trim(line), '\\s+') AS f
            FROM read_csv({src}, columns = {{'line': 'VARCHAR'}}, header = false, delim = '\\x1f',
                          quote = '', escape = '', auto_detect = false, strict_mode = false)
                 WITH ORDINALITY
            WHERE trim(coalesce(line, '')) <> ''""")
        first = con.execute("SELECT f FROM _lines ORDER BY _line LIMIT 1").fetchone()
        if first is None:
            raise ImportFailed(f"{file}: no rows")
        width = len(first[0])
        if header:
            names = list(first[0])
            con.execute("DELETE FROM _lines WHERE _line = (SELECT min(_line) FROM _lines)")
        if columns is not None:
            names = list(columns)
        elif not header:
            names = [f"column{i}" for i in range(width)]
        _bad_rows(
            con,
            f"""
            WITH r AS (SELECT row_number() OVER (ORDER BY _line) AS _row, len(f) AS n FROM _lines)
            SELECT count(*), list(_row ORDER BY _row)[1:5] FROM r WHERE n <> {len(names)}""",
            f"a field count other than {len(names)}",
            file,
        )
        sel = ", ".join(f"f[{i + 1}] AS {_q(n)}" for i, n in enumerate(names))
        con.execute(
            f"CREATE TEMP TABLE _src AS SELECT row_number() OVER (ORDER BY _line) AS _row, {sel} FROM _lines"
        )
    else:
        opts = [
            f"delim = {sql_string(delim)}",
            f"header = {str(bool(header)).lower()}",
            "all_varchar = true",
            "quote = '\"'",
            "escape = '\"'",
        ]
        if columns is not None:
            opts.append("names = [" + ", ".join(sql_string(c) for c in columns) + "]")
        con.execute(f"""
            CREATE TEMP TABLE _src AS
            SELECT * EXCLUDE (ordinality), row_number() OVER (ORDER BY ordinality) AS _row
            FROM read_csv({src}, {", ".join(opts)}) WITH ORDINALITY""")
        names = [r[0] for r in con.execute("DESCRIBE _src").fetchall() if r[0] != "_row"]

    cc = _q(_resolve(names, customer_col, "customer"))
    dc = _q(_resolve(names, date_col, "date"))
    ac = _q(_resolve(names, amount_col, "amount"))
    if date_format:
        date_expr = f"try_strptime(trim({dc}), {sql_string(date_format)})"
    else:
        date_expr = (
            f"coalesce(TRY_CAST(trim({dc}) AS TIMESTAMP), try_strptime(trim({dc}), ['%Y%m%d', '%Y/%m/%d']))"
        )
    if quantity_col:
        qc = _q(_resolve(names, quantity_col, "quantity"))
        qty_text = f"nullif(trim({qc}), '')"
    else:
        qty_text = "NULL::VARCHAR"
    con.execute(f"""
        CREATE TEMP TABLE _p AS
        SELECT _row,
               nullif(trim({cc}), '') AS customer_id,
               {date_expr} AS order_ts,
               CAST(round(TRY_CAST(trim({ac}) AS DECIMAL(38, 6)) * 100) AS BIGINT) AS cents,
               {qty_text} AS qty_text,
               TRY_CAST({qty_text} AS DECIMAL(38, 6)) AS qty_dec
        FROM _src""")
    for cond, what in [
        ("customer_id IS NULL", "an empty customer id"),
        ("order_ts IS NULL", "an unparseable date"),
        ("cents IS NULL", "an unparseable amount"),
        ("qty_text IS NOT NULL AND qty_dec IS NULL", "an unparseable quantity"),
    ]:
        _bad_rows(con, f"SELECT count(*), list(_row ORDER BY _row)[1:5] FROM _p WHERE {cond}", what, file)
    if con.execute("SELECT count(*) FROM _p").fetchone()[0] == 0:
        raise ImportFailed(f"{file}: no data rows")

    con.execute(f"""
        CREATE TEMP TABLE _t AS
        WITH q AS (
            SELECT *, (qty_dec IS NOT NULL AND qty_dec >= 1 AND qty_dec = round(qty_dec)) AS qty_ok FROM _p
        ), l AS (
            SELECT *, CASE WHEN qty_ok THEN CAST(qty_dec AS BIGINT) ELSE 1 END AS quantity FROM q
        ), u AS (
            SELECT *, CASE WHEN cents % quantity = 0 THEN cents // quantity
                           ELSE CAST(ceil(cents::DOUBLE / quantity) AS BIGINT) END AS up_cents
            FROM l
        )
        SELECT _row, {sql_string(stem)} || '-' || _row AS order_id, customer_id, order_ts, cents, quantity,
               up_cents, quantity * up_cents - cents AS disc_cents, qty_ok
        FROM u""")

    def money(expr: str) -> str:
        return f"CAST(CAST({expr} AS DECIMAL(38, 0)) * 0.01 AS DECIMAL(18, 2))"

    selects = {
        "orders": """
            SELECT order_id, customer_id, order_ts, NULL::VARCHAR AS channel, 'completed' AS status,
                   NULL::TIMESTAMP AS updated_at
            FROM _t ORDER BY _row""",
        "order_lines": f"""
            SELECT order_id, 1 AS line_number, 'unknown' AS product_id, quantity,
                   {money("up_cents")} AS unit_price,
                   CASE WHEN disc_cents <> 0 THEN {money("disc_cents")} END AS discount_amount
            FROM _t ORDER BY _row""",
        "customers": """
            SELECT customer_id, {nulls}, min(order_ts) AS updated_at
            FROM _t GROUP BY customer_id ORDER BY min(_row)""",
        "products": """
            SELECT 'unknown' AS product_id, 'unknown' AS product_name, 'unknown' AS category,
                   0.00::DECIMAL(18, 2) AS unit_cost, 0.00::DECIMAL(18, 2) AS list_price""",
    }
    cust_cols = ENTITIES["customers"].columns
    nulls = ", ".join(
        f"NULL::{t} AS {c}" for c, t in cust_cols.items() if c not in ("customer_id", "updated_at")
    )
    selects["customers"] = selects["customers"].format(nulls=nulls)

    files = {}
    for entity, sql in selects.items():
        cols = ENTITIES[entity].columns
        typed = ", ".join(f"CAST({_q(c)} AS {t}) AS {_q(c)}" for c, t in cols.items())
        folder = out / entity
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{stem}.csv"
        con.execute(f"""
            COPY (SELECT {typed} FROM ({sql}) AS s) TO {sql_string(str(path))}
            (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"',
             DATEFORMAT '%Y-%m-%d', TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')""")
        files[entity] = str(path)

    n_orders, n_customers, total_cents, rounding, defaulted = con.execute("""
        SELECT count(*), count(DISTINCT customer_id), sum(cents)::HUGEINT,
               count(*) FILTER (WHERE disc_cents <> 0), count(*) FILTER (WHERE NOT qty_ok)
        FROM _t""").fetchone()
    con.close()
    total_cents = int(total_cents)
    sign = "-" if total_cents < 0 else ""
    return {
        "customers": int(n_customers),
        "orders": int(n_orders),
        "order_lines": int(n_orders),
        "products": 1,
        "amount_total": f"{sign}{abs(total_cents) // 100}.{abs(total_cents) % 100:02d}",
        "rounding_discount_lines": int(rounding),
        "quantity_defaulted": int(defaulted) if quantity_col else 0,
        "files": files,
    }
