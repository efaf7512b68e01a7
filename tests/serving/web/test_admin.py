"""The admin page on the real app with a real MLflow registry (two registered versions of
a LightGBM model): models in service with their facts, rollback and promote behind a
confirmation, what the page shows without a registry, keys in use; the pure gate table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.app import create_app
from serving.modelset import MemoryLoader, RegistryLoader
from serving.settings import ServingSettings
from serving.store.tables import OutboxRow, ScoreRow
from serving.web.administration import gates_of, markdown_html, run_url, ui_address
from tests.serving.conftest import SDR_KEYS, headers, make_lead, serving_settings
from tests.serving.web.conftest import form_token, sign_in
from tests.serving.web.registry import NAME, build_registry, copy_registry
from training.registry import champion_version
from training.retraining.gates import Decision, GateResult


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("registry")
    build_registry(folder)
    return folder


@pytest.fixture
def admin_client(registry: Path, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    uri = copy_registry(registry, tmp_path / "mlflow")
    settings = serving_settings(tmp_path, mlflow_tracking_uri=uri)
    with TestClient(create_app(settings, loader=RegistryLoader(uri))) as client:
        yield client, uri


def _serving(page: str) -> str:
    found = re.search(rf'data-model="{NAME}">([^<]+)<', page)
    assert found, "the page shows no version in service"
    return found.group(1)


def test_rollback_asks_first_then_moves_the_champion_and_the_service(
    admin_client: tuple[TestClient, str],
) -> None:
    client, uri = admin_client
    sign_in(client, "admin")
    page = client.get("/app/admin")
    assert page.status_code == 200
    assert _serving(page.text) == "version 2"
    assert "champion" in page.text
    assert "previous" in page.text
    assert re.search(r"<td class=\"num\">0\.\d{3}</td>", page.text)  # headline metrics
    assert "MLflow run" not in page.text  # no UI address known: the run id instead
    for name in SDR_KEYS:
        assert f"<td>{name}</td><td>sdr</td>" in page.text
    assert "secret-key" not in page.text
    confirm = client.get(f"/app/admin/models/{NAME}/rollback")
    assert confirm.status_code == 200
    assert "back to version <strong>1</strong>" in confirm.text
    assert champion_version(uri, NAME) == "2"  # asking changed nothing
    forged = client.post(f"/app/admin/models/{NAME}/rollback", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert champion_version(uri, NAME) == "2"
    done = client.post(
        f"/app/admin/models/{NAME}/rollback", data={"csrf_token": form_token(confirm.text)}
    )
    assert done.status_code == 200
    assert champion_version(uri, NAME) == "1"
    assert _serving(done.text) == "version 1"
    models = client.get("/admin/models", headers=headers("admin")).json()["models"]
    assert models[NAME] == "1"  # the service scores with it now
    promote = client.get(f"/app/admin/models/{NAME}/promote?version=2")
    assert "Version <strong>2</strong> becomes the champion" in promote.text
    client.post(
        f"/app/admin/models/{NAME}/promote",
        data={"csrf_token": form_token(promote.text), "version": "2"},
    )
    assert champion_version(uri, NAME) == "2"
    assert client.get(f"/app/admin/models/{NAME}/promote?version=9").status_code == 404
    assert client.get("/app/admin/models/leadscore-nothing/rollback").status_code == 404


def test_only_the_admin_gets_the_page(admin_client: tuple[TestClient, str]) -> None:
    client, uri = admin_client
    sign_in(client, "marketing")
    assert client.get("/app/admin").status_code == 403
    token = form_token(client.get("/app/channels").text)
    refused = client.post(f"/app/admin/models/{NAME}/rollback", data={"csrf_token": token})
    assert refused.status_code == 403
    assert champion_version(uri, NAME) == "2"


def test_without_a_registry_there_is_nothing_to_move(settings: ServingSettings) -> None:
    with TestClient(create_app(settings, loader=MemoryLoader())) as client:
        sign_in(client, "admin")
        page = client.get("/app/admin")
        assert "none: the fallback rule scores" in page.text
        assert "nothing to promote or roll back" in page.text
        assert client.get(f"/app/admin/models/{NAME}/rollback").status_code == 409


def test_the_gate_table_comes_from_the_decision() -> None:
    decision = Decision(
        passed=False,
        reasons=[
            GateResult("ROC-AUC", True, 0.712, 0.70, "challenger 0.712 >= 0.700"),
            GateResult("enough outcomes", False, 40.0, 100.0, "needs 60 more won leads"),
        ],
    )
    gates = gates_of(decision.as_json())
    assert [(g.name, g.passed, g.value, g.threshold) for g in gates] == [
        ("ROC-AUC", True, "0.712", "0.7"),
        ("enough outcomes", False, "40", "100"),
    ]
    assert gates_of(None) == []
    assert ui_address(None, "sqlite:///x.db") is None
    assert ui_address(None, "http://mlflow:5000") == "http://mlflow:5000"
    assert run_url("http://ui/", "3", "abc") == "http://ui/#/experiments/3/runs/abc"


def test_the_drift_report_is_rendered_and_its_html_escaped() -> None:
    report = (
        "## Drift\n\n| feature | PSI |\n|---|---|\n| channel | 0.31 |\n\n<script>x()</script>\n"
    )
    html = str(markdown_html(report))
    assert "<h2>Drift</h2>" in html
    assert "<td>channel</td>" in html
    assert "<th>PSI</th>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert markdown_html(None) is None


def test_the_outbox_shows_dead_letters_and_retries_them(settings: ServingSettings) -> None:
    with TestClient(create_app(settings, loader=MemoryLoader())) as client:
        lead = client.post("/leads", json=make_lead(), headers=headers()).json()
        store = client.app.state.services.store  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        with store.writing() as session:
            score_id = session.scalar(select(ScoreRow.id).where(ScoreRow.lead_id == lead["id"]))
            session.add(
                OutboxRow(
                    lead_id=lead["id"],
                    score_id=score_id,
                    connector="amocrm",
                    crm_id="31337",
                    state="dead",
                    attempts=8,
                    next_attempt_at=now,
                    last_error="HTTP 500 from the CRM",
                    created_at=now,
                    delivered_at=None,
                )
            )
        token = sign_in(client, "admin")
        page = client.get("/app/admin")
        assert re.search(r'id="outbox-dead">1<', page.text)
        assert "HTTP 500 from the CRM" in page.text
        assert 'id="outbox-retry"' in page.text
        retried = client.post(
            "/app/admin/outbox/retry", data={"csrf_token": token}, follow_redirects=False
        )
        assert (retried.status_code, retried.headers["location"]) == (
            303,
            "/app/admin?retried=1#outbox",
        )
        after = client.get("/app/admin?retried=1").text
        assert re.search(r'id="outbox-dead">0<', after)
        assert re.search(r'id="outbox-pending">1<', after)
        assert "1 dead-lettered write-back(s) are due again." in after
