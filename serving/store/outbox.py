"""The CRM connectors' durable rows: webhook events in, CRM links, the outbox of scores out.

Both queues (``webhook_events``, ``outbox``) are worked the same way. A worker *claims* due
rows in one transaction: their ``attempts`` go up by one and ``next_attempt_at`` moves a
lease ahead, so a row whose worker was killed is due again once the lease is over. The
worker then does the slow part (calling the CRM) outside any transaction and settles the
row in a second one, only if it still holds that attempt (``attempts`` is the claim's
token): done/delivered, due again later (backoff), or dead after the last try.

An outbox row is written by :func:`add_deliveries` inside the transaction that stores the
score (``Store.add_scores``): a score without its outbox row never commits. Rows are unique
per (score, connector), so one score version is written back once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Update, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from serving.store.tables import CrmLinkRow, OutboxRow, ScoreRow, WebhookEventRow

if TYPE_CHECKING:
    from serving.store.leads import Store

PENDING, DONE, DEAD = "pending", "done", "dead"
DELIVERED, SUPERSEDED = "delivered", "superseded"
#: What an outbox row's state can be.
OUTBOX_STATES = (PENDING, DELIVERED, SUPERSEDED, DEAD)


@dataclass(frozen=True)
class NewEvent:
    """One event parsed from a webhook, before it is stored."""

    key: str
    kind: str  # "lead" | "status"
    crm_id: str
    crm_status: str | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    connector: str
    kind: str
    crm_id: str
    crm_status: str | None
    payload: dict[str, Any] | None
    attempt: int
    received_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A claimed outbox row with the score it writes back."""

    id: int
    lead_id: int
    score_id: int
    connector: str
    crm_id: str
    attempt: int
    probability: float
    tier: str
    reasons: list[dict[str, Any]]
    model_name: str
    model_version: str
    known_at: str
    superseded: bool  # a newer score of the same lead is (or was) on its way to this CRM


@dataclass(frozen=True)
class OutboxEntry:
    """An outbox row as `leadscore outbox list` and the admin page show it."""

    id: int
    lead_id: int
    score_id: int
    connector: str
    crm_id: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _insert(store: Store) -> Any:
    return postgresql.insert if store.dialect == "postgresql" else sqlite.insert


# ------------------------------------------------------------------------------ events in


def record_events(
    store: Store, connector: str, events: Sequence[NewEvent], now: datetime
) -> list[int]:
    """Store the events of one webhook in one transaction; the ids of those new (a repeat of
    a stored (connector, key) is left as it is)."""
    insert = _insert(store)
    ids: list[int] = []
    with store.writing() as session:
        for event in events:
            statement = (
                insert(WebhookEventRow)
                .values(
                    connector=connector,
                    event_key=event.key[:255],
                    kind=event.kind,
                    crm_id=event.crm_id,
                    crm_status=event.crm_status,
                    payload=event.payload,
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    received_at=now,
                )
                .on_conflict_do_nothing(index_elements=["connector", "event_key"])
                .returning(WebhookEventRow.id)
            )
            new = session.execute(statement).scalar()
            if new is not None:
                ids.append(int(new))
    return ids


_Queued = TypeVar("_Queued", WebhookEventRow, OutboxRow)


