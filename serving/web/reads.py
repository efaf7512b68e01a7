"""What the pages read beyond the API's views: each queued lead's company and the reasons
of its latest queue score (two queries for the whole page); the leads routed to sales; the
leads of one channel.

(These belong in ``Store`` as methods; until the store has them, they read through the
store's public read session and tables.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select

from features.funnel import SUCCESS_PATH, Status
from serving.api.schemas import ReasonOut
from serving.store.leads import Store
from serving.store.tables import LeadRow, ScoreRow
from serving.web.views import LeadExtras, LeadSummary, SalesFilter


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def queue_extras(store: Store, lead_ids: Sequence[int], target: str) -> dict[int, LeadExtras]:
    if not lead_ids:
        return {}
    with store.reading() as session:
        sources: dict[int, dict[str, object] | None] = dict(
            session.execute(
                select(LeadRow.id, LeadRow.source).where(LeadRow.id.in_(lead_ids))
            ).all()
        )
        latest: dict[int, list[dict[str, object]]] = {}
        scores = session.execute(
            select(ScoreRow.lead_id, ScoreRow.reasons)
            .where(ScoreRow.lead_id.in_(lead_ids), ScoreRow.target == target)
            .order_by(ScoreRow.id)
        )
        for lead_id, reasons in scores:
            latest[lead_id] = reasons
    return {
        lead_id: LeadExtras(
            company=_text((source or {}).get("company_name")),
            reasons=[ReasonOut.model_validate(reason) for reason in latest.get(lead_id, [])],
        )
        for lead_id, source in sources.items()
    }


#: Statuses of a lead in sales' hands: past the SDR, on the successful path.
SALES_STATUSES: tuple[Status, ...] = SUCCESS_PATH[SUCCESS_PATH.index(Status.AWAITING_MANAGER) :]

#: LeadSummary's fields that are the stored columns of the same name, as they are.
_STORED_AS_IS = (
    "external_id",
    "channel",
    "probability",
    "tier",
    "route",
    "arrived_at",
    "qualified_at",
)
_SUMMARY_COLUMNS = (
    LeadRow.id,
    LeadRow.status,
    LeadRow.source,
    *(getattr(LeadRow, name) for name in _STORED_AS_IS),
)


def _summary(row: Any) -> LeadSummary:
    return LeadSummary(
        lead_id=row.id,
        status=Status(row.status),
        company=_text((row.source or {}).get("company_name")),
        **{name: getattr(row, name) for name in _STORED_AS_IS},
    )


def routed_to_sales() -> Any:
    """Leads routed to sales, or already in sales' part of the funnel."""
    return or_(LeadRow.route == "sales", LeadRow.status.in_([s.value for s in SALES_STATUSES]))


def _summaries(
    store: Store, where: Sequence[Any], order: Sequence[Any], limit: int
) -> tuple[list[LeadSummary], int]:
    with store.reading() as session:
        total = session.scalar(select(func.count()).select_from(LeadRow).where(*where)) or 0
        rows = session.execute(
            select(*_SUMMARY_COLUMNS).where(*where).order_by(*order).limit(limit)
        ).all()
    return [_summary(row) for row in rows], int(total)


def sales_leads(store: Store, which: SalesFilter, limit: int) -> tuple[list[LeadSummary], int]:
    """Leads routed to sales matching the filter, highest score first (at most ``limit``),
    and how many match in all."""
    where = [routed_to_sales()]
    if which.statuses is not None:
        where.append(LeadRow.status.in_([s.value for s in which.statuses]))
    if which.channel:
        where.append(LeadRow.channel == which.channel)
    if which.tier:
        where.append(LeadRow.tier == which.tier)
    order = (LeadRow.rank_probability.desc(), LeadRow.id)
    return _summaries(store, where, order, limit)


def sales_channels(store: Store) -> list[str]:
    """The channels of the leads routed to sales (the filter's choices)."""
    with store.reading() as session:
        found = session.scalars(select(LeadRow.channel).where(routed_to_sales()).distinct())
        return sorted(found)


def channel_leads(store: Store, channel: str, limit: int) -> tuple[list[LeadSummary], int]:
    """The newest leads of one channel (at most ``limit``) and how many it has."""
    order = (LeadRow.arrived_at.desc(), LeadRow.id.desc())
    return _summaries(store, [LeadRow.channel == channel], order, limit)
