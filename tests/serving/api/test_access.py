"""API keys and the role matrix (as documented in docs/serving.md), over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.api.auth import DEMO_KEYS, KeyConfigError, KeyRing, Role, parse_keys
from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from tests.serving.conftest import ROLE_KEYS, headers, make_lead

# (method, path, json body or None, roles allowed) -- the matrix of docs/serving.md
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/leads", "lead", {"sdr", "admin"}),
    ("GET", "/leads/{id}", None, {"sdr", "sales", "marketing", "admin"}),
    ("GET", "/leads/by-external/{ext}", None, {"sdr", "sales", "marketing", "admin"}),
    ("PUT", "/leads/{id}/qualification", {"bant": {}}, {"sdr", "sales", "admin"}),
    ("POST", "/leads/{id}/status", {"status": "sdr_qualifying"}, {"sdr", "sales", "admin"}),
    ("POST", "/score", {"records": [{"channel": "seo"}]}, {"sdr", "sales", "admin"}),
    ("GET", "/queue", None, {"sdr", "marketing", "admin"}),
    ("POST", "/queue/claim", None, {"sdr", "admin"}),
    ("POST", "/queue/{id}/release", None, {"sdr", "admin"}),
    ("GET", "/metrics", None, {"sdr", "sales", "marketing", "admin"}),
    ("GET", "/admin/models", None, {"admin"}),
    ("POST", "/admin/models/reload", None, {"admin"}),
]


@pytest.mark.parametrize("role", ["sdr", "sales", "marketing", "admin"])
def test_role_matrix(client: TestClient, role: str) -> None:
    lead = make_lead()
    stored = client.post("/leads", json=lead, headers=headers("admin")).json()
    for method, template, body, allowed in MATRIX:
        path = template.format(id=stored["id"], ext=lead["external_id"])
        payload = make_lead() if body == "lead" else body
        response = client.request(method, path, json=payload, headers=headers(role))
        where = f"{role}: {method} {path}"
        if role in allowed:
            assert response.status_code not in (401, 403), f"{where}: {response.text}"
        else:
            assert response.status_code == 403, where
            detail = response.json()["detail"]
            assert detail.startswith(f"role '{role}' may not"), where
            assert response.json()["needs"] == sorted(allowed), where


def test_missing_and_unknown_keys_are_401(client: TestClient) -> None:
    missing = client.get("/queue")
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "ApiKey"
    unknown = client.get("/queue", headers={"X-API-Key": "no-such-key-at-all"})
    assert unknown.status_code == 401
    assert unknown.json() == {"detail": "unknown API key"}


def test_bearer_token_is_accepted(client: TestClient) -> None:
    response = client.get("/queue", headers={"Authorization": f"Bearer {ROLE_KEYS['sdr']}"})
    assert response.status_code == 200


def test_health_and_ready_need_no_key(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code in (200, 503)


def test_key_parsing_errors_name_the_entry_not_the_key() -> None:
    with pytest.raises(KeyConfigError, match="entry 2: unknown role 'boss'") as error:
        parse_keys("good-key-123456:sdr,other-key-1234567:boss", "LEADSCORE_API_KEYS")
    assert "other-key" not in str(error.value)
    with pytest.raises(KeyConfigError, match="at least 12 characters"):
        parse_keys("short:sdr", "LEADSCORE_API_KEYS")
    with pytest.raises(KeyConfigError, match="expected 'key:role'"):
        parse_keys("just-a-long-key-without-role", "LEADSCORE_API_KEYS")
    with pytest.raises(KeyConfigError, match="configured twice"):
        KeyRing(parse_keys("same-key-123456:sdr:a,same-key-123456:admin:b", "x"))


def test_keys_file_and_default_names(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("# team keys\nfile-key-sdr-0001:sdr:olga  # Olga\nfile-key-admin-01:admin\n")
    ring = KeyRing.configured(None, path, demo=False)
    olga = ring.identify("file-key-sdr-0001")
    assert olga is not None
    assert (olga.name, olga.role) == ("olga", Role.SDR)
    admin = ring.identify("file-key-admin-01")
    assert admin is not None
    assert admin.role is Role.ADMIN
    assert admin.name.startswith("admin-")
    assert ring.identify("file-key-sdr-0002") is None


def test_no_keys_refuses_to_start_unless_demo(tmp_path: Path) -> None:
    settings = ServingSettings(data_dir=tmp_path, api_keys=None, api_keys_file=None, demo=False)
    with pytest.raises(KeyConfigError, match="no API keys configured"):
        create_app(settings, loader=MemoryLoader())
    demo = ServingSettings(data_dir=tmp_path, api_keys=None, api_keys_file=None, demo=True)
    with TestClient(create_app(demo, loader=MemoryLoader())) as client:
        key, _role, _name = DEMO_KEYS[0]
        assert client.get("/queue", headers={"X-API-Key": key}).status_code == 200


def test_serve_refuses_to_start_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from serving.cli.main import app

    for name in ("LEADSCORE_API_KEYS", "LEADSCORE_API_KEYS_FILE", "LEADSCORE_DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["serve", "--port", "8999"])
    assert result.exit_code == 2
    assert "no API keys configured" in result.output
