"""CRM webhooks in: ``POST /webhooks/amocrm/{secret}``, ``/webhooks/bitrix24``,
``/webhooks/hubspot`` and ``/webhooks/generic/{name}`` (docs/crm.md).

No API key: each CRM proves itself its own way (the connector's ``verify``: a secret in
the URL and the account for amoCRM, the application token for Bitrix24, the v3 signature
for HubSpot, a shared secret header for generic webhooks); a refusal is a 401 saying why.
The request only stores the events (one transaction, a repeat of a stored event is a
no-op) and answers; fetching the full lead from the CRM, storing and scoring it happens in
the intake job (``serving/connectors/intake.py``), started for these events right after
the answer on the CRM jobs' own threads (``CrmJobs.kick``: neither the answer nor the
connection waits for the CRM) and retried by the periodic job until done.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from serving.api import texts
from serving.api.deps import Services, ServicesDep
from serving.api.errors import ApiError, invalid
from serving.api.inputs import CheckedRoute
from serving.connectors.base import BadPayloadError, Inbound, RefusedError
from serving.connectors.intake import work_due
from serving.connectors.jobs import CrmJobs
from serving.store.outbox import record_events

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=CheckedRoute)


class WebhookAccepted(BaseModel):
    """What a webhook's answer says: how many of its events were new, how many repeats."""

    events: int = Field(description="leadscore's events in the request (others are ignored)")
    accepted: int = Field(description="new events stored; their leads are fetched and scored")
    repeats: int = Field(description="events already received (a CRM's retry): no-ops")


async def get_jobs(request: Request, _services: ServicesDep) -> CrmJobs:
    """The app's CRM jobs (its connectors and services), once the service has started."""
    jobs: CrmJobs = request.app.state.crm_jobs
    return jobs


JobsDep = Annotated[CrmJobs, Depends(get_jobs)]


async def _inbound(
    request: Request, received_at: datetime, secret: str | None, json_body: bool
) -> Inbound:
    document = None
    if json_body:
        try:
            document = await request.json()
        except json.JSONDecodeError as error:
            raise invalid("(whole body)", texts.EXPECTED_JSON.format(reason=error.msg)) from None
    return Inbound(
        method=request.method,
        url=str(request.url),
        headers=request.headers,
        body=await request.body(),
        received_at=received_at,
        path_secret=secret,
        json_body=document,
    )


async def _receive(
    request: Request,
    name: str,
    services: Services,
    jobs: CrmJobs,
    *,
    secret: str | None = None,
    json_body: bool = False,
) -> WebhookAccepted:
    connector = jobs.connectors.get(name)
    if connector is None:
        raise ApiError(404, texts.NO_CONNECTOR.format(name=name))
    counted = services.metrics.crm_webhooks
    now = services.clock()
    try:
        inbound = await _inbound(request, now, secret, json_body)
        connector.verify(inbound)
        events = connector.events(inbound)
    except RefusedError as error:
        counted.labels(name, "refused").inc()
        raise ApiError(401, texts.WEBHOOK_REFUSED.format(reason=error)) from None
    except BadPayloadError as error:
        counted.labels(name, "invalid").inc()
        raise invalid(error.field, error.message) from None
    except ApiError:
        counted.labels(name, "invalid").inc()
        raise
    assert services.store is not None
    new = await run_in_threadpool(record_events, services.store, connector.name, events, now)
    counted.labels(name, "accepted").inc(len(new))
    counted.labels(name, "repeat").inc(len(events) - len(new))
    if new:
        jobs.kick(partial(work_due, jobs))
    return WebhookAccepted(events=len(events), accepted=len(new), repeats=len(events) - len(new))


@router.post("/amocrm/{secret}", summary="amoCRM (Kommo) webhook: leads added, status changes")
async def amocrm(
    request: Request,
    secret: Annotated[str, Path(max_length=200, description="the webhook secret")],
    services: ServicesDep,
    jobs: JobsDep,
) -> WebhookAccepted:
    return await _receive(request, "amocrm", services, jobs, secret=secret)


@router.post("/bitrix24", summary="Bitrix24 outbound webhook: ONCRMLEADADD, ONCRMLEADUPDATE")
async def bitrix24(request: Request, services: ServicesDep, jobs: JobsDep) -> WebhookAccepted:
    return await _receive(request, "bitrix24", services, jobs)


@router.post("/hubspot", summary="HubSpot webhook: contacts created, lead status changes")
async def hubspot(request: Request, services: ServicesDep, jobs: JobsDep) -> WebhookAccepted:
    return await _receive(request, "hubspot", services, jobs, json_body=True)


@router.post("/generic/{name}", summary="Any JSON webhook, mapped by its mapping file")
async def generic(
    request: Request,
    name: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_-]+$")],
    services: ServicesDep,
    jobs: JobsDep,
) -> WebhookAccepted:
    return await _receive(request, f"generic.{name}", services, jobs, json_body=True)
