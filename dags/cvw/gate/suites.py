"""The gate's suites: one small function per published table, returning its GX expectations as of D.

Which tool checks what (expectations/README.md): dbt tests own structure (keys unique and not null,
not-null columns, accepted values of every category column, relationships, cross-model rules); these suites
own ranges, pairs of columns, point-in-time bounds, freshness, the as_of_date stamp and row counts against
the previous publish. A check is written in one of the two, never both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from cvw.catalog import NON_EMPTY_TABLES, PUBLISHED_TABLES
from cvw.config import flag

GATE_DEFAULTS = {
    "gate_row_count_min_ratio": 0.5,
    "gate_row_count_max_ratio": 2.0,
    "gate_row_count_slack": 1000,
    "gate_freshness_days": 3,
}



def gate_vars() -> dict:
    """Gate thresholds and the vars the suites read: dbt vars (dbt_project.yml + CVW_DBT_VARS), with defaults."""
    from cvw.config import project_vars

    return {**GATE_DEFAULTS, **project_vars()}


# --- suites: small functions, one per table; `cvw expectations export` writes them to expectations/ ---

def _facts_dated(column: str, as_of: date, freshness_days: int | None = None) -> list:
    """Point-in-time guard (nothing after D) and, optionally, freshness (something within N days of D)."""
    import great_expectations.expectations as gxe

    low = (as_of - timedelta(days=freshness_days)).isoformat() if freshness_days is not None else None
    return [gxe.ExpectColumnMaxToBeBetween(column=column, min_value=low, max_value=as_of.isoformat())]


def _stamped(as_of: date) -> list:
    """Every row carries the run's as_of_date."""
    import great_expectations.expectations as gxe

    d = as_of.isoformat()
    return [
        gxe.ExpectColumnMinToBeBetween(column="as_of_date", min_value=d, max_value=d),
        gxe.ExpectColumnMaxToBeBetween(column="as_of_date", min_value=d, max_value=d),
    ]


def suite_dim_customers(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="age_years", min_value=0, max_value=120),
        gxe.ExpectColumnValuesToBeBetween(column="employee_count", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="annual_revenue", min_value=0),
        *_stamped(as_of),
    ]


def suite_fct_orders(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="discount_amount", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="line_count", min_value=1, mostly=0.99),
        *_facts_dated("order_date", as_of, int(v["gate_freshness_days"])),
        *_stamped(as_of),
    ]


def suite_fct_order_lines(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="unit_cost", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="line_revenue", min_value=0, mostly=0.999),
        *_facts_dated("order_date", as_of),
    ]


def suite_fct_returns(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="refund_amount", min_value=0),
        *_facts_dated("return_date", as_of),
    ]


def suite_fct_service_interactions(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="duration_minutes", min_value=0, max_value=24 * 60),
        *_facts_dated("interaction_date", as_of),
    ]


def suite_fct_marketing_contacts(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnMeanToBeBetween(column="responded", min_value=0, max_value=1),
        *_facts_dated("contact_date", as_of),
    ]


def _between(column: str, low=None, high=None, **kw):
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high, **kw)


def _in_set(column: str, values: list):
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values)


def _scores(*columns: str) -> list:
    return [_between(c, 1, 5) for c in columns]


def suite_customer_rfm(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        *_scores("r_score", "f_score", "m_score", "fm_score"),
        _between("frequency", 0),
        _between("avg_repeat_value", 0),
        _between("revenue_lifetime", 0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="tenure_days", column_B="recency_days", or_equal=True),
        *_facts_dated("last_purchase_date", as_of),
        *_stamped(as_of),
    ]


def suite_customer_profitability(as_of: date, v: dict) -> list:
    return [
        _between("purchase_decile", 1, 10),
        _between("revenue_365d", 0),
        _between("cost_to_serve_365d", 0),
        *_stamped(as_of),
    ]


