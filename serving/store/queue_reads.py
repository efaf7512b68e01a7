"""The lead store's reads of the SDR queue: the queue's three sorted accesses
(``serving.queue.Access``) as keyset-paginated range scans of the partial queue indexes,
the filters a queue read takes, queue entries from lead rows, and the reads built on them
(the top of the queue, a lead's place in it, the counts), each inside a session the caller
opens. The expected-value order reads the same way, ranking with ``rank_value`` (and its
own partial index) where the probability order ranks with ``rank_probability``. The ranking
itself is ``serving.queue`` (pure); the ``Store`` methods that open the sessions are in
``leads.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_, union_all
from sqlalchemy.orm import Session

from serving.queue import (
    Access,
    Queued,
    QueueEntry,
    QueueKey,
    QueueOrder,
    RankedEntry,
    Read,
    Reader,
    Sla,
    access_key,
    position_of,
    rank,
    top_ranked,
)
from serving.store.tables import LeadRow


def queue_entry(row: Any, order: QueueOrder = QueueOrder.PROBABILITY) -> QueueEntry:
    """A queue entry from a lead row (or a row of its queue columns), ranked in ``order``."""
    columns = {name: getattr(row, name) for name in ENTRY_COLUMNS}
    return QueueEntry(lead_id=row.id, order=order, **columns)


#: The queue entry's fields that are lead columns of the same name.
ENTRY_COLUMNS = tuple(f.name for f in fields(QueueEntry) if f.name not in ("lead_id", "order"))

QUEUE_COLUMNS = (
    LeadRow.id,
    LeadRow.external_id,
    LeadRow.channel,
    LeadRow.arrived_at,
    LeadRow.sla_deadline,
    LeadRow.probability,
    LeadRow.tier,
    LeadRow.status,
    LeadRow.claimed_by,
    LeadRow.explored,
    LeadRow.rank_value,
    LeadRow.outlook,
)


#: The leads table's columns, for Core queries (no ORM objects).
LEADS = LeadRow.__table__.c


@dataclass(frozen=True, kw_only=True)
class QueueFilter:
    """Which queued leads a queue read looks at."""

    channel: str | None = None
    tier: str | None = None
    unclaimed: bool = False
    order: QueueOrder = QueueOrder.PROBABILITY

    def where(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [LEADS.in_queue.is_(True)]
        if self.channel is not None:
            conditions.append(LEADS.channel == self.channel)
        if self.tier is not None:
            conditions.append(LEADS.tier == self.tier)
        if self.unclaimed:
            conditions.append(LEADS.claimed_by.is_(None))
        return conditions


@dataclass(frozen=True)
class QueuePage:
    """The top of the queue and how many leads it holds (of them past their deadline)."""

    items: list[RankedEntry]
    total: int
    breached: int


def rank_column(order: QueueOrder) -> ColumnElement[float]:
    """The column the queue ranks with in ``order``."""
    return LEADS.rank_value if order is QueueOrder.EXPECTED_VALUE else LEADS.rank_probability


def key_columns(order: QueueOrder) -> tuple[ColumnElement[Any], ...]:
    """What the sorted reads return (serving.queue.QueueKey): all the ranking needs."""
    return (LEADS.id, rank_column(order), LEADS.sla_deadline)


#: The sorted reads' columns in the probability order.
KEY_COLUMNS = key_columns(QueueOrder.PROBABILITY)


def access_range(
    access: Access,
    after: Queued | None,
    now: datetime,
    order: QueueOrder = QueueOrder.PROBABILITY,
) -> tuple[list[ColumnElement[bool]], list[ColumnElement[Any]]]:
    """One sorted access of serving.queue in SQL, (where, order by): a range scan of one of
    the partial queue indexes, resumed after the last row read (keyset pagination)."""
    if access is Access.PROBABILITY:
        ranked = rank_column(order)
        where: list[ColumnElement[bool]] = []
        if after is not None:
            key = tuple_(ranked, LEADS.id)
            where.append(key < tuple_(after.rank_score, after.lead_id))
        return where, [ranked.desc(), LEADS.id.desc()]
    key = tuple_(LEADS.sla_deadline, LEADS.id)
    if access is Access.UPCOMING:
        where = [LEADS.sla_deadline >= now]
        if after is not None:
            where.append(key > tuple_(after.sla_deadline, after.lead_id))
        return where, [LEADS.sla_deadline.asc(), LEADS.id.asc()]
    where = [LEADS.sla_deadline < now]
    if after is not None:
        where.append(key < tuple_(after.sla_deadline, after.lead_id))
    return where, [LEADS.sla_deadline.desc(), LEADS.id.desc()]


def queue_reader(session: Session, which: QueueFilter, now: datetime) -> Reader:
    """The queue's three sorted accesses (serving.queue.Access) over ``session``: one round
    of reads is one query (a UNION ALL of short range scans of the partial indexes), of
    keys only, read with Core (no ORM objects)."""
    conditions = which.where()
    connection = session.connection()

    keys = key_columns(which.order)

    def part(number: int, read: Read) -> Select[Any]:
        where, order = access_range(read.access, read.after, now, which.order)
        scan = select(*keys).where(*conditions, *where).order_by(*order)
        inner = scan.limit(read.limit).subquery()
        return select(literal(number).label("access"), *inner.c)

    def read(reads: Sequence[Read]) -> dict[Access, list[Queued]]:
        query = union_all(*(part(number, r) for number, r in enumerate(reads)))
        got: dict[Access, list[Queued]] = {r.access: [] for r in reads}
        for number, *key in connection.execute(query).all():
            got[reads[number].access].append(QueueKey(*key))
        # a UNION ALL keeps no order: each access's rows in its own order again
        return {
            access: sorted(keys, key=partial(access_key, access)) for access, keys in got.items()
        }

    return read


#: The queue an SDR claims from: queued leads nobody holds.
UNCLAIMED = QueueFilter(unclaimed=True)


def queue_entries(
    session: Session, channel: str | None, tier: str | None, unclaimed: bool
) -> list[QueueEntry]:
    """Every queued lead's entry, of one channel and tier when given, unclaimed if asked."""
    query = select(*QUEUE_COLUMNS).where(LeadRow.in_queue.is_(True))
    if channel is not None:
        query = query.where(LeadRow.channel == channel)
    if tier is not None:
        query = query.where(LeadRow.tier == tier)
    if unclaimed:
        query = query.where(LeadRow.claimed_by.is_(None))
    return [queue_entry(row) for row in session.execute(query)]


