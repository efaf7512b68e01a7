"""The lead store as a data set: what retraining and the drift report read.

:func:`store_frame` returns one row per stored lead in the flat-record columns
(``lead_to_record``, as the store keeps them) plus the outcome columns of the demo spec:
``status``, ``stage_reached``, ``closed_at`` (when a closing status was recorded),
``status_history`` (JSON list of ``{"status", "at"}``), ``deal_value`` and
``deal_currency``, and the SLA's columns: ``sla_deadline``, ``first_response_at`` and
``first_responder`` (the first claim or move out of ``new``, whichever came first, and who
made it), and the queue's arrival draw: ``arrival_score_<target>`` (the first arrival
score), ``explored`` and ``propensity`` (the exploration boost and its chance).
``prepare_frame(load_spec("demo"), frame)`` accepts it, and the
retraining labels (``label_settled``) read the outcomes as they stood at any moment.
:func:`read_store` does the same for a store given by its URL, opened for the one read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select

from features.funnel import Status
from serving.store.leads import Store
from serving.store.tables import ClaimRow, LeadRow, ScoreRow, StatusChangeRow
from training.feedback import EXPLORED_COLUMN, PROPENSITY_COLUMN, live_score_column

OUTCOME_COLUMNS: tuple[str, ...] = (
    "status",
    "stage_reached",
    "closed_at",
    "status_history",
    "deal_value",
    "deal_currency",
)
#: When each lead was first answered and by whom, and when that was due.
RESPONSE_COLUMNS: tuple[str, ...] = ("sla_deadline", "first_response_at", "first_responder")
#: The arrival draw of the queue's exploration (serving.queue), None before it was logged.
EXPLORATION_COLUMNS: tuple[str, ...] = (EXPLORED_COLUMN, PROPENSITY_COLUMN)
#: Leads read per round trip.
BATCH = 5_000


#: A first response: when, and who.
Response = tuple[datetime, str]


def _histories(
    store: Store, arrived_before: datetime | None
) -> tuple[dict[int, list[tuple[str, datetime]]], dict[int, Response]]:
    """Each lead's status changes in order, and its first move out of ``new``."""
    query = select(
        StatusChangeRow.lead_id,
        StatusChangeRow.status,
        StatusChangeRow.at,
        StatusChangeRow.changed_by,
    )
    if arrived_before is not None:
        query = query.join(LeadRow, LeadRow.id == StatusChangeRow.lead_id).where(
            LeadRow.arrived_at < arrived_before
        )
    query = query.order_by(StatusChangeRow.lead_id, StatusChangeRow.at, StatusChangeRow.id)
    out: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    moved: dict[int, Response] = {}
    with store.reading() as session:
        for lead_id, status, at, by in session.execute(query).yield_per(BATCH * 4):
            out[int(lead_id)].append((str(status), at))
            if status != Status.NEW.value and int(lead_id) not in moved:
                moved[int(lead_id)] = (at, str(by))
    return out, moved


def _first_claims(store: Store, arrived_before: datetime | None) -> dict[int, Response]:
    query = select(ClaimRow.lead_id, ClaimRow.claimed_at, ClaimRow.sdr)
    if arrived_before is not None:
        query = query.join(LeadRow, LeadRow.id == ClaimRow.lead_id).where(
            LeadRow.arrived_at < arrived_before
        )
    query = query.order_by(ClaimRow.lead_id, ClaimRow.claimed_at, ClaimRow.id)
    first: dict[int, Response] = {}
    with store.reading() as session:
        for lead_id, at, sdr in session.execute(query).yield_per(BATCH * 4):
            first.setdefault(int(lead_id), (at, str(sdr)))
    return first


