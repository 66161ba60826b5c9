"""The catalogue of published tables: what the gate checks and the publish copies, with each table's key
(for sample failing rows) and whether it may be empty. Engine-neutral; the one list every module reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedTable:
    name: str
    keys: tuple[str, ...]
    # False for tables fed by optional landing entities (a plain transaction log such as CDNOW has no
    # returns, service interactions or marketing contacts) or empty on some dates (events, audience)
    never_empty: bool = False


PUBLISHED: tuple[PublishedTable, ...] = (
    PublishedTable("dim_customers", ("customer_id",), never_empty=True),
    PublishedTable("fct_orders", ("order_id",), never_empty=True),
    PublishedTable("fct_order_lines", ("order_id", "line_number"), never_empty=True),
    PublishedTable("fct_returns", ("return_id",)),
    PublishedTable("fct_service_interactions", ("interaction_id",)),
    PublishedTable("fct_marketing_contacts", ("contact_id",)),
    PublishedTable("customer_rfm", ("customer_id",), never_empty=True),
    PublishedTable("customer_profitability", ("customer_id",), never_empty=True),
    PublishedTable("customer_wallet", ("customer_id", "category")),
    PublishedTable("customer_clv", ("customer_id",)),
    PublishedTable("clv_model_fit", ("model", "parameter"), never_empty=True),
    PublishedTable("wallet_model_fit", ("category", "customer_type"), never_empty=True),
    PublishedTable("customer_segments", ("customer_id",), never_empty=True),
    PublishedTable("purchase_decile_summary", ("purchase_decile",)),
    PublishedTable("pareto_summary", ("as_of_date",), never_empty=True),
    PublishedTable("segment_summary", ("rfm_segment", "rad_strategy", "lifecycle_stage", "value_tier"),
                   never_empty=True),
    PublishedTable("lifecycle_transitions", ("from_stage", "to_stage"), never_empty=True),
    PublishedTable("category_affinity", ("antecedent_category", "consequent_category")),
    PublishedTable("customer_events", ("customer_id", "event_type")),
    PublishedTable("campaign_audience", ("customer_id", "event_type")),
    PublishedTable("customer_next_best_action", ("customer_id",), never_empty=True),
)
PUBLISHED_TABLES: tuple[str, ...] = tuple(t.name for t in PUBLISHED)
TABLE_KEYS: dict[str, list[str]] = {t.name: list(t.keys) for t in PUBLISHED}
NON_EMPTY_TABLES = frozenset(t.name for t in PUBLISHED if t.never_empty)

# published as a view over one immutable file / partition per as-of date (a night only appends)
HISTORY_TABLES: tuple[str, ...] = ("customer_segments_history",)
