"""Real trained models in service: scoring, explanations, the MLflow registry, reloads.

Tiny LightGBM models are trained once per test process on generated demo leads with the
training API (``training.trainer.train_model``) and logged to a real MLflow store.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from features.dataset import LeadData, prepare_frame
from features.demo import generate_leads
from features.lead import Lead, lead_to_record
from features.spec import KnownAt, load_spec
from serving.api.workflows import arrival_view
from serving.app import create_app
from serving.modelset import KNOWN_ATS, NOT_LOADED_YET, TARGETS, MemoryLoader, RegistryLoader
from serving.settings import ServingSettings
from tests.serving.conftest import SEO_BANT, headers, make_lead
from tests.training.conftest import register
from training.registry import (
    HTTP_BACKOFF_VARIABLE,
    HTTP_RETRIES_VARIABLE,
    HTTP_TIMEOUT_VARIABLE,
    champion_version,
    model_name,
    set_alias,
)
from training.trainer import TrainOptions, TrainResult, train_model

QUALIFICATION = {
    "bant": SEO_BANT,
    "questionnaire": {"service": "seo", "answers": {"site_age_years": 2}},
}


@pytest.fixture(scope="module")
def demo_data() -> LeadData:
    frame, _truth = generate_leads(n=1500, seed=5)
    return prepare_frame(load_spec("demo"), frame, source="demo(n=1500, seed=5)")


@pytest.fixture(scope="module")
def trained(demo_data: LeadData) -> dict[str, TrainResult]:
    """arrival -> sql and qualified -> sql, as the demo data set's trainer builds them."""
    return {
        stage.value: train_model(
            demo_data, TrainOptions(known_at=stage, params={"learning_rate": 0.2}, refit=False)
        )
        for stage in (KnownAt.ARRIVAL, KnownAt.QUALIFIED)
    }


def _publish(loader: MemoryLoader, trained: dict[str, TrainResult], version: str) -> None:
    for stage, result in trained.items():
        loader.publish(model_name(stage, "sql", "demo"), version, result.model)


def test_serving_names_follow_the_registry(tmp_path: Path) -> None:
    loaders = [MemoryLoader(), RegistryLoader(f"sqlite:///{tmp_path / 'mlflow.db'}")]
    for loader in loaders:
        for dataset in ("demo", "olist"):
            for stage in KNOWN_ATS:
                for target in TARGETS:
                    expected = model_name(stage, target, dataset)
                    assert loader.model_name(stage, target, dataset) == expected


def test_models_score_explain_and_route(
    settings: ServingSettings, loader: MemoryLoader, trained: dict[str, TrainResult]
) -> None:
    _publish(loader, trained, "3")
    arrival_model = trained["arrival"].model
    qualified_model = trained["qualified"].model
    with TestClient(create_app(settings, loader=loader)) as client:
        ready = client.get("/ready", headers=headers())
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert ready.json()["models"]["leadscore-arrival-sql"] == "3"

        lead = make_lead(channel="referral", company_size="201-1000")
        body = client.post("/leads", json=lead, headers=headers()).json()
        assert body["model"] == {"name": "leadscore-arrival-sql", "version": "3"}
        assert body["is_fallback"] is False
        record = arrival_view(lead_to_record(Lead.model_validate(lead)))
        expected = float(arrival_model.predict_proba([record])[0])
        assert body["probability"] == pytest.approx(expected, abs=1e-9)
        reasons = body["reasons"]
        assert reasons
        assert all(r["field"] in record for r in reasons)
        assert all((r["contribution"] >= 0) == (r["direction"] == "+") for r in reasons)
        assert len([r for r in reasons if r["direction"] == "+"]) <= settings.reasons_top_k

        qualified = client.put(
            f"/leads/{body['id']}/qualification", json=QUALIFICATION, headers=headers()
        ).json()
        assert qualified["model"]["name"] == "leadscore-qualified-sql"
        assert qualified["is_fallback"] is False
        stored = client.get(f"/leads/{body['id']}", headers=headers()).json()
        full = lead_to_record(Lead.model_validate({**lead, **QUALIFICATION}))
        assert qualified["probability"] == pytest.approx(
            float(qualified_model.predict_proba([full])[0]), abs=1e-9
        )
        assert stored["route"] == qualified["route"]

        unseen = make_lead(channel="carrier_pigeon")
        assert client.post("/leads", json=unseen, headers=headers()).status_code == 201
        metrics = client.get("/metrics", headers=headers()).text
        assert 'leadscore_unseen_category_values_total{field="channel"} 1.0' in metrics

        records = [{"channel": "referral"}, {"channel": "display", "message": "вакансия"}]
        batch = client.post("/score", json={"records": records}, headers=headers()).json()
        assert batch["is_fallback"] is False
        assert [row["probability"] for row in batch["rows"]] == pytest.approx(
            list(arrival_model.predict_proba([arrival_view(r) for r in records])), abs=1e-9
        )


