"""What the landing_small fixture must produce as of 2025-01-03 on every engine (see its README)."""

PUBLISHED = {
    "dim_customers": 4,  # c1..c4; c5 is quarantined
    "fct_orders": 4,  # o1..o4; o6 is after D, o9/o10/o1-again rejected, o5/o11 quarantined
    "fct_order_lines": 5,
    "fct_returns": 1,
    "fct_service_interactions": 2,
    "fct_marketing_contacts": 2,
    # value models: c1 and c2 bought on or before D (completed orders), c3 and c4 did not
    "customer_rfm": 2,
    "customer_profitability": 4,  # every known customer
    "customer_wallet": 32,  # 4 customers x the 8 categories of the seed category_parameters
    "customer_clv": 2,  # buyers; null predictions: too few customers to fit (clv_fit_required false in tests)
    "clv_model_fit": 7,  # r, alpha, a, b, p, q, gamma
    "wallet_model_fit": 1,  # too few rows with spend to fit (wallet_model_required false in tests): one row says why
    "customer_segments": 4,
    "purchase_decile_summary": 2,  # two customers with revenue: deciles 1 and 2
    "pareto_summary": 1,
    "segment_summary": 3,  # (champion, retain, new, D), (lost, develop, new, D), (no_purchase, maintain, prospect, D)
    "lifecycle_transitions": 2,  # first date: unknown -> new, unknown -> prospect
    "category_affinity": 2,  # 2 baskets, one holds electronics + office_supplies: both rules, lift 2
    # events as of 2025-01-03 (a Friday): c1's birthday (Jan 8) is in the next week; c4's Feb 29 is weeks away; c3 (Dec 24) has
    # passed; no history before D, so no stage/wallet/churn events on this first date
    "customer_events": 1,
    "campaign_audience": 1,  # c1's birthday, suppressed or eligible by c1's consents and contacts
    "customer_next_best_action": 4,  # the inbound card: every known customer
    "customer_segments_history": 4,  # D's partition: one row per customer_segments row
}

# entity -> (file rows, accepted, quarantined, rejected, balanced), for the entities with bad rows
ACCOUNTING = {
    "orders": (10, 5, 2, 3, True),
    "order_lines": (10, 6, 1, 3, True),
    "customers": (6, 5, 1, 0, True),
    "returns": (2, 1, 0, 1, True),
}

REJECTED_SQL = "select entity, record_key, rejection_reason, line_number from audit.rejected_rows order by 1, 2, 3"
REJECTED = [
    ("order_lines", "o1|1", "duplicate_key", 3),
    ("order_lines", "o2|2", "negative_quantity", 6),
    ("order_lines", "o2|3", "unknown_product", 7),
    ("orders", "o1", "duplicate_key", 3),
    ("orders", "o10", "order_in_future", 6),
    ("orders", "o9", "unknown_customer", 5),
    ("returns", "r2", "refund_exceeds_line", 3),
]
