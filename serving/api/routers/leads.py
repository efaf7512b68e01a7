"""Leads: arrival (POST /leads), reading, qualification and status changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status

from features.funnel import Status
from features.lead import Lead
from serving.api import texts
from serving.api.deps import (
    Language,
    LeadCreator,
    LeadReader,
    ModelsDep,
    Qualifier,
    ServicesDep,
    StatusChanger,
    StoreDep,
)
from serving.api.errors import invalid
from serving.api.inputs import CheckedRoute, EventWindowDep, LeadId, check_lead_times
from serving.api.schemas import (
    LEAD_EXAMPLE,
    LeadDetail,
    LeadListItem,
    LeadListOut,
    LeadScored,
    QualificationOut,
    QualificationRequest,
    Route,
    StatusRequest,
    Tier,
)
from serving.api.workflows import change_status, lead_detail, qualify_lead, receive_lead
from serving.store.leads import LeadNotFoundError
from serving.store.listing import MAX_LIMIT, Cursor, CursorError, LeadFilter, list_leads

router = APIRouter(prefix="/leads", tags=["leads"], route_class=CheckedRoute)

_CONFLICT = {"description": "refused (closed lead, funnel move not allowed, ...)"}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "a repeat of a stored external_id: the stored lead"}},
    summary="Receive a lead: store it, score it, queue it",
)
def create_lead(
    lead: Annotated[Lead, Body(openapi_examples={"web form": {"value": LEAD_EXAMPLE}})],
    response: Response,
    services: ServicesDep,
    store: StoreDep,
    models: ModelsDep,
    caller: LeadCreator,
    window: EventWindowDep,
) -> LeadScored:
    """Stored first, then scored with the arrival model (the fallback rule when there is
    none or it fails) and put in the SDR queue with its SLA deadline. Idempotent on
    ``external_id``: a repeat returns the stored lead with 200, never a duplicate."""
    check_lead_times(window, [lead])
    result = receive_lead(services, store, models, lead, caller)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result


def _utc(value: datetime | None, name: str) -> datetime | None:
    """A query time in UTC (a time without an offset is taken as UTC); 422 naming the
    parameter when UTC has no such time (e.g. 0001-01-01T00:00:00+05:00)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise invalid(name, texts.OUT_OF_UTC, value.isoformat(), "query") from None


def _list_item(row: Any, language: str) -> LeadListItem:
    listed = Status(row.status)
    labels = {"status_label": listed.label(language), "status_label_ru": listed.label_ru}
    return LeadListItem.model_validate({**row._asdict(), "status": listed, **labels})


@router.get("", summary="Stored leads, newest first, with filters and cursor pagination")
def get_leads(
    store: StoreDep,
    caller: LeadReader,
    language: Language,
    in_status: Annotated[Status | None, Query(alias="status")] = None,
    channel: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    tier: Tier | None = None,
    arrived_from: Annotated[
        datetime | None, Query(description="arrived at or after (ISO time; no offset: UTC)")
    ] = None,
    arrived_to: Annotated[
        datetime | None, Query(description="arrived before (ISO time; no offset: UTC)")
    ] = None,
    routed_to: Annotated[Route | None, Query(description="the suggested route")] = None,
    claimed_by: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="a previous page's next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> LeadListOut:
    """Every filter given must hold. Pages are keyset-paginated on (arrival, id): pass the
    answer's ``next_cursor`` as ``cursor`` with the same filters for the next page; a
    page never skips or repeats a lead while new ones arrive. Labels (``status_label``) in
    the caller's ``Accept-Language`` (en, ru)."""
    since, until = _utc(arrived_from, "arrived_from"), _utc(arrived_to, "arrived_to")
    if since is not None and until is not None and until <= since:
        raise invalid("arrived_to", texts.LATER_THAN_FROM, arrived_to, "query")
    try:
        after = None if cursor is None else Cursor.decode(cursor)
    except CursorError as error:
        raise invalid("cursor", str(error), cursor, "query") from None
    which = LeadFilter(
        status=in_status,
        channel=channel,
        tier=tier,
        arrived_from=since,
        arrived_to=until,
        routed_to=routed_to,
        claimed_by=claimed_by,
    )
    page = list_leads(store, which, limit, after)
    following = None if page.next_cursor is None else page.next_cursor.encode()
    items = [_list_item(row, language) for row in page.rows]
    return LeadListOut(items=items, next_cursor=following)


@router.get("/by-external/{external_id}", summary="A lead by the CRM's id")
def get_lead_by_external(
    external_id: Annotated[str, Path(min_length=1, max_length=128)],
    store: StoreDep,
    caller: LeadReader,
    language: Language,
) -> LeadDetail:
    row = store.lead_by_external(external_id)
    if row is None:
        raise LeadNotFoundError(external_id)
    return lead_detail(row, language)


@router.get("/{lead_id}", summary="A lead with its history, scores, qualification, claims")
def get_lead(
    lead_id: LeadId, store: StoreDep, caller: LeadReader, language: Language
) -> LeadDetail:
    """Labels (``status_label``) in the caller's ``Accept-Language`` (en, ru)."""
    return lead_detail(store.lead(lead_id), language)


@router.put(
    "/{lead_id}/qualification",
    responses={409: _CONFLICT},
    summary="Record BANT + questionnaire answers, rescore, suggest a route",
)
def put_qualification(
    lead_id: LeadId,
    body: QualificationRequest,
    services: ServicesDep,
    store: StoreDep,
    models: ModelsDep,
    caller: Qualifier,
) -> QualificationOut:
    """The answers are stored, the lead leaves the SDR queue, the qualified models score
    it and a route is suggested: ``sales`` (score >= route_sales), ``partner`` (score >=
    route_partner) or ``disqualify``. Answering again replaces the record's answers."""
    return qualify_lead(services, store, models, lead_id, body.bant, body.questionnaire, caller)


@router.post(
    "/{lead_id}/status",
    responses={409: _CONFLICT},
    summary="Move a lead along the funnel",
)
def post_status(
    lead_id: LeadId,
    body: StatusRequest,
    services: ServicesDep,
    store: StoreDep,
    caller: StatusChanger,
    window: EventWindowDep,
) -> LeadDetail:
    """Refused with 409 (``current`` status and the ``allowed`` next ones) when the funnel
    does not allow the move. ``won`` needs ``deal_value``. A lead that moves past the SDR
    step, or closes, leaves the queue. ``at`` lies between the settings' earliest event
    time and now plus the clock skew allowed (422 otherwise)."""
    problem = window.problem(body.at)
    if problem is not None:
        raise invalid("at", problem, body.at.isoformat() if body.at else None)
    return change_status(services, store, lead_id, body, caller)
