"""The scoring service: ``create_app()`` builds the FastAPI app (``uvicorn --factory``).

Start-up (the lifespan): bound MLflow's HTTP requests (the one place the service sets
``MLFLOW_HTTP_REQUEST_*``, from ``LEADSCORE_REGISTRY_TIMEOUT_SECONDS`` and
``LEADSCORE_REGISTRY_RETRIES``), open the lead store and apply its migrations, start the
model check (``serving/background.py``) and wait for its first load of every champion of
the data set (arrival/qualified x sql/won) at most ``LEADSCORE_REGISTRY_WAIT_SECONDS``,
score leads whose scoring was interrupted (the sweeper's first sweep) and start the
sweeper. Shutdown stops both and closes the store. Without models the service still
works: the fallback rule scores, /ready says ``degraded``, and the model check keeps
trying the registry.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from anyio import to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from features.questionnaire import load_catalog
from features.sla import read_working_hours
from features.tiers import Tiers
from serving.api.auth import KeyRing
from serving.api.deps import Services
from serving.api.errors import BodySizeLimit, install_error_handlers
from serving.api.metrics import LiveCollector, RequestMetrics, ServiceMetrics
from serving.api.records import RecordSchema
from serving.api.routers import admin, health, leads, queue, reports, score, webhooks
from serving.api.security import install_security
from serving.api.workflows import fallback_names
from serving.background import Periodic, crm_jobs, model_check, sweeper
from serving.connectors.amocrm import HIDE_WEBHOOK_SECRET
from serving.connectors.hub import load_connectors
from serving.connectors.jobs import CrmJobs
from serving.modelset import (
    NOT_LOADED_YET,
    ModelHolder,
    ModelLoader,
    ModelSet,
    RegistryLoader,
    expected_names,
)
from serving.scoring import Scorer
from serving.settings import ServingSettings
from serving.store.leads import Store
from serving.web import install_pages
from training.reasons import Wording
from training.registry import bound_http_requests

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
    wording = Wording(
        settings.reasons_top_k,
        settings.reason_threshold_pp,
        settings.locale,
        settings.time_zone,
        settings.display_currency,
    )
    scorer = Scorer(
        Tiers(settings.tier_a, settings.tier_b, settings.tier_c),
        wording,
        settings.score_target,
        on_score=metrics.record_score,
        on_model_error=metrics.record_model_error,
        likely_soon=settings.likely_soon,
    )
    return Services(
        settings=settings,
        keys=KeyRing.configured(settings.api_keys, settings.api_keys_file, settings.demo),
        metrics=metrics,
        catalog=catalog,
        record_schema=RecordSchema.from_catalog(catalog),
        scorer=scorer,
        loader=loader,
        working_hours=read_working_hours(settings.sla_calendar),
    )


def _start(services: Services) -> list[Periodic]:
    settings = services.settings
    bound_http_requests(settings.registry_timeout_seconds, settings.registry_retries)
    if settings.store_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.store_url, settings.db_busy_timeout_ms, settings.request_threads)
    background: list[Periodic] = []
    try:
        names = expected_names(services.loader, settings.dataset)
        holder = ModelHolder(ModelSet(names, registry_problem=NOT_LOADED_YET))
        services.store, services.models = store, holder
        models = model_check(
            holder, services.loader, settings.model_check_seconds, settings.registry_retry_seconds
        )
        background.append(models)
        models.start()
        if not models.first_done.wait(settings.registry_wait_seconds):
            log.warning(
                "the model registry has not answered within %.0f s; serving with the "
                "fallback rule until it does",
                settings.registry_wait_seconds,
            )
        missing = fallback_names(holder.current, services.scorer.queue_target)
        if missing:
            log.warning("no champion for %s: the fallback rule scores", ", ".join(missing))
        sweep = sweeper(services)
        background.append(sweep)
        sweep.run_once()  # start-up recovery: leads whose scoring a crash interrupted
        if settings.sweep_seconds > 0:
            sweep.start(first_after=settings.sweep_seconds)
    except Exception:
        if services.store is None:
            store.close()
        _stop(services, background)
        raise
    return background


def _stop(services: Services, background: list[Periodic]) -> None:
    for job in background:
        if not job.stop():
            log.warning("%s did not stop within %.0f s; left behind", job.what, job.stop_wait)
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
    connectors = load_connectors(settings.connectors_file, settings.crm_timeout_seconds)
    logging.getLogger("uvicorn.access").addFilter(HIDE_WEBHOOK_SECRET)
    jobs = CrmJobs(services, connectors)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run on AnyIO's thread pool (40 threads by default): on a few cores
        # that many threads take turns on the interpreter's lock and every request's
        # latency grows with the backlog. A pool the size of the connection pool keeps the
        # backlog queued in order instead.
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        background = await run_in_threadpool(_start, services)
        for job in crm_jobs(jobs):  # CRM webhooks' intake and the outbox (docs/crm.md)
            background.append(job)
            job.start()
        try:
            yield
        finally:
            await run_in_threadpool(jobs.close)
            await run_in_threadpool(partial(_stop, services, background))
            connectors.close()

    app = FastAPI(
        title="leadscore",
        summary="Calibrated, explained lead scoring and the SDR queue",
        description=DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.crm_jobs = jobs
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
    app.include_router(webhooks.router)
    install_pages(app, services)
    app.add_middleware(RequestMetrics, metrics=services.metrics)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    install_security(app, settings)  # outermost: its headers go on the 413s too
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leadscore")
    except PackageNotFoundError:
        return "0+unknown"