def test_watcher_picks_up_a_new_champion(
    settings: ServingSettings, loader: MemoryLoader, trained: dict[str, TrainResult]
) -> None:
    _publish(loader, trained, "1")
    fast = settings.model_copy(update={"model_check_seconds": 0.05})
    with TestClient(create_app(fast, loader=loader)) as client:
        assert (
            client.post("/leads", json=make_lead(), headers=headers()).json()["model"]["version"]
            == "1"
        )
        _publish(loader, trained, "2")
        deadline = time.monotonic() + 5
        version = "1"
        while version != "2" and time.monotonic() < deadline:
            time.sleep(0.05)
            version = client.post("/leads", json=make_lead(), headers=headers()).json()["model"][
                "version"
            ]
        assert version == "2"
        # the watcher never drops a served model when the champion disappears
        loader.withdraw("leadscore-arrival-sql")
        time.sleep(0.3)
        models = client.get("/admin/models", headers=headers("admin")).json()["models"]
        assert models["leadscore-arrival-sql"] == "2"
        # an explicit reload does
        reloaded = client.post("/admin/models/reload", headers=headers("admin")).json()
        assert reloaded["models"]["leadscore-arrival-sql"] is None
        assert "leadscore-arrival-sql" in reloaded["fallback"]


def test_reload_under_concurrent_requests_fails_nothing(
    settings: ServingSettings, loader: MemoryLoader, trained: dict[str, TrainResult]
) -> None:
    _publish(loader, trained, "1")
    requests_each = 12
    with TestClient(create_app(settings, loader=loader)) as client:

        def traffic(worker: int) -> list[tuple[int, str]]:
            seen: list[tuple[int, str]] = []
            for i in range(requests_each):
                if i % 2:
                    lead = make_lead(f"w{worker}-{i}")
                    response = client.post("/leads", json=lead, headers=headers())
                else:
                    batch = {"records": [{"channel": "seo"}] * 20}
                    response = client.post("/score", json=batch, headers=headers())
                seen.append((response.status_code, response.json()["model"]["version"]))
            return seen

        reloads = 1
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(traffic, worker) for worker in range(4)]
            while not all(future.done() for future in futures):
                reloads += 1
                _publish(loader, trained, str(reloads))
                reload = client.post("/admin/models/reload", headers=headers("admin"))
                assert reload.status_code == 200
                assert reload.json()["models"]["leadscore-arrival-sql"] == str(reloads)
                time.sleep(0.02)
            results = [item for future in futures for item in future.result()]
    assert len(results) == 4 * requests_each
    assert {code for code, _ in results} <= {200, 201}, results
    versions = {int(version) for _, version in results}
    assert versions <= set(range(1, reloads + 1))
    assert len(versions) > 1


@pytest.fixture
def registry_settings(settings: ServingSettings, tmp_path: Path) -> ServingSettings:
    return settings.model_copy(
        update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"}
    )


