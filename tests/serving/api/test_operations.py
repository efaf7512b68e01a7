"""Running the service: readiness without models, model failures, metrics, recovery, schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from features.funnel import Status
from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import NewLead, Store
from serving.store.tables import Base, make_engine, migrate
from tests.serving.conftest import PostLead, headers, interrupted_lead, make_lead


class BrokenModel:
    """A model that fails the way a bad deployment does: at prediction time."""

    stage = "arrival"
    target = "sql"

    def score(self, records: Sequence[Any], *wording: Any) -> list[Any]:
        raise RuntimeError("feature pipeline exploded")

    def predict_proba(self, records: Sequence[Any]) -> np.ndarray:
        raise RuntimeError("feature pipeline exploded")


def test_without_models_fallback_scores_and_ready_is_degraded(
    client: TestClient, post_lead: PostLead
) -> None:
    ready = client.get("/ready", headers=headers())
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["store"] == "ok"
    assert "leadscore-arrival-sql" in body["reason"]
    assert body["models"] == {
        "leadscore-arrival-sql": None,
        "leadscore-arrival-won": None,
        "leadscore-arrival-outlook": None,  # an outlook is optional: listed, never fallen back
        "leadscore-qualified-sql": None,
        "leadscore-qualified-won": None,
        "leadscore-qualified-outlook": None,
    }
    lead = post_lead()
    assert lead["is_fallback"] is True
    assert lead["in_queue"] is True
    assert client.get("/queue", headers=headers()).json()["items"][0]["lead_id"] == lead["id"]


def test_model_failure_still_stores_and_queues_the_lead(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    loader.publish("leadscore-arrival-sql", "7", BrokenModel())
    with TestClient(create_app(settings, loader=loader)) as client:
        assert (
            client.get("/admin/models", headers=headers("admin")).json()["models"][
                "leadscore-arrival-sql"
            ]
            == "7"
        )
        response = client.post("/leads", json=make_lead(), headers=headers())
        assert response.status_code == 201
        body = response.json()
        assert body["is_fallback"] is True
        assert body["model"]["version"] == "fallback"
        assert body["in_queue"] is True
        score = body["scores"][0]
        assert "leadscore-arrival-sql v7 failed: RuntimeError" in score["fallback_reason"]
        batch = client.post("/score", json={"records": [{"channel": "seo"}]}, headers=headers())
        assert batch.status_code == 200
        assert batch.json()["is_fallback"] is True
        metrics = client.get("/metrics", headers=headers()).text
        assert 'leadscore_model_errors_total{model="leadscore-arrival-sql"} 2.0' in metrics
        assert 'leadscore_fallback_scores_total{stage="arrival",target="sql"} 1.0' in metrics


def test_metrics_per_app(
    client: TestClient, settings: ServingSettings, post_lead: PostLead
) -> None:
    post_lead(minutes_ago=90)
    post_lead(minutes_ago=1)
    client.get("/queue", headers=headers())
    client.get("/leads/12345", headers=headers())
    text = client.get("/metrics", headers=headers("marketing")).text
    for sample in (
        'leadscore_http_requests_total{method="POST",route="/leads",status="201"} 2.0',
        'route="/leads/{lead_id}",status="404"',
        'leadscore_http_request_duration_seconds_count{method="GET",route="/queue"} 1.0',
        "leadscore_queue_length 2.0",
        "leadscore_queue_sla_breached 1.0",
        'leadscore_scores_total{stage="arrival",target="sql",tier=',
        'leadscore_leads_received_total{outcome="stored"} 2.0',
        'leadscore_model_loaded{name="leadscore-arrival-sql",version=""} 0.0',
    ):
        assert sample in text
    # a second app in the same process counts on its own
    with TestClient(create_app(settings, loader=MemoryLoader())) as other:
        fresh = other.get("/metrics", headers=headers()).text
        assert 'route="/leads",status="201"' not in fresh
        assert "leadscore_queue_length 2.0" in fresh  # same store, counted at scrape


def test_interrupted_scoring_is_finished_at_start_up(settings: ServingSettings) -> None:
    """A lead stored just before a crash (no score yet) is scored when the service starts,
    and a repeat of it completes it too."""
    now = datetime.now(UTC)
    store = Store.open(settings.store_url)
    try:
        for external_id in ("crashed-1", "crashed-2"):
            store.add_lead(interrupted_lead(external_id), now)
        queue = store.queue_entries()
        assert [entry.probability for entry in queue] == [None, None]
    finally:
        store.close()
    with TestClient(create_app(settings, loader=MemoryLoader())) as client:
        items = client.get("/queue", headers=headers()).json()["items"]
        assert len(items) == 2
        assert all(item["probability"] is not None for item in items)
        repeat = client.post("/leads", json=make_lead("crashed-1"), headers=headers())
        assert repeat.status_code == 200
        detail = client.get(f"/leads/{repeat.json()['id']}", headers=headers()).json()
        assert len(detail["scores"]) == 1


def test_start_up_scores_an_interrupted_lead_that_was_posted_with_answers(
    settings: ServingSettings,
) -> None:
    """A lead posted with BANT answers is not queued; if a crash left it unscored, the
    start-up sweep scores it all the same (it used to stay unscored until a repeat)."""
    now = datetime.now(UTC)
    bant = {"budget": {"bracket": "300k_1m"}, "is_decision_maker": True}
    store = Store.open(settings.store_url)
    try:
        lead_id, _created = store.add_lead(
            NewLead(
                external_id="crashed-answered",
                arrived_at=now,
                channel="referral",
                source={"channel": "referral"},
                record={"external_id": "crashed-answered", "channel": "referral"},
                history=[(Status.NEW, now, None)],
                deal_value=None,
                deal_currency=None,
                sla_deadline=now + timedelta(minutes=30),
                created_by="sdr-0",
                qualification=(bant, None),
            ),
            now,
        )
        assert store.queue_entries() == []
    finally:
        store.close()
    no_periodic_sweep = settings.model_copy(update={"sweep_seconds": 0})
    with TestClient(create_app(no_periodic_sweep, loader=MemoryLoader())) as client:
        detail = client.get(f"/leads/{lead_id}", headers=headers()).json()
        arrival = [score for score in detail["scores"] if score["stage"] == "arrival"]
        assert len(arrival) == 1
        assert arrival[0]["probability"] is not None
        assert client.get("/queue", headers=headers()).json()["items"] == []


def test_migrations_are_idempotent_and_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert version.scalar() == "0005_outlook"  # the head (0005: the outlook)
    finally:
        engine.dispose()


def test_sqlite_store_is_wal_with_foreign_keys(tmp_path: Any) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    finally:
        store.close()


def test_openapi_documents_examples_and_security(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/leads"]["post"]
    assert "web form" in post["requestBody"]["content"]["application/json"]["examples"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(schema["components"]["securitySchemes"])
    assert "/queue/claim" in schema["paths"]