def queue_page(
    session: Session, now: datetime, sla: Sla, limit: int, which: QueueFilter
) -> QueuePage:
    """The first ``limit`` queued leads of ``which`` in priority order (exactly what ranking
    all of them gives), with the counts; the reads grow with ``limit``, not with the queue
    (the counts are scans of a partial index)."""
    keys = top_ranked(queue_reader(session, which, now), limit, now, sla)
    rows = session.execute(
        select(*QUEUE_COLUMNS).where(LeadRow.id.in_([key.lead_id for key in keys]))
    )
    items = rank([queue_entry(row, which.order) for row in rows], now, sla)
    counts = session.execute(
        select(func.count(), func.count().filter(LEADS.sla_deadline < now))
        .select_from(LeadRow)
        .where(*which.where())
    ).one()
    return QueuePage(items, int(counts[0]), int(counts[1]))


def unclaimed_position(
    session: Session, key: QueueKey, now: datetime, sla: Sla, depth: int
) -> int | None:
    """The place of the lead with ``key`` among the unclaimed queued leads (1 = next to be
    claimed) when among the first ``depth``; None when further down."""
    at_depth = session.scalar(
        select(LEADS.rank_probability)
        .where(*UNCLAIMED.where())
        .order_by(LEADS.rank_probability.desc(), LEADS.id.desc())
        .offset(depth - 1)
        .limit(1)
    )
    read = queue_reader(session, UNCLAIMED, now)
    return position_of(read, key, depth, now, sla, probability_at_depth=at_depth)


def queue_counts(session: Session, now: datetime) -> tuple[int, int, int]:
    """(leads in the queue, of them unclaimed, of them past their SLA deadline)."""
    in_queue = LeadRow.in_queue.is_(True)
    total = session.scalar(select(func.count()).where(in_queue)) or 0
    unclaimed = (
        session.scalar(select(func.count()).where(in_queue, LeadRow.claimed_by.is_(None))) or 0
    )
    breached = session.scalar(select(func.count()).where(in_queue, LeadRow.sla_deadline < now)) or 0
    return int(total), int(unclaimed), int(breached)
