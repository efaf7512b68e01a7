"""Liveness, readiness and Prometheus metrics.

``/health`` and ``/ready`` need no key; ``/ready`` then answers its status and a short
reason only. With a key (any role) it also names the models in service and their versions,
the store's state and which models the fallback rule stands in for.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from serving.api.deps import MetricsReader, OptionalCaller, ServicesDep
from serving.api.inputs import CheckedRoute
from serving.api.schemas import HealthOut, ReadyOut
from serving.api.workflows import fallback_names

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"], route_class=CheckedRoute)


@router.get("/health", summary="Alive (no key needed)")
def health() -> HealthOut:
    return HealthOut(status="ok")


class ReadyBrief(BaseModel):
    """What /ready tells a caller without a key: the status and a short reason."""

    status: Literal["ready", "degraded", "unavailable"]
    reason: str | None


#: The reasons shown without a key (no model names, versions or store details).
BRIEF_REASONS = {
    "ready": None,
    "degraded": "scoring with the fallback rule",
    "unavailable": "the service cannot score now",
}


def brief(body: ReadyOut) -> ReadyBrief:
    """The unauthenticated view of a readiness answer."""
    return ReadyBrief(status=body.status, reason=BRIEF_REASONS[body.status])


def readiness(request: Request) -> ReadyOut:
    """The full readiness answer: store state, models in service, what falls back."""
    services = getattr(request.app.state, "services", None)
    if services is None or services.store is None or services.models is None:
        return ReadyOut(status="unavailable", reason="starting", store="unreachable", models={})
    models = services.models.current
    versions = models.versions()
    try:
        services.store.ping()
        store_ok = True
    except Exception:
        log.exception("readiness: the lead store does not answer")
        store_ok = False
    missing = fallback_names(models, services.scorer.queue_target)
    if not store_ok:
        return ReadyOut(
            status="unavailable",
            reason="the lead store does not answer",
            store="unreachable",
            models=versions,
        )
    if missing:
        why = f" (the model registry: {models.registry_problem})" if models.registry_problem else ""
        return ReadyOut(
            status="degraded",
            reason="scoring with the fallback rule for: " + ", ".join(missing) + why,
            store="ok",
            models=versions,
        )
    return ReadyOut(status="ready", reason=None, store="ok", models=versions)


@router.get(
    "/ready",
    response_model=ReadyOut | ReadyBrief,
    responses={503: {"model": ReadyOut | ReadyBrief, "description": "degraded or unavailable"}},
    summary="Ready to score with models (no key needed; details with a key)",
)
def ready(request: Request, caller: OptionalCaller) -> JSONResponse:
    """200 when the store answers and every model is loaded; 503 ``degraded`` when some
    scores come from the fallback rule, 503 ``unavailable`` when the store is down.
    Without a key: status and a short reason; with a key (any role): store, models and
    versions, and which models fall back."""
    body = readiness(request)
    shown: BaseModel = body if caller is not None else brief(body)
    code = 200 if body.status == "ready" else 503
    return JSONResponse(shown.model_dump(mode="json"), status_code=code)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(services: ServicesDep, caller: MetricsReader) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
