"""What the landing_small fixture must produce as of 2025-01-03 on every engine (see its README)."""

PUBLISHED = {
    "dim_customers": 4,  # c1..c4; c5 is quarantined
    "fct_orders": 4,  # o1..o4; o6 is after D, o9/o10/o1-again rejected, o5/o11 quarantined
    "fct_order_lines": 5,
    "fct_returns": 1,
    "fct_service_interactions": 2,
    "fct_marketing_contacts": 2,
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
