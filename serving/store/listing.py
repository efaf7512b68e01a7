"""Listing stored leads: filters, newest first, keyset (cursor) pagination.

One page is one query of the lead columns a list shows (never the JSON documents), ordered
by ``(arrived_at, id)`` descending and resumed strictly after the last lead of the previous
page, so pages never skip or repeat a lead while new ones arrive and a deep page costs what
the first does. The cursor is that last lead's ``(arrived_at, id)``, opaque to callers
(URL-safe base64 of a small JSON). The order is served by the ``arrived_at`` index
(``ix_leads_arrived_at``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from features.funnel import Status
from serving.store.leads import Store
from serving.store.tables import LeadRow

#: Leads one page may hold.
MAX_LIMIT = 500

#: The columns of a listed lead.
LIST_COLUMNS = (
    LeadRow.id,
    LeadRow.external_id,
    LeadRow.arrived_at,
    LeadRow.channel,
    LeadRow.status,
    LeadRow.stage_reached,
    LeadRow.in_queue,
    LeadRow.claimed_by,
    LeadRow.probability,
    LeadRow.tier,
    LeadRow.route,
    LeadRow.sla_deadline,
    LeadRow.qualified_at,
    LeadRow.created_at,
)


_NOT_A_CURSOR = "not a cursor from a previous page's next_cursor"


class CursorError(ValueError):
    """A cursor this store did not hand out (or one damaged on the way)."""


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last listed lead's arrival and id."""

    arrived_at: datetime
    lead_id: int

    def encode(self) -> str:
        payload = json.dumps({"a": self.arrived_at.isoformat(), "i": self.lead_id})
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        bad = (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError, OverflowError)
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            payload = json.loads(raw)
            written = datetime.fromisoformat(payload["a"])
            lead_id = payload["i"]
            if written.tzinfo is None:
                raise ValueError("a cursor's time has an offset")
            at = written.astimezone(UTC)
        except bad:
            raise CursorError(_NOT_A_CURSOR) from None
        if not isinstance(lead_id, int) or isinstance(lead_id, bool) or not 0 <= lead_id < 2**63:
            raise CursorError(_NOT_A_CURSOR)
        return cls(at, lead_id)


@dataclass(frozen=True, kw_only=True)
class LeadFilter:
    """Which stored leads a list shows; None means any."""

    status: Status | None = None
    channel: str | None = None
    tier: str | None = None
    arrived_from: datetime | None = None
    arrived_to: datetime | None = None
    routed_to: str | None = None
    claimed_by: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.status is not None:
            conditions.append(LeadRow.status == self.status.value)
        if self.channel is not None:
            conditions.append(LeadRow.channel == self.channel)
        if self.tier is not None:
            conditions.append(LeadRow.tier == self.tier)
        if self.arrived_from is not None:
            conditions.append(LeadRow.arrived_at >= self.arrived_from)
        if self.arrived_to is not None:
            conditions.append(LeadRow.arrived_at < self.arrived_to)
        if self.routed_to is not None:
            conditions.append(LeadRow.route == self.routed_to)
        if self.claimed_by is not None:
            conditions.append(LeadRow.claimed_by == self.claimed_by)
        return conditions


@dataclass(frozen=True)
class LeadPage:
    """One page of listed leads (rows of :data:`LIST_COLUMNS`) and where the next begins
    (None: this is the last page)."""

    rows: list[Any]
    next_cursor: Cursor | None


def after(cursor: Cursor) -> ColumnElement[bool]:
    """Strictly after ``cursor`` in newest-first order, spelled so that both planners
    bound the index range on ``arrived_at`` (a row-value comparison would not be)."""
    return and_(
        LeadRow.arrived_at <= cursor.arrived_at,
        or_(LeadRow.arrived_at < cursor.arrived_at, LeadRow.id < cursor.lead_id),
    )


def page_query(which: LeadFilter, limit: int, cursor: Cursor | None) -> Any:
    """The SELECT of one page (one row more than ``limit``: is there a next page?)."""
    conditions = which.where()
    if cursor is not None:
        conditions.append(after(cursor))
    return (
        select(*LIST_COLUMNS)
        .where(*conditions)
        .order_by(LeadRow.arrived_at.desc(), LeadRow.id.desc())
        .limit(limit + 1)
    )


def read_page(
    session: Session, which: LeadFilter, limit: int, cursor: Cursor | None = None
) -> LeadPage:
    """The ``limit`` newest leads of ``which`` after ``cursor``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
    rows = list(session.execute(page_query(which, limit, cursor)).all())
    if len(rows) <= limit:
        return LeadPage(rows, None)
    last = rows[limit - 1]
    return LeadPage(rows[:limit], Cursor(last.arrived_at, int(last.id)))


def list_leads(
    store: Store, which: LeadFilter, limit: int, cursor: Cursor | None = None
) -> LeadPage:
    """:func:`read_page` in a read transaction of ``store``."""
    with store.reading() as session:
        return read_page(session, which, limit, cursor)
