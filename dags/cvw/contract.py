"""The landing contract of SPEC §3: entities, their columns, types and keys.

One place that ingest, the generator, the transaction importer and the tests read.
Types are DuckDB SQL types; money is DECIMAL(18,2) so sums are exact on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MONEY = "DECIMAL(18,2)"


@dataclass(frozen=True)
class Entity:
    """One landing entity: a folder of CSV/Parquet files and the raw table it loads into."""

    name: str
    # a row's identity in raw; a second row with the same key is a duplicate. An entity whose key ends with
    # `updated_at` keeps versions: the one in force on D is the latest updated on or before D
    key: tuple[str, ...]
    columns: dict[str, str]  # column -> DuckDB type, in file order
    required: frozenset[str]
    ts_column: str | None = None  # the column that dates a row (point-in-time filters, "future" rule)
    accepted_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"


def _entity(name, key, columns, required, ts_column=None, accepted_values=None) -> Entity:
    return Entity(
        name=name,
        key=tuple(key),
        columns=dict(columns),
        required=frozenset(required),
        ts_column=ts_column,
        accepted_values=accepted_values or {},
    )


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        _entity(
            "customers",
            ["customer_id", "updated_at"],
            {
                "customer_id": "VARCHAR",
                "customer_type": "VARCHAR",
                "name": "VARCHAR",
                "email": "VARCHAR",
                "phone": "VARCHAR",
                "birth_date": "DATE",
                "gender": "VARCHAR",
                "city": "VARCHAR",
                "region": "VARCHAR",
                "country": "VARCHAR",
                "occupation": "VARCHAR",
                "industry": "VARCHAR",
                "employee_count": "INTEGER",
                "annual_revenue": MONEY,
                "acquisition_channel": "VARCHAR",
                "signup_date": "DATE",
                "updated_at": "TIMESTAMP",
            },
            ["customer_id", "updated_at"],
            ts_column="updated_at",
            accepted_values={"customer_type": ("B2C", "B2B")},
        ),
        _entity(
            "products",
            ["product_id"],
            {
                "product_id": "VARCHAR",
                "product_name": "VARCHAR",
                "category": "VARCHAR",
                "unit_cost": MONEY,
                "list_price": MONEY,
            },
            ["product_id", "category", "unit_cost", "list_price"],
        ),
        _entity(
            "orders",
            ["order_id", "updated_at"],  # a correction is a new version: the same order_id, a later updated_at
            {
                "order_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "order_ts": "TIMESTAMP",
                "channel": "VARCHAR",
                "status": "VARCHAR",
                "updated_at": "TIMESTAMP",
            },
            ["order_id", "customer_id", "order_ts", "status"],
            ts_column="order_ts",
            accepted_values={
                "channel": ("web", "store", "call_center", "sales_rep"),
                "status": ("completed", "cancelled"),
            },
        ),
        _entity(
            "order_lines",
            ["order_id", "line_number"],
            {
                "order_id": "VARCHAR",
                "line_number": "INTEGER",
                "product_id": "VARCHAR",
                "quantity": "INTEGER",
                "unit_price": MONEY,
                "discount_amount": MONEY,
            },
            ["order_id", "line_number", "product_id", "quantity", "unit_price"],
        ),
        _entity(
            "returns",
            ["return_id"],
            {
                "return_id": "VARCHAR",
                "order_id": "VARCHAR",
                "product_id": "VARCHAR",
                "return_ts": "TIMESTAMP",
                "quantity": "INTEGER",
                "refund_amount": MONEY,
                "reason": "VARCHAR",
            },
            ["return_id", "order_id", "product_id", "return_ts", "quantity", "refund_amount"],
            ts_column="return_ts",
        ),
        _entity(
            "service_interactions",
            ["interaction_id"],
            {
                "interaction_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "interaction_ts": "TIMESTAMP",
                "channel": "VARCHAR",
                "type": "VARCHAR",
                "duration_minutes": "DOUBLE",
                "satisfaction_score": "INTEGER",
                "resolved": "BOOLEAN",
            },
            ["interaction_id", "customer_id", "interaction_ts", "type"],
            ts_column="interaction_ts",
            accepted_values={"type": ("inquiry", "complaint", "repair", "support")},
        ),
        _entity(
            "marketing_contacts",
            ["contact_id"],
            {
                "contact_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "campaign_id": "VARCHAR",
                "channel": "VARCHAR",
                "contact_ts": "TIMESTAMP",
                "offer_category": "VARCHAR",
                "responded": "BOOLEAN",
                "converted_order_id": "VARCHAR",
            },
            ["contact_id", "customer_id", "channel", "contact_ts"],
            ts_column="contact_ts",
            accepted_values={"channel": ("email", "sms", "phone", "mail")},
        ),
        _entity(
            "consents",
            ["customer_id", "channel", "updated_at"],
            {
                "customer_id": "VARCHAR",
                "channel": "VARCHAR",
                "status": "VARCHAR",
                "updated_at": "TIMESTAMP",
            },
            ["customer_id", "channel", "status", "updated_at"],
            ts_column="updated_at",
            accepted_values={
                "channel": ("email", "sms", "phone", "mail"),
                "status": ("opt_in", "opt_out"),
            },
        ),
        _entity(
            "wallet_surveys",
            ["survey_id"],
            {
                "survey_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "survey_date": "DATE",
                "category": "VARCHAR",
                "reported_annual_spend": MONEY,
                "source": "VARCHAR",
            },
            ["survey_id", "customer_id", "survey_date", "category", "reported_annual_spend"],
            ts_column="survey_date",
            accepted_values={"source": ("call_center", "market_research")},
        ),
        _entity(
            "installed_base",
            ["customer_id", "category", "as_of_date"],
            {
                "customer_id": "VARCHAR",
                "category": "VARCHAR",
                "as_of_date": "DATE",
                "units_installed": "INTEGER",
            },
            ["customer_id", "category", "as_of_date", "units_installed"],
            ts_column="as_of_date",
        ),
    ]
}

# Business-rule rejections (SPEC §8): rows that parse but are excluded from the marts.
REJECTION_REASONS = (
    "duplicate_key",
    "negative_quantity",
    "unknown_customer",
    "unknown_product",
    "unknown_order",
    "order_in_future",
    "refund_exceeds_line",
)

# Parse failures (SPEC §8): records that never reach raw (cvw.reader and cvw.typecheck).
QUARANTINE_KINDS = ("bad_type", "bad_encoding", "wrong_column_count", "bad_quoting")
