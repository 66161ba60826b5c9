"""The run report's pictures: each a query on the published tables and a matplotlib drawing of its rows,
rendered as inline SVG (no JavaScript; nothing fetched: it renders offline). `cvw.run_report` lays them out."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable


@dataclass(frozen=True)
class Figure:
    """One picture: its rows come from `sql` (`{seg}` is the segments relation of D) with `columns`."""

    name: str
    title: str
    sql: str
    columns: tuple[str, ...]
    draw: Callable[[Any, list[dict]], None]
    caption: str = ""
    history: bool = False  # drawable from customer_segments_history alone (a date older than the current one)
    derive: Callable[[list[dict]], list[dict]] | None = None  # columns computed from the rows, after the query


def num(v) -> float:
    return float(v) if v is not None else 0.0


def _label(v) -> str:
    return "(none)" if v is None else str(v)


def _short(v: float, _pos=None) -> str:
    """Axis numbers a reader takes in at a glance: 1.2M, 350k."""
    for unit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= unit:
            return f"{v / unit:,.1f}".rstrip("0").rstrip(".") + suffix
    return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"


def _axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(_short))


def _bars(ax, rows: list[dict], x: str, ys: list[tuple[str, str]], ylabel: str) -> None:
    import numpy as np

    pos = np.arange(len(rows))
    width = 0.8 / len(ys)
    for i, (col, label) in enumerate(ys):
        ax.bar(pos + i * width - 0.4 + width / 2, [num(r[col]) for r in rows], width, label=label)
    ax.set_xticks(pos, [_label(r[x]) for r in rows])
    ax.set_ylabel(ylabel)
    _axis(ax.yaxis)
    ax.axhline(0, color="#444", linewidth=0.6)
    if len(ys) > 1:
        ax.legend(frameon=False)


def _grid(ax, rows: list[dict], row_col: str, col_col: str, value: str, row_label: str, col_label: str,
          row_order: list | None = None, col_order: list | None = None) -> None:
    import numpy as np

    row_keys = row_order or sorted({r[row_col] for r in rows}, key=_label)
    col_keys = col_order or sorted({r[col_col] for r in rows}, key=_label)
    cells = {(r[row_col], r[col_col]): num(r[value]) for r in rows}
    matrix = np.array([[cells.get((a, b), 0.0) for b in col_keys] for a in row_keys])
    ax.imshow(matrix, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(col_keys)), [_label(k) for k in col_keys], rotation=30, ha="right")
    ax.set_yticks(range(len(row_keys)), [_label(k) for k in row_keys])
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    top = matrix.max() if matrix.size else 0
    for i in range(len(row_keys)):
        for j in range(len(col_keys)):
            v = matrix[i, j]
            ax.text(j, i, _short(v), ha="center", va="center", fontsize=7,
                    color="white" if top and v > top * 0.6 else "#222")


def _cumulative(rows: list[dict]) -> list[dict]:
    """The Lorenz points: cumulative shares of customers and of profit after each 5% step (exact sums)."""
    customers = sum(r["customers"] for r in rows)
    profit = sum(Decimal(r["profit_contribution_365d"]) for r in rows)
    out, n, p = [], 0, Decimal(0)
    for r in rows:
        n += r["customers"]
        p += Decimal(r["profit_contribution_365d"])
        out.append({**r, "cumulative_customer_share": n / customers,
                    "cumulative_profit_share": float(p / profit) if profit else None})
    return out


def _draw_lorenz(ax, rows: list[dict]) -> None:
    xs = [0.0] + [r["cumulative_customer_share"] for r in rows]
    ys = [0.0] + [num(r["cumulative_profit_share"]) for r in rows]
    ax.plot(xs, ys, marker="o", markersize=3, label="profit, most profitable customers first")
    ax.plot([0, 1], [0, 1], linestyle="--", color="#888", label="every customer alike")
    ax.axvline(0.2, color="#c44", linewidth=0.8)
    ax.set_xlabel("share of customers with revenue in the last 365 days")
    ax.set_ylabel("cumulative share of profit")
    ax.legend(frameon=False, loc="lower right")


def _draw_deciles(ax, rows: list[dict]) -> None:
    _bars(ax, rows, "purchase_decile", [("revenue_365d", "revenue 365d"),
                                        ("profit_contribution_365d", "profit 365d")], "amount")
    ax.set_xlabel("purchase decile (1 = top 10% by revenue)")


def _draw_value_class(ax, rows: list[dict]) -> None:
    _bars(ax, rows, "value_class", [("revenue_365d", "revenue 365d"),
                                    ("profit_contribution_365d", "profit 365d")], "amount")
    ax.set_xlabel("value class")


def _draw_rfm(ax, rows: list[dict]) -> None:
    _grid(ax, rows, "r_score", "fm_score", "customers", "R score (5 = most recent)", "FM score (5 = most)",
          row_order=[5, 4, 3, 2, 1], col_order=[1, 2, 3, 4, 5])


def _draw_rfm_revenue(ax, rows: list[dict]) -> None:
    _grid(ax, rows, "r_score", "fm_score", "revenue_365d", "R score (5 = most recent)", "FM score (5 = most)",
          row_order=[5, 4, 3, 2, 1], col_order=[1, 2, 3, 4, 5])


def _draw_rad(ax, rows: list[dict]) -> None:
    _grid(ax, rows, "rad_strategy", "value_tier", "customers", "RAD strategy", "value tier")


def _hbars(ax, rows: list[dict], label: str, value: str, xlabel: str) -> None:
    ax.barh([_label(r[label]) for r in rows], [num(r[value]) for r in rows])
    ax.set_xlabel(xlabel)
    _axis(ax.xaxis)


def _draw_stages(ax, rows: list[dict]) -> None:
    _hbars(ax, rows, "lifecycle_stage", "customers", "customers")


def _draw_transitions(ax, rows: list[dict]) -> None:
    _grid(ax, rows, "from_stage", "to_stage", "customers", "stage on the previous date", "stage on D")


def _draw_wallet(ax, rows: list[dict]) -> None:
    import numpy as np

    categories = sorted({r["category"] for r in rows}, key=_label)
    methods = sorted({r["wallet_method"] for r in rows}, key=_label)
    bottom = np.zeros(len(categories))
    for m in methods:
        vals = np.array([sum(num(r["wallet_headroom"]) for r in rows
                             if r["category"] == c and r["wallet_method"] == m) for c in categories])
        ax.bar([_label(c) for c in categories], vals, bottom=bottom, label=_label(m))
        bottom += vals
    ax.set_ylabel("wallet headroom (wallet - our spend)")
    _axis(ax.yaxis)
    ax.tick_params(axis="x", rotation=30)
    ax.legend(frameon=False, title="wallet method")


def _draw_wallet_model(ax, rows: list[dict]) -> None:
    import numpy as np

    categories = sorted({r["category"] for r in rows}, key=_label)
    kinds = sorted({r["customer_type"] for r in rows}, key=_label)
    pos = np.arange(len(categories))
    width = 0.8 / max(len(kinds), 1)
    for i, kind in enumerate(kinds):
        errors = {r["category"]: r["mdape_leave_survey_out"] for r in rows if r["customer_type"] == kind}
        ax.bar(pos + i * width - 0.4 + width / 2, [100 * num(errors.get(c)) for c in categories], width,
               label=_label(kind))
    ax.set_xticks(pos, [_label(c) for c in categories], rotation=30)
    ax.set_ylabel("median error vs held-out surveys (%)")
    ax.legend(frameon=False, title="customer type")


def _draw_clv(ax, rows: list[dict]) -> None:
    _bars(ax, rows, "value_tier", [("clv_12m", "CLV, next 12 months (sum)")], "amount")
    ax.set_xlabel("value tier")


def _draw_audience(ax, rows: list[dict]) -> None:
    _grid(ax, rows, "event_type", "channel", "customers", "event", "channel")


def _draw_suppression(ax, rows: list[dict]) -> None:
    _hbars(ax, rows, "suppression_reason", "customer_events", "customer x event not contacted")


FIGURES: tuple[Figure, ...] = (
    Figure("lorenz", "Pareto curve of profit", (
        "select cast(floor(20.0 * (profit_rank - 1) / n) as integer) + 1 as step, count(*) as customers, "
        "sum(profit_contribution_365d) as profit_contribution_365d from (select profit_contribution_365d, "
        "row_number() over (order by profit_contribution_365d desc, customer_id) as profit_rank, "
        "count(*) over () as n from analytics.customer_profitability where revenue_365d > 0) ranked "
        "group by 1 order by 1"),
        ("step", "customers", "profit_contribution_365d"), _draw_lorenz,
        "Customers with revenue in the last 365 days, most profitable first, in steps of 5%: how much of the "
        "profit the best customers bring. Steps end where pareto_summary cuts (ceil(share x customers)).",
        derive=_cumulative),
    Figure("deciles", "Revenue and profit by purchase decile", (
        "select purchase_decile, customers, revenue_365d, profit_contribution_365d "
        "from analytics.purchase_decile_summary order by purchase_decile"),
        ("purchase_decile", "customers", "revenue_365d", "profit_contribution_365d"), _draw_deciles),
    Figure("value_class", "Revenue and profit by value class", (
        "select value_class, count(*) as customers, sum(revenue_365d) as revenue_365d, "
        "sum(profit_contribution_365d) as profit_contribution_365d "
        "from analytics.customer_segments group by value_class order by value_class"),
        ("value_class", "customers", "revenue_365d", "profit_contribution_365d"), _draw_value_class),
    Figure("rfm_grid", "RFM grid: customers per cell", (
        "select r_score, fm_score, count(*) as customers from {seg} where r_score is not null "
        "group by r_score, fm_score order by r_score, fm_score"),
        ("r_score", "fm_score", "customers"), _draw_rfm, history=True),
    Figure("rfm_revenue", "RFM grid: revenue of the last 365 days per cell", (
        "select r_score, fm_score, sum(revenue_365d) as revenue_365d from analytics.customer_rfm "
        "group by r_score, fm_score order by r_score, fm_score"),
        ("r_score", "fm_score", "revenue_365d"), _draw_rfm_revenue),
    Figure("rad_tier", "RAD strategy x value tier", (
        "select rad_strategy, value_tier, count(*) as customers from {seg} "
        "group by rad_strategy, value_tier order by rad_strategy, value_tier"),
        ("rad_strategy", "value_tier", "customers"), _draw_rad, history=True),
    Figure("lifecycle_stages", "Lifecycle stages", (
        "select lifecycle_stage, count(*) as customers from {seg} group by lifecycle_stage "
        "order by lifecycle_stage"),
        ("lifecycle_stage", "customers"), _draw_stages, history=True),
    Figure("lifecycle_transitions", "Lifecycle transitions since the previous published date", (
        "select from_as_of_date, from_stage, to_stage, customers from analytics.lifecycle_transitions "
        "order by from_stage, to_stage"),
        ("from_as_of_date", "from_stage", "to_stage", "customers"), _draw_transitions),
    Figure("wallet_headroom", "Wallet headroom by category and wallet method", (
        "select category, wallet_method, count(*) as customers, sum(wallet_headroom) as wallet_headroom "
        "from analytics.customer_wallet where wallet_method <> 'none' "
        "group by category, wallet_method order by category, wallet_method"),
        ("category", "wallet_method", "customers", "wallet_headroom"), _draw_wallet,
        "Where the money we do not get yet is: survey and installed base first, the wallet model otherwise (every "
        "customer x category, bought from us or not)."),
    Figure("wallet_model", "Wallet model: error against held-out surveys", (
        "select category, customer_type, surveys, mdape_leave_survey_out from analytics.wallet_model_fit "
        "where category <> 'all' and customer_type <> 'all' and surveys > 0 order by category, customer_type"),
        ("category", "customer_type", "surveys", "mdape_leave_survey_out"), _draw_wallet_model,
        "How far the model's wallet is from what surveyed customers reported (median absolute percentage error), "
        "each survey's wallet calibrated without its own fold of surveys: the wallet_expected_error of the "
        "model's rows."),
    Figure("clv_tier", "CLV by value tier", (
        "select value_tier, count(*) as customers, sum(clv_12m) as clv_12m from {seg} "
        "group by value_tier order by value_tier"),
        ("value_tier", "customers", "clv_12m"), _draw_clv, history=True),
    Figure("audience", "Campaign audience: eligible contacts by event and channel", (
        "select event_type, channel, count(*) as customers from analytics.campaign_audience where is_eligible "
        "group by event_type, channel order by event_type, channel"),
        ("event_type", "channel", "customers"), _draw_audience),
    Figure("suppression", "Campaign audience: why a contact is not sent", (
        "select suppression_reason, count(*) as customer_events from analytics.campaign_audience "
        "where not is_eligible group by suppression_reason order by suppression_reason"),
        ("suppression_reason", "customer_events"), _draw_suppression),
)


def svg(fig: Figure, rows: list[dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": f"cvw-{fig.name}", "text.parse_math": False,
                                "svg.fonttype": "path", "font.size": 9}):
        figure, ax = plt.subplots(figsize=(6.4, 3.6))
        try:
            if rows:
                fig.draw(ax, rows)
            else:
                ax.text(0.5, 0.5, "no rows on this date", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
            figure.tight_layout()
            buf = io.StringIO()
            figure.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(figure)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype
