"""Security headers, the report page's own CSP, CORS, and the headers of the real service
(`leadscore serve` on uvicorn, in a subprocess)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from features.demo import generate_leads
from serving.api.security import DEFAULT_CSP
from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import Store
from tests.serving.conftest import API_KEYS, headers, make_lead
from tests.serving.demo_store import fill_store
from tests.serving.harness import free_port, start_serve, stop, wait_until_answers

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "content-security-policy": DEFAULT_CSP,
}
ORIGIN = "https://crm.example.com"


def security_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers.get(name, "") for name in EXPECTED}


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    answers = [
        client.get("/health"),
        client.get("/ready"),
        client.get("/queue"),
        client.get("/leads/999", headers=headers()),
        client.post("/leads", json={"external_id": "x"}, headers=headers()),
        client.post("/leads", json=make_lead(), headers=headers()),
        client.get("/no/such/page"),
    ]
    assert [a.status_code for a in answers] == [200, 503, 401, 404, 422, 201, 404]
    for answer in answers:
        assert security_headers(answer) == EXPECTED, answer.request.url


class PageParts(HTMLParser):
    """What a page asks the browser for: style blocks, inline styles, scripts, images."""

    def __init__(self) -> None:
        super().__init__()
        self.styles: list[str] = []
        self.inline_styles = 0
        self.scripts = 0
        self.images: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.inline_styles += "style" in values
        self.scripts += tag == "script" or any(name.startswith("on") for name in values)
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag == "style":
            self._in_style = True
            self.styles.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles[-1] += data


@pytest.fixture
def report_client(tmp_path: Path, loader: MemoryLoader) -> Iterator[TestClient]:
    """The app on SQLite only: the page's headers do not depend on the store, and the
    report's plots are the slow part."""
    settings = ServingSettings(data_dir=tmp_path / "data", api_keys=API_KEYS, model_check_seconds=0)
    with TestClient(create_app(settings, loader=loader)) as client:
        yield client


def test_the_channel_report_page_keeps_its_own_csp(report_client: TestClient) -> None:
    client = report_client
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    frame, _truth = generate_leads(n=1000, seed=11)
    fill_store(store, frame.tail(300).to_dict(orient="records"))
    response = client.get(
        "/reports/channels.html",
        headers=headers("marketing"),
        params={"min_leads": 30, "min_conversions": 3},
    )
    assert response.status_code == 200, response.text
    csp = response.headers["content-security-policy"]
    assert csp != DEFAULT_CSP
    parts = PageParts()
    parts.feed(response.text)
    assert parts.styles
    assert parts.images
    for css in parts.styles:
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    # the policy allows the page's style blocks and data: images, and nothing else is needed
    assert parts.inline_styles == 0
    assert parts.scripts == 0
    assert all(src.startswith("data:image/") for src in parts.images)
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_cors_is_off_by_default(client: TestClient) -> None:
    preflight = client.options(
        "/leads",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = client.get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in plain.headers


def test_cors_allows_only_the_configured_origins(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ORIGIN + "/"}), loader=loader)
    with TestClient(app) as client:
        preflight = client.options(
            "/leads",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
        posted = client.post("/leads", json=make_lead(), headers={**headers(), "Origin": ORIGIN})
        assert posted.status_code == 201
        assert posted.headers["access-control-allow-origin"] == ORIGIN
        other = client.options(
            "/leads",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


# --- the real service on uvicorn ------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`leadscore serve` in a subprocess on a fresh data dir; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "LEADSCORE_DATA_DIR": str(tmp_path / "data"),
        "LEADSCORE_API_KEYS": API_KEYS,
        "LEADSCORE_MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(),
        "LEADSCORE_MODEL_CHECK_SECONDS": "0",
        "LEADSCORE_AUTH_FAILURE_LIMIT": "2/minute",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("LEADSCORE_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    process = start_serve(port, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(process, f"{base}/health", log, timeout=120)
        yield base
    finally:
        stop(process, timeout=20)


def test_the_real_service_sends_no_server_header_and_ignores_forwarded_for(
    served: str,
) -> None:
    health = httpx.get(f"{served}/health")
    assert health.status_code == 200
    assert "server" not in health.headers
    assert security_headers(health) == EXPECTED
    wrong = {"X-API-Key": "guessed-key-000000"}
    # no trusted proxy is configured: X-Forwarded-For from 127.0.0.1 does not change who
    # the client is (uvicorn's own proxy-header rewriting is off)
    answers = [
        httpx.get(
            f"{served}/queue", headers={**wrong, "X-Forwarded-For": f"192.0.2.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert answers == [401, 401, 429]
    blocked = httpx.get(f"{served}/queue", headers=headers())
    assert blocked.status_code == 429
    assert "server" not in blocked.headers
    assert int(blocked.headers["retry-after"]) >= 1