def suite_customer_wallet(as_of: date, v: dict) -> list:
    # W >= own spend is a dbt test on the model (exact in SQL; here a double would meet a decimal)
    return [
        _between("share_of_wallet", 0, 1),
        _between("wallet_estimate", 0),
        _between("wallet_expected_error", 0),
        *_stamped(as_of),
    ]


def suite_customer_clv(as_of: date, v: dict) -> list:
    return [
        _between("p_alive", 0, 1),
        _between("expected_purchases_365d", 0),
        _between("expected_avg_value", 0),
        _between("clv_12m", 0),
        _between("margin_rate", 0, 1),
        *_stamped(as_of),
    ]


def suite_clv_model_fit(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    checks = [_between("value", 0, strict_min=True), gxe.ExpectTableRowCountToEqual(value=7), *_stamped(as_of)]
    if flag(v.get("clv_fit_required", True)):
        # a fit that did not converge blocks the publish (booleans reach GX as 1/0 on every engine)
        checks.append(_in_set("converged", [1]))
    return checks


def suite_wallet_model_fit(as_of: date, v: dict) -> list:
    checks = [
        _between("surveys", 0),
        _between("calibration_factor", 0, strict_min=True),
        _between("mdape_leave_survey_out", 0),
        _between("median_estimate_over_survey", 0),
        _between("quantile", 0, 1, strict_min=True, strict_max=True),
        _between("training_rows", 0),
        *_stamped(as_of),
    ]
    if flag(v.get("wallet_model_required", True)):
        checks.append(_in_set("fitted", [1]))  # booleans reach GX as 1/0 on every engine
    return checks


def suite_customer_segments(as_of: date, v: dict) -> list:
    return [
        _between("share_of_wallet", 0, 1),
        _between("p_alive", 0, 1),
        _between("clv_12m", 0),
        *_scores("r_score", "fm_score"),
        *_stamped(as_of),
    ]


def suite_purchase_decile_summary(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [
        _between("purchase_decile", 1, 10),
        gxe.ExpectTableRowCountToBeBetween(min_value=0, max_value=10),
        gxe.ExpectColumnMaxToBeBetween(column="cumulative_revenue_share", min_value=1 - 1e-9, max_value=1 + 1e-9),
        *_stamped(as_of),
    ]


def suite_pareto_summary(as_of: date, v: dict) -> list:
    import great_expectations.expectations as gxe

    return [gxe.ExpectTableRowCountToEqual(value=1), _between("top_revenue_share", 0, 1), *_stamped(as_of)]


def suite_segment_summary(as_of: date, v: dict) -> list:
    return [_between("customers", 1), _between("avg_share_of_wallet", 0, 1), *_stamped(as_of)]


def suite_lifecycle_transitions(as_of: date, v: dict) -> list:
    return [_between("customers", 1), _between("share_of_from_stage", 0, 1), *_stamped(as_of)]


def suite_category_affinity(as_of: date, v: dict) -> list:
    # recomputed against mlxtend in tests/test_category_affinity.py; here: shares are shares, lift positive
    return [
        _between("support", 0, 1),
        _between("confidence", 0, 1),
        _between("lift", 0, strict_min=True),
        _between("customers_both", 1),
        *_stamped(as_of),
    ]


def suite_customer_events(as_of: date, v: dict) -> list:
    return [
        _between("days_until", 0, int(v["event_anniversary_days"])),  # anniversaries only (null for birthdays)
        # reference_date <= D and previous_as_of_date < D: dbt tests (both columns may be all null)
        *_stamped(as_of),
    ]


def suite_campaign_audience(as_of: date, v: dict) -> list:
    """The audience's rules as expectations; dbt tests recompute consent and caps from their sources
    (data-tests/marts/test_campaign_audience__*), these check every row's own columns."""
    import great_expectations.expectations as gxe

    from cvw.audience import SUPPRESSION_RULES

    reasons = list(SUPPRESSION_RULES)
    cap7, cap30 = int(v["contact_cap_7d"]), int(v["contact_cap_30d"])
    return [
        # exactly one of eligible / suppressed: an eligible row has no reason, a suppressed one has one
        # (1/0: booleans are compared as integers, see cvw.gate.aggregate)
        gxe.ExpectColumnPairValuesToBeInSet(
            column_A="is_eligible", column_B="audience_status",
            value_pairs_set=[(1, "eligible"), *((0, r) for r in reasons)],
        ),
        _between("response_rate", 0, 1, strict_min=True, strict_max=True),
        _between("priority", 0),
        _between("expected_value", 0),
        _between("planned_contacts_7d", 1, cap7),
        _between("planned_contacts_30d", 1, cap30),
        *_stamped(as_of),
    ]


def suite_customer_next_best_action(as_of: date, v: dict) -> list:
    """The inbound card: each action with its own reasons; rates and values in range. dbt tests check that an
    offer names a category and the keys; its choice is recomputed by tests/test_customer_card.py."""
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesToBeInSet(column_A="action", column_B="action_reason", value_pairs_set=[
            ("service_recovery", "high_value_complaint"), ("offer", "affinity_rule"),
            ("no_offer", "only_complained_categories"), ("no_offer", "no_purchase_in_window"),
            ("no_offer", "no_rule_to_an_unbought_category"),
        ]),
        _between("expected_response_rate", 0, 1, strict_min=True),
        _between("expected_value", 0),
        _between("priority", 0),
        _between("complained_categories_30d", 0),
        *_stamped(as_of),
    ]


SUITES: dict[str, Callable[[date, dict], list]] = {
    "dim_customers": suite_dim_customers,
    "fct_orders": suite_fct_orders,
    "fct_order_lines": suite_fct_order_lines,
    "fct_returns": suite_fct_returns,
    "fct_service_interactions": suite_fct_service_interactions,
    "fct_marketing_contacts": suite_fct_marketing_contacts,
    "customer_rfm": suite_customer_rfm,
    "customer_profitability": suite_customer_profitability,
    "customer_wallet": suite_customer_wallet,
    "customer_clv": suite_customer_clv,
    "clv_model_fit": suite_clv_model_fit,
    "wallet_model_fit": suite_wallet_model_fit,
    "customer_segments": suite_customer_segments,
    "purchase_decile_summary": suite_purchase_decile_summary,
    "pareto_summary": suite_pareto_summary,
    "segment_summary": suite_segment_summary,
    "lifecycle_transitions": suite_lifecycle_transitions,
    "category_affinity": suite_category_affinity,
    "customer_events": suite_customer_events,
    "campaign_audience": suite_campaign_audience,
    "customer_next_best_action": suite_customer_next_best_action,
}
assert tuple(SUITES) == PUBLISHED_TABLES, "one suite per published table of cvw.catalog, in its order"


def row_count_expectation(table: str, previous: int | None, v: dict):
    """Row count within a band around the previous publish; on the first publish, non-empty where required."""
    import great_expectations.expectations as gxe

    if previous is None:
        return gxe.ExpectTableRowCountToBeBetween(min_value=1 if table in NON_EMPTY_TABLES else 0)
    slack = int(v["gate_row_count_slack"])
    return gxe.ExpectTableRowCountToBeBetween(
        min_value=max(0, int(previous * float(v["gate_row_count_min_ratio"])) - slack),
        max_value=int(previous * float(v["gate_row_count_max_ratio"])) + slack,
    )


def build_suite(
    table: str, as_of: date, previous_rows: int | None = None, v: dict | None = None, empty: bool = False
):
    """The GX suite for one table as of D (an empty table only gets its row-count check)."""
    import great_expectations as gx

    v = v or gate_vars()
    expectations = [row_count_expectation(table, previous_rows, v), *([] if empty else SUITES[table](as_of, v))]
    return gx.ExpectationSuite(name=table, expectations=expectations)
