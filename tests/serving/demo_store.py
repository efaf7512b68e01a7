"""Demo leads with their whole funnel history, written to a lead store (for report tests)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from features.demo import frame_row_to_lead
from features.funnel import Status
from features.lead import lead_to_record
from serving.api.workflows import jsonable
from serving.store.leads import NewLead, Store


def new_lead(row: Mapping[str, Any]) -> NewLead:
    """A generated row as the store keeps it: record, history, deal value."""
    lead = frame_row_to_lead(row)
    history = [(change.status, change.at, None) for change in lead.status_history]
    return NewLead(
        external_id=lead.external_id,
        arrived_at=lead.arrived_at,
        channel=lead.source.channel,
        source=lead.source.model_dump(mode="json"),
        record=jsonable(lead_to_record(lead)),
        history=history or [(Status.NEW, lead.arrived_at, None)],
        deal_value=lead.deal_value.amount if lead.deal_value else None,
        deal_currency=lead.deal_value.currency if lead.deal_value else None,
        sla_deadline=lead.arrived_at + timedelta(minutes=30),
        created_by="test",
    )


def fill_store(store: Store, rows: Iterable[Mapping[str, Any]]) -> int:
    """Store every row (through the store's own ``add_lead``); returns how many."""
    count = 0
    for row in rows:
        store.add_lead(new_lead(row), datetime.now(UTC))
        count += 1
    return count
