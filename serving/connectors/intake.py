"""The durable intake job: a stored webhook event becomes a stored, scored lead (or a status
change), through the same paths as the API.

A webhook's request only stores its events (``serving/store/outbox.py``
``record_events``); this job claims them, fetches the lead's full record from the CRM,
records the lead's CRM link (so its scores get outbox rows), stores and scores the lead
with ``serving.api.workflows.receive_lead`` (idempotent on external_id) and follows the
CRM's status onto the funnel with ``Store.change_status``. A failed CRM call is tried again
with backoff (``jobs.backoff``), then the event is dead; a record that makes no valid lead,
or a status the funnel does not allow from where the lead stands, is settled with a note.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from features.funnel import Status, TransitionError
from serving.api.auth import ApiKey, Role
from serving.api.workflows import receive_lead
from serving.connectors.base import BadPayloadError, Connector, CrmError, external_id
from serving.connectors.delivery import run_delivery
from serving.connectors.jobs import KICK_BATCH, CrmJobs
from serving.modelset import ModelSet
from serving.store.leads import Store, StoreError
from serving.store.outbox import ClaimedEvent, claim_events, fail_event, finish_event, link

log = logging.getLogger(__name__)


def caller_of(connector: Connector) -> ApiKey:
    """Who a CRM's leads and status changes are recorded as created and changed by."""
    return ApiKey(name=f"crm:{connector.name}", role=Role.SDR)


def run_intake(
    jobs: CrmJobs, ids: Sequence[int] | None = None, limit: int | None = None
) -> list[int]:
    """Work up to ``limit`` (default ``crm_batch``) due events (only ``ids`` when given);
    the ids of the leads they touched."""
    services = jobs.services
    store, holder = services.store, services.models
    if store is None or holder is None:
        return []
    limit = limit or services.settings.crm_batch
    touched = []
    for event in claim_events(store, jobs.now(), jobs.lease, limit, ids):
        lead_id = _work(jobs, store, holder.current, event)
        if lead_id is not None:
            touched.append(lead_id)
    return touched


def work_due(jobs: CrmJobs, most: int | None = None) -> int:
    """Work due events a few at a time (KICK_BATCH), each batch's write-backs at once,
    until none is due or ``most`` (default ``crm_batch``) were taken; how many were. Small
    claims let several threads share a backlog instead of one holding it all."""
    most = most or jobs.services.settings.crm_batch
    taken = 0
    while taken < most:
        leads = run_intake(jobs, limit=min(KICK_BATCH, most - taken))
        if not leads:
            return taken
        taken += len(leads)
        run_delivery(jobs, leads)
    return taken


def _outcome(jobs: CrmJobs, connector: str, outcome: str) -> None:
    jobs.services.metrics.crm_events.labels(connector, outcome).inc()


def _work(jobs: CrmJobs, store: Store, models: ModelSet, event: ClaimedEvent) -> int | None:
    connector = jobs.connectors.get(event.connector)
    if connector is None:
        fail_event(store, event, f"no connector '{event.connector}' is configured", None)
        _outcome(jobs, event.connector, "dead")
        return None
    try:
        lead_id, note = _apply(jobs, store, models, connector, event)
    except CrmError as error:
        retry_at = None if error.permanent else jobs.retry_at(event.attempt, error.retry_after)
        fail_event(store, event, str(error), retry_at)
        _outcome(jobs, connector.name, "retry" if retry_at else "dead")
        return None
    except (ValidationError, BadPayloadError) as error:
        message = f"the CRM's record does not make a lead: {error}"
        fail_event(store, event, message, None)
        _outcome(jobs, connector.name, "dead")
        return None
    except Exception as error:
        log.exception("webhook event %s of %s failed", event.id, event.connector)
        fail_event(store, event, f"{type(error).__name__}: {error}", jobs.retry_at(event.attempt))
        _outcome(jobs, connector.name, "retry")
        return None
    finish_event(store, event, jobs.now(), lead_id, note)
    _outcome(jobs, connector.name, "done" if note is None else "ignored")
    return lead_id


def _apply(
    jobs: CrmJobs, store: Store, models: ModelSet, connector: Connector, event: ClaimedEvent
) -> tuple[int, str | None]:
    """Store (and score) the event's lead when new, then follow its status; (lead id, a
    note when something was left alone)."""
    services = jobs.services
    http = jobs.connectors.http
    lead_id = store.lead_id_of(external_id(connector.name, event.crm_id))
    record: Any = None
    if event.kind == "lead" or lead_id is None or event.crm_status is None:
        record = connector.fetch(http, event.crm_id, event.payload)
    if lead_id is None or event.kind == "lead":
        lead = connector.lead(record, event.received_at)
        if connector.writes_back:
            link(store, lead.external_id, connector.name, event.crm_id, jobs.now())
        lead_id = receive_lead(services, store, models, lead, caller_of(connector)).id
    found = connector.status(event.crm_status, record)
    if found is None:
        if event.kind == "status":
            return lead_id, f"status {event.crm_status!r} is not in the status map: left alone"
        return lead_id, None
    status, note = found
    current = Status(store.lead(lead_id).status)
    if current is status:
        return lead_id, None
    deal = None
    if status is Status.WON:
        if record is None:
            record = connector.fetch(http, event.crm_id, event.payload)
        deal = connector.deal(record)
    try:
        store.change_status(
            lead_id, status, None, note, deal, caller_of(connector).name, services.clock
        )
    except TransitionError as error:
        return lead_id, f"left alone: {error}"
    except StoreError as error:
        return lead_id, f"left alone: {error.detail}"
    return lead_id, None
