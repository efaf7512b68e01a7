"""The SDR queue: priority order, claiming the next lead or a chosen one, giving it back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serving.api.deps import Claimer, QueueReader, ServicesDep, StoreDep
from serving.api.inputs import CheckedRoute, LeadId
from serving.api.schemas import ClaimResult, QueueItem, QueueOut, ReleaseResult, Tier
from serving.api.workflows import claim, claim_next, lead_detail, queue_view, release
from serving.queue import QueueOrder
from serving.store.tables import LeadRow

router = APIRouter(prefix="/queue", tags=["queue"], route_class=CheckedRoute)


#: The queue order a request asks for (None: the installation's LEADSCORE_QUEUE_ORDER).
OrderAsked = Annotated[
    QueueOrder | None,
    Query(description="probability or expected_value; default: LEADSCORE_QUEUE_ORDER"),
]


@router.get("", summary="Leads waiting for an SDR, highest priority first")
def get_queue(
    services: ServicesDep,
    store: StoreDep,
    caller: QueueReader,
    channel: Annotated[str | None, Query(max_length=200)] = None,
    tier: Tier | None = None,
    unclaimed: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: OrderAsked = None,
) -> QueueOut:
    """``priority = probability x urgency`` (or ``expected value x urgency`` with
    ``order=expected_value``, leads without an expected value last); urgency grows as the
    SLA deadline nears (docs/serving.md). Leads past their deadline are flagged
    ``breached``."""
    return queue_view(services, store, channel, tier, unclaimed, limit, order)


@router.post(
    "/claim",
    responses={404: {"description": "nothing to claim"}},
    summary="Take the next lead (atomic: no lead goes to two SDRs)",
)
def post_claim(
    services: ServicesDep,
    store: StoreDep,
    caller: Claimer,
    order: OrderAsked = None,
) -> ClaimResult:
    """The top unclaimed lead of ``GET /queue?unclaimed=true&order=...``, taken atomically."""
    return _claimed(*claim_next(services, store, caller, order))


@router.post(
    "/{lead_id}/claim",
    responses={
        404: {"description": "no such lead"},
        409: {"description": "claimed by another SDR, or not waiting in the queue"},
    },
    summary="Take this lead (atomic: no lead goes to two SDRs)",
)
def post_claim_lead(
    lead_id: LeadId, services: ServicesDep, store: StoreDep, caller: Claimer
) -> ClaimResult:
    """For a lead the SDR picked from the list. Claiming a lead one already holds answers
    the same again; one held by someone else is a 409 naming the holder."""
    return _claimed(*claim(services, store, lead_id, caller))


@router.post(
    "/{lead_id}/release",
    responses={409: {"description": "not claimed, or claimed by someone else"}},
    summary="Give a claimed lead back to the queue",
)
def post_release(
    lead_id: LeadId,
    services: ServicesDep,
    store: StoreDep,
    caller: Claimer,
) -> ReleaseResult:
    """Only the SDR holding the lead (or an admin) can release it."""
    holder, in_queue = release(store, services, lead_id, caller)
    return ReleaseResult(
        lead_id=lead_id, released_by=caller.name, previous_holder=holder, in_queue=in_queue
    )


def _claimed(row: LeadRow, item: QueueItem) -> ClaimResult:
    """The answer to a claim: who holds the lead since when, its place and its detail."""
    held = row.claims[-1]
    return ClaimResult(
        claimed_by=held.sdr, claimed_at=held.claimed_at, queue_item=item, lead=lead_detail(row)
    )
