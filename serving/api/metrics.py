"""Prometheus metrics, one registry per app (never the global one).

Counters and histograms are updated as requests are served; the queue length, SLA
breaches and the models in service are read from the store and the model holder at
scrape time by :class:`LiveCollector`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.middleware import HttpMiddleware
from serving.modelset import ModelSet
from serving.scores import Score
from serving.store.leads import Store
from serving.store.outbox import OUTBOX_STATES, outbox_counts

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "leadscore_http_request_duration_seconds",
            "Time to serve a request, by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = self._counter(
            "leadscore_http_requests",
            "HTTP requests served, by route template and status code",
            "method",
            "route",
            "status",
        )
        self.scores = self._counter(
            "leadscore_scores",
            "Leads scored and stored, by stage, target and tier",
            "stage",
            "target",
            "tier",
        )
        self.fallbacks = self._counter(
            "leadscore_fallback_scores",
            "Scores given by the fallback rule instead of a model",
            "stage",
            "target",
        )
        self.model_errors = self._counter(
            "leadscore_model_errors",
            "Times a model raised while scoring (the fallback rule scored instead)",
            "model",
        )
        self.batch_rows = self._counter(
            "leadscore_batch_scored_rows",
            "Rows scored through POST /score (not stored)",
            "stage",
            "target",
            "fallback",
        )
        self.unseen = self._counter(
            "leadscore_unseen_category_values",
            "Category values the model did not see in training (scored as 'other')",
            "field",
        )
        self.leads = self._counter(
            "leadscore_leads_received",
            "POST /leads calls: stored (new) or repeats of a stored external_id",
            "outcome",
        )
        self.claims = self._counter(
            "leadscore_claims", "Queue claims: handed out, or nothing left to claim", "outcome"
        )
        self.crm_webhooks = self._counter(
            "leadscore_crm_webhooks",
            "CRM webhook events: accepted, repeats (no-ops), refused (401), invalid (422)",
            "connector",
            "outcome",
        )
        self.crm_events = self._counter(
            "leadscore_crm_events",
            "Webhook events worked by the intake job: done, ignored, retry, dead",
            "connector",
            "outcome",
        )
        self.crm_deliveries = self._counter(
            "leadscore_crm_deliveries",
            "Score write-backs to a CRM: delivered, superseded, retry (failed), dead",
            "connector",
            "outcome",
        )

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, list(labels), registry=self.registry)

    def record_score(self, score: Score) -> None:
        self.scores.labels(score.known_at, score.target, score.tier).inc()
        if score.is_fallback:
            self.fallbacks.labels(score.known_at, score.target).inc()

    def record_model_error(self, model: str, _error: BaseException) -> None:
        self.model_errors.labels(model).inc()


class LiveCollector(Collector):
    """Gauges computed when Prometheus scrapes: queue, SLA breaches, models in service."""

    def __init__(
        self,
        store: Callable[[], Store | None],
        models: Callable[[], ModelSet | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._models = models
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        yield from self._queue()
        yield from self._models_info()
        yield from self._outbox()

    def _queue(self) -> Iterable[Metric]:
        store = self._store()
        if store is None:
            return
        try:
            total, unclaimed, breached = store.queue_stats(self._clock())
        except Exception:
            log.exception("metrics: could not read the queue")
            return
        yield GaugeMetricFamily("leadscore_queue_length", "Leads waiting in the SDR queue", total)
        yield GaugeMetricFamily(
            "leadscore_queue_unclaimed", "Leads in the queue no SDR has claimed", unclaimed
        )
        yield GaugeMetricFamily(
            "leadscore_queue_sla_breached",
            "Leads in the queue past their SLA deadline",
            breached,
        )

    def _outbox(self) -> Iterable[Metric]:
        store = self._store()
        if store is None:
            return
        try:
            counts = outbox_counts(store)
        except Exception:
            log.exception("metrics: could not read the CRM outbox")
            return
        family = GaugeMetricFamily(
            "leadscore_crm_outbox", "Score write-backs in the outbox, by state", labels=["state"]
        )
        for state in OUTBOX_STATES:
            family.add_metric([state], counts[state])
        yield family
        yield GaugeMetricFamily(
            "leadscore_crm_events_dead", "Webhook events given up on", counts["dead_events"]
        )

    def _models_info(self) -> Iterable[Metric]:
        models = self._models()
        if models is None:
            return
        family = GaugeMetricFamily(
            "leadscore_model_loaded",
            "1 when the champion of a model name is in service (0: the fallback rule)",
            labels=["name", "version"],
        )
        for name, version in models.versions().items():
            family.add_metric([name, version or ""], 0.0 if version is None else 1.0)
        yield family


class RequestMetrics(HttpMiddleware):
    """ASGI middleware counting requests and timing them by route template."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        started = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
