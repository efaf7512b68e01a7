"""Leads: arrival (POST /leads), reading, qualification and status changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status

from features.lead import Lead
from serving.api.deps import (
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
    LeadScored,
    QualificationOut,
    QualificationRequest,
    StatusRequest,
)
from serving.api.workflows import change_status, lead_detail, qualify_lead, receive_lead
from serving.store.leads import LeadNotFoundError

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


@router.get("/by-external/{external_id}", summary="A lead by the CRM's id")
def get_lead_by_external(
    external_id: Annotated[str, Path(min_length=1, max_length=128)],
    store: StoreDep,
    caller: LeadReader,
) -> LeadDetail:
    row = store.lead_by_external(external_id)
    if row is None:
        raise LeadNotFoundError(external_id)
    return lead_detail(row)


@router.get("/{lead_id}", summary="A lead with its history, scores, qualification, claims")
def get_lead(lead_id: LeadId, store: StoreDep, caller: LeadReader) -> LeadDetail:
    return lead_detail(store.lead(lead_id))


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