def test_real_registry_from_empty_to_champion(
    registry_settings: ServingSettings, trained: dict[str, TrainResult], database_url: str
) -> None:
    """The default loader on a real MLflow store: empty at start (fallback, /ready 503),
    then a champion is registered and loaded by an admin reload."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the registry is independent of the lead store: run once")
    with TestClient(create_app(registry_settings)) as client:
        ready = client.get("/ready", headers=headers())
        assert ready.status_code == 503
        assert ready.json()["status"] == "degraded"
        first = client.post("/leads", json=make_lead(), headers=headers()).json()
        assert first["is_fallback"] is True
        assert first["in_queue"] is True

        version = register(trained["arrival"], registry_settings)
        name = model_name("arrival", "sql")
        assert champion_version(registry_settings.tracking_uri, name) == version
        reloaded = client.post("/admin/models/reload", headers=headers("admin")).json()
        assert reloaded["models"][name] == version
        assert "leadscore-qualified-sql" in reloaded["fallback"]

        lead = make_lead(channel="partner")
        body = client.post("/leads", json=lead, headers=headers()).json()
        assert body["model"] == {"name": name, "version": version}
        record = arrival_view(lead_to_record(Lead.model_validate(lead)))
        expected = trained["arrival"].model.predict_proba([record])[0]
        assert body["probability"] == pytest.approx(float(expected), abs=1e-9)

        second = register(trained["arrival"], registry_settings)
        set_alias(registry_settings.tracking_uri, name, "champion", second)
        after: dict[str, Any] = client.post("/admin/models/reload", headers=headers("admin")).json()
        assert after["models"][name] == second
        assert np.isfinite(
            client.post("/leads", json=make_lead(), headers=headers()).json()["probability"]
        )


# ------------------------------------------------------------------ a registry that fails


@pytest.fixture
def mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app sets MLflow's HTTP limits in the environment: undone after the test."""
    for variable in (HTTP_TIMEOUT_VARIABLE, HTTP_RETRIES_VARIABLE, HTTP_BACKOFF_VARIABLE):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def silent_registry() -> Iterator[str]:
    """An MLflow server that accepts connections and never answers (the kernel completes
    the handshake of a listening socket that never accepts): its http:// URI."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_silent_registry_never_blocks_start_up_and_its_champions_come_later(
    settings: ServingSettings,
    registry_settings: ServingSettings,
    trained: dict[str, TrainResult],
    silent_registry: str,
    mlflow_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each MLflow request is bounded (1 s, no retry here; MLflow's own default is 120 s x
    8 attempts): start-up is over in seconds although it would wait 10 s for the
    registry; the rule scores, /ready is degraded, and once the registry answers (the
    loader's URI now reaches a real store with a champion) the champion is served, with
    no restart and no request."""
    if not settings.store_url.startswith("sqlite"):
        pytest.skip("the registry is independent of the lead store: run once")
    fast = settings.model_copy(
        update={
            "registry_timeout_seconds": 1,
            "registry_retries": 0,
            "registry_retry_seconds": 0.2,
            "model_check_seconds": 60,
        }
    )
    loader = RegistryLoader(silent_registry)
    started = time.monotonic()
    with TestClient(create_app(fast, loader=loader)) as client:
        start_up = time.monotonic() - started
        assert start_up < 5, f"start-up took {start_up:.1f} s"
        assert client.get("/health").status_code == 200
        ready = client.get("/ready", headers=headers())
        assert (ready.status_code, ready.json()["status"]) == (503, "degraded")
        assert "the model registry:" in ready.json()["reason"]  # says why, to a caller with a key
        first = client.post("/leads", json=make_lead(), headers=headers())
        assert first.status_code == 201
        assert first.json()["is_fallback"] is True
        assert "did not answer" in caplog.text
        assert client.app.state.services.models.current.registry_problem  # type: ignore[attr-defined]

        version = register(trained["arrival"], registry_settings)
        name = model_name("arrival", "sql")
        loader.tracking_uri = registry_settings.tracking_uri  # the registry answers now

        def served() -> bool:
            models = client.get("/admin/models", headers=headers("admin")).json()["models"]
            return bool(models[name] == version)

        assert _wait_for(served, 30), "the champion was not picked up"
        assert client.app.state.services.models.current.registry_problem is None  # type: ignore[attr-defined]
        body = client.post("/leads", json=make_lead(), headers=headers()).json()
        assert body["model"] == {"name": name, "version": version}
        assert body["is_fallback"] is False
    failures = [r for r in caplog.records if "model check failed" in r.getMessage()]
    assert len(failures) == 1, "an outage is logged once, not once per attempt"


def test_start_up_waits_for_the_registry_at_most_registry_wait_seconds(
    settings: ServingSettings, silent_registry: str, mlflow_env: None
) -> None:
    """Whatever a request to the registry costs (here up to 30 s), start-up goes on after
    LEADSCORE_REGISTRY_WAIT_SECONDS with the rule, and shutdown does not hang on it."""
    if not settings.store_url.startswith("sqlite"):
        pytest.skip("the registry is independent of the lead store: run once")
    patient = settings.model_copy(
        update={
            "mlflow_tracking_uri": silent_registry,
            "registry_timeout_seconds": 30,
            "registry_wait_seconds": 0.5,
        }
    )
    started = time.monotonic()
    client = TestClient(create_app(patient))
    with client:
        assert time.monotonic() - started < 4
        assert client.get("/health").status_code == 200
        lead = client.post("/leads", json=make_lead(), headers=headers())
        assert lead.status_code == 201
        assert lead.json()["is_fallback"] is True
        models = client.app.state.services.models.current  # type: ignore[attr-defined]
        assert models.registry_problem == NOT_LOADED_YET
        assert os.environ[HTTP_TIMEOUT_VARIABLE] == "30"
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5


def test_default_limits_on_a_refused_registry_start_at_once(
    settings: ServingSettings, mlflow_env: None
) -> None:
    """With the default settings, a registry whose port is closed costs start-up well
    under a second per attempt (MLflow's defaults: minutes of retries)."""
    if not settings.store_url.startswith("sqlite"):
        pytest.skip("the registry is independent of the lead store: run once")
    refused = settings.model_copy(
        update={"mlflow_tracking_uri": f"http://127.0.0.1:{_closed_port()}"}
    )
    started = time.monotonic()
    with TestClient(create_app(refused)) as client:
        assert time.monotonic() - started < 5
        assert os.environ[HTTP_RETRIES_VARIABLE] == "1"
        ready = client.get("/ready", headers=headers())
        assert (ready.status_code, ready.json()["status"]) == (503, "degraded")
        problem = client.app.state.services.models.current.registry_problem  # type: ignore[attr-defined]
        assert problem is not None
        assert "did not answer" in problem
