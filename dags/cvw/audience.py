"""The campaign audience outside the warehouse (SPEC 4.11): activation files and `cvw explain-audience`.

Activation files: once the gate has passed, the eligible rows of the audit marts' `campaign_audience` are written to
``<publish dir>/activation/as_of_date=D/<channel>.csv`` and ``.parquet``, one pair per channel (a channel with
no contact today gets files with the header only, so "no contacts" and "not written" differ). Columns:
customer_id, event_type, offer_category, priority, channel, as_of_date; no direct identifiers (the sending
tool joins its own contact details on customer_id). Rows are sorted (priority, then customer and event), each
file is written to a temp name and renamed, so a file under its final name is complete, and a re-run of D
writes byte-identical files. They are written before the publish swap and listed in that publish's
``publish_log.run_summary`` (``activation_files``: path, rows, sha256): the files of D are the gated rows of
D whether or not a later step fails, and the log row that lists them appears with the swap.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date, timedelta
from pathlib import Path

from cvw.settings import Settings

ACTIVATION_COLUMNS = ("customer_id", "event_type", "offer_category", "priority", "channel", "as_of_date")


class AudienceNotPublished(RuntimeError):
    """explain-audience was asked for a date or a customer the published tables do not hold."""


def activation_dir(settings: Settings, as_of: date) -> Path:
    return settings.publish_dir / "activation" / f"as_of_date={as_of.isoformat()}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_atomically(path: Path, write) -> None:
    from cvw.publish import fsync

    part = path.with_name(f".{path.name}.tmp")
    write(part)
    fsync(part)
    os.replace(part, path)


def write_activation_files(settings: Settings, engine, as_of: date) -> list[dict]:
    """Write D's activation files from the audit marts' `campaign_audience` (see the module docstring). Returns one
    entry per file: channel, format, path (relative to the publish folder), rows, sha256."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from cvw.config import seed_column
    from cvw.publish import AuditAreaChanged

    schema = engine.audit_schema
    table = engine.read_arrow(
        f"select {', '.join(ACTIVATION_COLUMNS)} from {schema}.campaign_audience where is_eligible "
        "order by channel, priority desc, customer_id, event_type"
    )
    dates = {str(d) for d in table.column("as_of_date").to_pylist()}
    if dates - {as_of.isoformat()}:
        raise AuditAreaChanged(
            f"{schema}.campaign_audience holds as_of_date {sorted(dates)}, not {as_of}: another run rebuilt the "
            f"audit area. Re-run {as_of} (`cvw run --as-of {as_of}`)."
        )
    schema_ = pa.schema([
        ("customer_id", pa.string()), ("event_type", pa.string()), ("offer_category", pa.string()),
        ("priority", pa.float64()), ("channel", pa.string()), ("as_of_date", pa.date32()),
    ])
    table = table.select(list(ACTIVATION_COLUMNS)).cast(schema_)
    folder = activation_dir(settings, as_of)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for channel in seed_column("contact_channels", "channel"):
        rows = table.filter(pc.equal(table.column("channel"), channel))
        for fmt, write in (
            ("csv", lambda p, t=rows: pacsv.write_csv(t, p)),
            ("parquet", lambda p, t=rows: pq.write_table(t, p, compression="zstd")),
        ):
            path = folder / f"{channel}.{fmt}"
            _write_atomically(path, write)
            files.append({
                "channel": channel, "format": fmt, "path": path.relative_to(settings.publish_dir).as_posix(),
                "rows": rows.num_rows, "sha256": _sha256(path),
            })
    return files


# --- explain one customer ---------------------------------------------------------------------------------

# the suppression reasons in the order campaign_audience applies them (the gate's accepted values too)
SUPPRESSION_RULES = {
    "no_consent": "no channel whose latest consent on or before D is opt_in (no record = no consent)",
    "phone_unprofitable": "only phone is opted in, and phone is not used for a customer whose "
                          "profit_contribution_365d is not above zero (seed contact_channels)",
    "already_contacted_for_event": "contacted for the same event type within event_repeat_days",
    "cap_7d": "past contacts in the 7 days ending on D already reach contact_cap_7d",
    "cap_30d": "past contacts in the 30 days ending on D already reach contact_cap_30d",
    "lower_priority_event": "the caps leave room for fewer events than today's, and events with a lower "
                            "precedence number or a higher priority took it",
}


def _rows(engine, columns: str, rest: str) -> list[dict]:
    """`select <columns> <rest>` on the published tables, as dicts keyed by column name."""
    names = [c.strip() for c in columns.split(",")]
    return [dict(zip(names, r, strict=True)) for r in engine.query_published(f"select {columns} {rest}")]


