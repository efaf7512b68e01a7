"""The scoring service: ``create_app()`` builds the FastAPI app (``uvicorn --factory``).

Start-up (the lifespan): open the lead store and apply its migrations, load the champion
of every model for the data set (arrival/qualified x sql/won), score leads whose scoring
was interrupted, and start the periodic champion check. Shutdown stops the check and
closes the store. Without models the service still works: the fallback rule scores and
/ready says ``degraded``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from features.questionnaire import load_catalog
from serving.api.auth import KeyRing
from serving.api.deps import Services
from serving.api.errors import BodySizeLimit, install_error_handlers
from serving.api.metrics import LiveCollector, RequestMetrics, ServiceMetrics
from serving.api.records import RecordSchema
from serving.api.routers import admin, health, leads, queue, reports, score
from serving.api.workflows import fallback_names, rescore_unscored
from serving.modelset import ModelHolder, ModelLoader, ModelWatcher, RegistryLoader, load_model_set
from serving.scoring import Scorer
from serving.settings import ServingSettings
from serving.store.leads import Store
from training.tiers import Tiers

log = logging.getLogger(__name__)

DESCRIPTION = """\
Scores inbound B2B leads on arrival and after qualification, keeps the SDR queue in
priority order against the 30-minute SLA, and explains every score in plain words.
Every endpoint except /health and /ready needs an API key (`X-API-Key` header or
`Authorization: Bearer`). See docs/serving.md for roles, the queue formula and the
fallback rule.
"""


def _services(settings: ServingSettings, loader: ModelLoader) -> Services:
    metrics = ServiceMetrics()
    catalog = load_catalog()
    scorer = Scorer(
        Tiers(settings.tier_a, settings.tier_b, settings.tier_c),
        settings.reasons_top_k,
        settings.score_target,
        on_score=metrics.record_score,
        on_model_error=metrics.record_model_error,
    )
    return Services(
        settings=settings,
        keys=KeyRing.configured(settings.api_keys, settings.api_keys_file, settings.demo),
        metrics=metrics,
        catalog=catalog,
        record_schema=RecordSchema.from_catalog(catalog),
        scorer=scorer,
        loader=loader,
    )


def _start(services: Services) -> ModelWatcher:
    settings = services.settings
    if settings.store_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.store_url, settings.db_busy_timeout_ms)
    try:
        models = load_model_set(services.loader, settings.dataset)
        holder = ModelHolder(models)
        missing = fallback_names(models, services.scorer.queue_target)
        if missing:
            log.warning("no champion for %s: the fallback rule scores", ", ".join(missing))
        services.store, services.models = store, holder
        recovered = rescore_unscored(services, store, models)
        if recovered:
            log.warning("scored %d stored leads whose scoring was interrupted", recovered)
    except Exception:
        services.store = services.models = None
        store.close()
        raise
    watcher = ModelWatcher(holder, services.loader, settings.model_check_seconds)
    watcher.start()
    return watcher


def _stop(services: Services, watcher: ModelWatcher) -> None:
    watcher.stop()
    store = services.store
    services.store = services.models = None
    if store is not None:
        store.close()


def create_app(
    settings: ServingSettings | None = None, loader: ModelLoader | None = None
) -> FastAPI:
    """The scoring service. ``loader`` defaults to the MLflow registry of the settings."""
    settings = settings or ServingSettings()
    services = _services(settings, loader or RegistryLoader(settings.tracking_uri))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher = await run_in_threadpool(_start, services)
        try:
            yield
        finally:
            await run_in_threadpool(partial(_stop, services, watcher))

    app = FastAPI(
        title="leadscore",
        summary="Calibrated, explained lead scoring and the SDR queue",
        description=DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
    )
    app.state.services = services
    services.metrics.registry.register(
        LiveCollector(
            store=lambda: services.store,
            models=lambda: services.models.current if services.models else None,
            clock=services.clock,
        )
    )
    install_error_handlers(app)
    for router in (leads.router, score.router, queue.router, admin.router, health.router):
        app.include_router(router)
    app.include_router(reports.router)
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leadscore")
    except PackageNotFoundError:
        return "0+unknown"