def _arrival_draws(store: Store, arrived_before: datetime | None) -> dict[int, dict[str, Any]]:
    """Each lead's first arrival scores (one column per target) and its exploration draw."""
    query = select(
        ScoreRow.lead_id,
        ScoreRow.target,
        ScoreRow.probability,
        ScoreRow.explored,
        ScoreRow.propensity,
    ).where(ScoreRow.kind == "arrival")
    if arrived_before is not None:
        query = query.join(LeadRow, LeadRow.id == ScoreRow.lead_id).where(
            LeadRow.arrived_at < arrived_before
        )
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    with store.reading() as session:
        for lead_id, target, probability, explored, share in session.execute(
            query.order_by(ScoreRow.lead_id, ScoreRow.id)
        ).yield_per(BATCH * 4):
            draws = out[int(lead_id)]
            draws.setdefault(live_score_column(str(target)), probability)
            if share is not None:
                draws.setdefault(EXPLORED_COLUMN, bool(explored))
                draws.setdefault(PROPENSITY_COLUMN, float(share))
    return out


def first_response(*found: Response | None) -> Response | None:
    """The earliest of a lead's first claim and first move (None: never answered)."""
    present = [response for response in found if response is not None]
    return min(present, key=lambda response: response[0]) if present else None


def _lead_rows(store: Store, arrived_before: datetime | None) -> Iterator[Any]:
    query = select(
        LeadRow.id,
        LeadRow.external_id,
        LeadRow.arrived_at,
        LeadRow.record,
        LeadRow.status,
        LeadRow.stage_reached,
        LeadRow.deal_value,
        LeadRow.deal_currency,
        LeadRow.sla_deadline,
    ).order_by(LeadRow.id)
    if arrived_before is not None:
        query = query.where(LeadRow.arrived_at < arrived_before)
    with store.reading() as session:
        yield from session.execute(query).yield_per(BATCH)


def _history_json(changes: list[tuple[str, datetime]]) -> str:
    return json.dumps([{"status": status, "at": at.isoformat()} for status, at in changes])


def _closed_at(status: str, changes: list[tuple[str, datetime]]) -> datetime | None:
    try:
        closing = Status(status).is_terminal
    except ValueError:
        return None
    if not closing:
        return None
    return next((at for s, at in reversed(changes) if s == status), None)


def store_frame(
    store: Store, columns: Iterable[str] = (), *, arrived_before: datetime | None = None
) -> pd.DataFrame:
    """Every stored lead (arrived before ``arrived_before``, if given) as one flat row.

    ``columns`` are added (empty) when no stored record has them, e.g. a questionnaire
    answer nobody gave yet, so a spec naming them still validates.
    """
    histories, moves = _histories(store, arrived_before)
    claims = _first_claims(store, arrived_before)
    draws = _arrival_draws(store, arrived_before)
    records: list[dict[str, Any]] = []
    for row in _lead_rows(store, arrived_before):
        changes = histories.get(int(row.id), [])
        answered = first_response(claims.get(int(row.id)), moves.get(int(row.id)))
        record = dict(row.record or {})
        record.update(
            external_id=row.external_id,
            arrived_at=row.arrived_at,
            status=row.status,
            stage_reached=row.stage_reached,
            closed_at=_closed_at(row.status, changes),
            status_history=_history_json(changes),
            deal_value=row.deal_value,
            deal_currency=row.deal_currency,
            sla_deadline=row.sla_deadline,
            first_response_at=None if answered is None else answered[0],
            first_responder=None if answered is None else answered[1],
        )
        record.update(draws.get(int(row.id), {}))
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    expected = (*OUTCOME_COLUMNS, *RESPONSE_COLUMNS, *EXPLORATION_COLUMNS, *columns)
    for column in ("external_id", "arrived_at", *expected):
        if column not in frame.columns:
            frame[column] = None
    for column in ("arrived_at", "closed_at", "sla_deadline", "first_response_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


class StoreUnavailableError(Exception):
    """The lead store could not be opened (the cause is chained)."""


def read_store(url: str, busy_timeout_ms: int, columns: Iterable[str] = ()) -> pd.DataFrame:
    """:func:`store_frame` of the store at ``url``, opened for this read and closed after."""
    try:
        store = Store.open(url, busy_timeout_ms)
    except Exception as exc:
        raise StoreUnavailableError(str(exc)) from exc
    try:
        return store_frame(store, columns)
    finally:
        store.close()