def _claim(
    session: Session,
    table: type[_Queued],
    only: ColumnElement[bool] | None,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[_Queued]:
    """Lock up to ``limit`` due rows of ``table`` (matching ``only`` when given), oldest
    first, skipping rows another worker holds; each gets one more attempt and is leased
    until ``now + lease``."""
    query = select(table).where(table.state == PENDING, table.next_attempt_at <= now)
    if only is not None:
        query = query.where(only)
    query = query.order_by(table.next_attempt_at, table.id).limit(limit)
    rows = list(session.scalars(query.with_for_update(skip_locked=True)))
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
    return rows


def claim_events(
    store: Store, now: datetime, lease: timedelta, limit: int, ids: Sequence[int] | None = None
) -> list[ClaimedEvent]:
    """Claim up to ``limit`` due events (only ``ids`` when given), oldest first."""
    table = WebhookEventRow
    only = None if ids is None else table.id.in_(ids)
    with store.writing() as session:
        rows = _claim(session, table, only, now, lease, limit)
        return [
            ClaimedEvent(
                row.id,
                row.connector,
                row.kind,
                row.crm_id,
                row.crm_status,
                row.payload,
                row.attempts,
                row.received_at,
            )
            for row in rows
        ]


def _settle(session: Session, statement: Update) -> bool:
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def finish_event(
    store: Store,
    event: ClaimedEvent,
    now: datetime,
    lead_id: int | None,
    note: str | None = None,
) -> bool:
    """The event did its work; False when its claim had lapsed and another took it."""
    table = WebhookEventRow
    with store.writing() as session:
        return _settle(
            session,
            update(table)
            .where(table.id == event.id, table.attempts == event.attempt, table.state == PENDING)
            .values(state=DONE, done_at=now, lead_id=lead_id, note=note, last_error=None),
        )


def fail_event(store: Store, event: ClaimedEvent, error: str, retry_at: datetime | None) -> bool:
    """The event failed: due again at ``retry_at``, or dead when None."""
    table = WebhookEventRow
    values: dict[str, Any] = {"last_error": error[:4000]}
    values.update(state=DEAD) if retry_at is None else values.update(next_attempt_at=retry_at)
    with store.writing() as session:
        return _settle(
            session,
            update(table)
            .where(table.id == event.id, table.attempts == event.attempt, table.state == PENDING)
            .values(**values),
        )


# ------------------------------------------------------------------------------ links


def link(store: Store, external_id: str, connector: str, crm_id: str, now: datetime) -> None:
    """Record that the lead ``external_id`` is ``crm_id`` in ``connector`` (idempotent)."""
    statement = (
        _insert(store)(CrmLinkRow)
        .values(external_id=external_id, connector=connector, crm_id=crm_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["external_id"])
    )
    with store.writing() as session:
        session.execute(statement)


# ------------------------------------------------------------------------------ the outbox


def add_deliveries(
    session: Session, lead_id: int, external_id: str, score_ids: Iterable[int], now: datetime
) -> int:
    """In the scores' own transaction: an outbox row per score and CRM link of the lead
    (none for a lead that came from no CRM); returns how many."""
    wanted = list(score_ids)
    if not wanted:
        return 0
    links = session.execute(
        select(CrmLinkRow.connector, CrmLinkRow.crm_id).where(CrmLinkRow.external_id == external_id)
    ).all()
    # every new row waits for its first attempt, due at once
    due_now = {"state": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
    session.add_all(
        OutboxRow(lead_id=lead_id, score_id=score_id, connector=connector, crm_id=crm_id, **due_now)
        for connector, crm_id in links
        for score_id in wanted
    )
    return len(links) * len(wanted)


def claim_deliveries(
    store: Store,
    now: datetime,
    lease: timedelta,
    limit: int,
    lead_ids: Sequence[int] | None = None,
) -> list[Delivery]:
    """Claim up to ``limit`` due outbox rows (of ``lead_ids`` when given), oldest first."""
    table = OutboxRow
    only = None if lead_ids is None else table.lead_id.in_(lead_ids)
    with store.writing() as session:
        rows = _claim(session, table, only, now, lease, limit)
        if not rows:
            return []
        scores = {
            score.id: score
            for score in session.scalars(
                select(ScoreRow).where(ScoreRow.id.in_([row.score_id for row in rows]))
            )
        }
        newest = dict(
            session.execute(
                select(table.lead_id, func.max(table.score_id))
                .where(
                    table.lead_id.in_({row.lead_id for row in rows}),
                    table.state.in_((PENDING, DELIVERED)),
                )
                .group_by(table.lead_id)
            ).all()
        )
        claimed = []
        for row in rows:
            score = scores[row.score_id]
            claimed.append(
                Delivery(
                    id=row.id,
                    lead_id=row.lead_id,
                    score_id=row.score_id,
                    connector=row.connector,
                    crm_id=row.crm_id,
                    attempt=row.attempts,
                    probability=score.probability,
                    tier=score.tier,
                    reasons=list(score.reasons),
                    model_name=score.model_name,
                    model_version=score.model_version,
                    known_at=score.kind,
                    superseded=newest.get(row.lead_id, row.score_id) > row.score_id,
                )
            )
        return claimed


def settle_delivery(
    store: Store,
    delivery: Delivery,
    now: datetime,
    *,
    state: str = DELIVERED,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Settle a claimed row: ``state`` (delivered, superseded, dead) or, with ``retry_at``,
    due again then. False when the claim had lapsed (another worker holds the row now)."""
    table = OutboxRow
    values: dict[str, Any] = {"last_error": None if error is None else error[:4000]}
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    else:
        values["state"] = state
        if state in (DELIVERED, SUPERSEDED):
            values["delivered_at"] = now
    with store.writing() as session:
        return _settle(
            session,
            update(table)
            .where(
                table.id == delivery.id,
                table.attempts == delivery.attempt,
                table.state == PENDING,
            )
            .values(**values),
        )


def outbox_entries(
    store: Store, states: Sequence[str] = (PENDING, DEAD), limit: int = 100
) -> list[OutboxEntry]:
    """Outbox rows in ``states``, newest first."""
    with store.reading() as session:
        rows = session.scalars(
            select(OutboxRow)
            .where(OutboxRow.state.in_(states))
            .order_by(OutboxRow.id.desc())
            .limit(limit)
        )
        return [
            OutboxEntry(
                row.id,
                row.lead_id,
                row.score_id,
                row.connector,
                row.crm_id,
                row.state,
                row.attempts,
                row.next_attempt_at,
                row.last_error,
                row.created_at,
                row.delivered_at,
            )
            for row in rows
        ]


def retry_deliveries(store: Store, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Dead rows (only ``ids`` when given) are due again now with a fresh count of tries;
    returns how many."""
    table = OutboxRow
    statement = update(table).where(table.state == DEAD)
    if ids is not None:
        statement = statement.where(table.id.in_(ids))
    with store.writing() as session:
        result = session.execute(statement.values(state=PENDING, attempts=0, next_attempt_at=now))
        return int(result.rowcount)  # type: ignore[attr-defined]


def outbox_counts(store: Store) -> dict[str, int]:
    """Outbox rows per state (every state, 0 when none) and dead webhook events."""
    with store.reading() as session:
        found = dict(
            session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all()
        )
        dead_events = session.scalar(select(func.count()).where(WebhookEventRow.state == DEAD))
    counts = {state: int(found.get(state, 0)) for state in OUTBOX_STATES}
    counts["dead_events"] = int(dead_events or 0)
    return counts
