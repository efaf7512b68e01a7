"""The outbox worker: scores written back to the CRM, once per score version.

It claims due outbox rows (``serving/store/outbox.py``), calls the connector's
``write_back`` outside any transaction and settles each row: delivered; superseded (a newer
score of the same lead is on its way, so the older one is not sent); due again after a
backoff with jitter (``jobs.backoff``, at least the CRM's ``Retry-After``); or dead after
``LEADSCORE_CRM_MAX_ATTEMPTS`` tries or an answer that trying again cannot change (4xx).

Exactly once per score version: a row is unique per (score, connector) and is settled only
by the worker holding its current attempt. A worker killed between the CRM's answer and
the settling leaves the row due again after the lease (``LEADSCORE_CRM_LEASE_SECONDS``);
the repeated call is harmless because a write-back *sets* the score's fields to the same
values (probability, tier, reasons, version): the CRM ends in the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from serving.connectors.base import CrmError, WriteBack
from serving.connectors.jobs import CrmJobs
from serving.store.leads import Store
from serving.store.outbox import DEAD, SUPERSEDED, Delivery, claim_deliveries, settle_delivery

log = logging.getLogger(__name__)


def write_back_of(delivery: Delivery) -> WriteBack:
    model = f"{delivery.model_name} v{delivery.model_version}"
    return WriteBack(
        delivery.score_id, delivery.probability, delivery.tier, delivery.reasons, model
    )


def run_delivery(jobs: CrmJobs, lead_ids: Sequence[int] | None = None) -> int:
    """Deliver the due outbox rows (only of ``lead_ids`` when given); how many were."""
    store = jobs.services.store
    if store is None:
        return 0
    limit = jobs.services.settings.crm_batch
    claimed = claim_deliveries(store, jobs.now(), jobs.lease, limit, lead_ids)
    return sum(_deliver(jobs, store, delivery) for delivery in claimed)


def _outcome(jobs: CrmJobs, connector: str, outcome: str) -> None:
    jobs.services.metrics.crm_deliveries.labels(connector, outcome).inc()


def _deliver(jobs: CrmJobs, store: Store, delivery: Delivery) -> bool:
    connector = jobs.connectors.get(delivery.connector)
    now = jobs.now()
    if connector is None:
        error = f"no connector '{delivery.connector}' is configured"
        settle_delivery(store, delivery, now, state=DEAD, error=error)
        _outcome(jobs, delivery.connector, "dead")
        return False
    if delivery.superseded:
        settle_delivery(store, delivery, now, state=SUPERSEDED)
        _outcome(jobs, connector.name, "superseded")
        return False
    try:
        connector.write_back(jobs.connectors.http, delivery.crm_id, write_back_of(delivery))
    except CrmError as error:
        retry_at = None if error.permanent else jobs.retry_at(delivery.attempt, error.retry_after)
        if retry_at is None:
            log.warning("write-back of score %s dead-lettered: %s", delivery.score_id, error)
            settle_delivery(store, delivery, jobs.now(), state=DEAD, error=str(error))
        else:
            settle_delivery(store, delivery, jobs.now(), error=str(error), retry_at=retry_at)
        _outcome(jobs, connector.name, "retry" if retry_at else "dead")
        return False
    settle_delivery(store, delivery, jobs.now())
    _outcome(jobs, connector.name, "delivered")
    return True