def explain_audience(settings: Settings, customer_id: str, as_of: date | None = None) -> str:
    """What `cvw explain-audience` prints: the customer's scores, events, offer, channel, priority and, when
    suppressed, the rule and the past contacts behind it. Reads the published tables only."""
    from cvw.engines import get_engine

    engine = get_engine(settings)
    try:
        current, _ = engine.published_state()
        if current is None:
            raise AudienceNotPublished("nothing is published yet: run `cvw run --as-of YYYY-MM-DD` first")
        if as_of is not None and as_of != current:
            folder = activation_dir(settings, as_of)
            where = f"; its activation files are in {folder}" if folder.exists() else ""
            raise AudienceNotPublished(
                f"the published audience is for {current}, not {as_of}{where}. campaign_audience is published for "
                f"the current date only: explain {current}, or re-run {as_of} in a separate CVW_HOME "
                f"(`cvw run --as-of {as_of}`)."
            )
        cid = engine.dialect.lit(customer_id)  # typed by the user: a literal, quoted for the engine
        seg = _rows(
            engine,
            "rfm_segment, lifecycle_stage, value_tier, rad_strategy, p_alive, clv_12m, profit_contribution_365d, "
            "share_of_wallet, customer_type",
            f"from analytics.customer_segments where customer_id = {cid}",
        )
        if not seg:
            raise AudienceNotPublished(f"customer {customer_id} is not in the published customer_segments ({current})")
        events = _rows(
            engine,
            "event_type, purpose, previous_value, current_value, previous_number, current_number, reference_id, "
            "reference_date, days_until, event_week, previous_as_of_date, offer_category, offer_because_of_category, "
            "offer_lift, "
            "no_offer_reason",
            f"from analytics.customer_events where customer_id = {cid} order by event_type",
        )
        audience = _rows(
            engine,
            "event_type, is_eligible, suppression_reason, channel, opted_in_channels, response_rate, "
            "response_cell_contacts, response_cell_responses, expected_value, priority, precedence, plan_rank, "
            "contacts_7d_before, contacts_30d_before, last_contact_for_event",
            f"from analytics.campaign_audience where customer_id = {cid} "
            "order by precedence, priority desc, event_type",
        )
        since = current - timedelta(days=30)
        contacts = _rows(
            engine,
            "contact_date, channel, campaign_id, offer_category, responded",
            f"from analytics.fct_marketing_contacts where customer_id = {cid} and contact_date > "
            f"cast('{since.isoformat()}' as date) order by contact_date desc, contact_id",
        )
    finally:
        engine.close()
    s = seg[0]
    out = [
        f"customer {customer_id} as of {current} ({s['customer_type']})",
        f"  scores: rfm_segment={s['rfm_segment']} lifecycle_stage={s['lifecycle_stage']} "
        f"value_tier={s['value_tier']} rad_strategy={s['rad_strategy']}",
        f"          p_alive={_num(s['p_alive'])} clv_12m={_num(s['clv_12m'])} "
        f"profit_contribution_365d={_num(s['profit_contribution_365d'])} share_of_wallet={_num(s['share_of_wallet'])}",
    ]
    if not events:
        out.append("  events: none on this date, so the customer is not in the audience")
    for e in events:
        facts = ", ".join(
            f"{k}={_num(v)}" for k, v in e.items()
            if v is not None and k not in {"event_type", "purpose", "offer_category", "offer_because_of_category",
                                           "offer_lift", "no_offer_reason"}
        )
        offer = (f"offer {e['offer_category']} (bought {e['offer_because_of_category']}, lift {_num(e['offer_lift'])})"
                 if e["offer_category"] else f"no offer: {e['no_offer_reason']}")
        out.append(f"  event {e['event_type']} ({e['purpose']}): {facts or 'no extra facts'}; {offer}")
    for a in audience:
        head = f"  audience {a['event_type']}: "
        if a["is_eligible"]:
            out.append(
                head + f"ELIGIBLE via {a['channel']}, priority {_num(a['priority'])} = response rate "
                f"{_num(a['response_rate'])} ({a['response_cell_responses']}/{a['response_cell_contacts']} past "
                f"contacts of the cell) x expected value {_num(a['expected_value'])}; plan rank {a['plan_rank']}"
            )
            continue
        reason = a["suppression_reason"]
        detail = SUPPRESSION_RULES.get(reason, reason)
        if reason in ("cap_7d", "cap_30d", "lower_priority_event"):
            detail += (f" (past contacts: {a['contacts_7d_before']} in 7 days, {a['contacts_30d_before']} in 30 days;"
                       f" plan rank {a['plan_rank']})")
        if reason == "already_contacted_for_event":
            detail += f" (last on {a['last_contact_for_event']})"
        if reason in ("no_consent", "phone_unprofitable"):
            detail += f" (opted-in channels: {a['opted_in_channels']})"
        out.append(head + f"SUPPRESSED {reason}: {detail}")
    if contacts:
        out.append("  past contacts in the 30 days ending on D:")
        out += [f"    {c['contact_date']} {c['channel']:<5} {c['campaign_id']} offer={c['offer_category']} "
                f"responded={c['responded']}" for c in contacts]
    else:
        out.append("  past contacts in the 30 days ending on D: none")
    return "\n".join(out)


def _num(v):
    return f"{v:.4g}" if isinstance(v, float) else v
