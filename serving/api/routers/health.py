"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.api.deps import MetricsReader, ServicesDep
from serving.api.schemas import HealthOut, ReadyOut
from serving.api.workflows import fallback_names

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health", summary="Alive (no key needed)")
def health() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "degraded or unavailable"}},
    summary="Ready to score with models (no key needed)",
)
def ready(request: Request) -> JSONResponse:
    """200 when the store answers and every model is loaded; 503 ``degraded`` when some
    scores come from the fallback rule, 503 ``unavailable`` when the store is down."""
    services = getattr(request.app.state, "services", None)
    if services is None or services.store is None or services.models is None:
        body = ReadyOut(status="unavailable", reason="starting", store="unreachable", models={})
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
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
        body = ReadyOut(
            status="unavailable",
            reason="the lead store does not answer",
            store="unreachable",
            models=versions,
        )
    elif missing:
        body = ReadyOut(
            status="degraded",
            reason="scoring with the fallback rule for: " + ", ".join(missing),
            store="ok",
            models=versions,
        )
    else:
        body = ReadyOut(status="ready", reason=None, store="ok", models=versions)
    code = 200 if body.status == "ready" else 503
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(services: ServicesDep, caller: MetricsReader) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
