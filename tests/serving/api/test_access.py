"""API keys and the role matrix (as documented in docs/serving.md), over HTTP."""

from __future__ import annotations

import gc
import ipaddress
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.api.auth import DEMO_KEYS, KeyConfigError, KeyRing, Role, parse_keys
from serving.api.ratelimit import RateLimitConfigError, RateLimits, client_address
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


# --- failed-key and intake rate limits -----------------------------------------------------

ATTACKER = ("203.0.113.7", 40000)
COLLEAGUE = ("198.51.100.2", 40001)


def limited_settings(settings: ServingSettings, **limits: str) -> ServingSettings:
    return settings.model_copy(update=limits)


def test_unknown_keys_from_one_address_end_in_429_for_every_key_protected_endpoint(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    app = create_app(limited_settings(settings, auth_failure_limit="5/minute"), loader=loader)
    wrong = {"X-API-Key": "guessed-key-000000"}
    with TestClient(app, client=ATTACKER) as attacker:
        answers = [attacker.get("/queue", headers=wrong).status_code for _ in range(5)]
        assert answers == [401] * 5
        refused = attacker.get("/queue", headers=wrong)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "unknown API keys" in refused.json()["detail"]
        # a good key from the blocked address is refused too: the answer tells nothing
        for method, path in [("GET", "/queue"), ("GET", "/leads/1"), ("POST", "/score")]:
            blocked = attacker.request(method, path, headers=headers("admin"), json={})
            assert blocked.status_code == 429, f"{method} {path}"
            assert "retry-after" in blocked.headers
        assert attacker.get("/ready", headers=wrong).status_code == 429
        colleague = TestClient(app, client=COLLEAGUE)
        assert colleague.get("/queue", headers=headers("sdr")).status_code == 200
        assert colleague.get("/queue", headers=wrong).status_code == 401


def test_the_failed_key_window_resets(settings: ServingSettings, loader: MemoryLoader) -> None:
    app = create_app(limited_settings(settings, auth_failure_limit="3 per 1 second"), loader=loader)
    wrong = {"X-API-Key": "guessed-key-000000"}
    with TestClient(app, client=ATTACKER) as attacker:
        assert [attacker.get("/queue", headers=wrong).status_code for _ in range(3)] == [401] * 3
        refused = attacker.get("/queue", headers=headers("sdr"))
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        time.sleep(1.1)
        assert attacker.get("/queue", headers=headers("sdr")).status_code == 200


def test_good_keys_and_missing_keys_do_not_count_as_failures(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    app = create_app(limited_settings(settings, auth_failure_limit="2/minute"), loader=loader)
    with TestClient(app, client=ATTACKER) as client:
        assert {client.get("/queue", headers=headers("sdr")).status_code for _ in range(30)} == {
            200
        }
        assert {client.get("/queue").status_code for _ in range(10)} == {401}
        wrong = {"X-API-Key": "guessed-key-000000"}
        assert [client.get("/queue", headers=wrong).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    limited = limited_settings(
        settings, auth_failure_limit="2/minute", trusted_proxies="10.0.0.0/8"
    )
    app = create_app(limited, loader=loader)
    wrong = {"X-API-Key": "guessed-key-000000"}

    def via(client: TestClient, forwarded: str, key: dict[str, str]) -> int:
        return client.get("/queue", headers={**key, "X-Forwarded-For": forwarded}).status_code

    with TestClient(app, client=("10.1.2.3", 443)) as proxy:
        assert [via(proxy, "192.0.2.1, 10.9.9.9", wrong) for _ in range(3)] == [401, 401, 429]
        # another client behind the same proxy is not blocked
        assert via(proxy, "192.0.2.2", headers("sdr")) == 200
        # the client cannot choose its address by prepending a forged one
        assert via(proxy, "192.0.2.2, 192.0.2.1", headers("sdr")) == 429
        # an untrusted peer rotating X-Forwarded-For stays one address
        direct = TestClient(app, client=ATTACKER)
        answers = [via(direct, f"192.0.2.{100 + i}", wrong) for i in range(3)]
        assert answers == [401, 401, 429]


def test_client_address_takes_the_last_untrusted_hop() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert client_address("203.0.113.7", "192.0.2.1", trusted) == "203.0.113.7"
    assert client_address("10.0.0.1", None, trusted) == "10.0.0.1"
    assert client_address("10.0.0.1", "192.0.2.1", trusted) == "192.0.2.1"
    assert client_address("10.0.0.1", "6.6.6.6, 192.0.2.1, 10.0.0.2", trusted) == "192.0.2.1"
    assert client_address("::1", "10.0.0.3, 10.0.0.2", trusted) == "10.0.0.3"
    assert client_address("10.0.0.1", "not-an-ip", trusted) == "10.0.0.1"
    assert client_address(None, None, trusted) == "unknown"


def test_one_key_over_its_intake_limit_gets_429_and_nothing_is_stored(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    app = create_app(limited_settings(settings, intake_limit="3/minute"), loader=loader)
    with TestClient(app) as client:
        for _ in range(3):
            assert (
                client.post("/leads", json=make_lead(), headers=headers("sdr")).status_code == 201
            )
        refused_lead = make_lead()
        refused = client.post("/leads", json=refused_lead, headers=headers("sdr"))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "intake limit" in refused.json()["detail"]
        path = f"/leads/by-external/{refused_lead['external_id']}"
        assert client.get(path, headers=headers("sdr")).status_code == 404
        # other keys have their own count; reading is not limited
        assert client.post("/leads", json=make_lead(), headers=headers("admin")).status_code == 201
        assert client.get("/queue", headers=headers("sdr")).status_code == 200


def test_the_default_intake_limit_lets_a_crm_post_50_leads_a_second(tmp_path: Path) -> None:
    defaults = ServingSettings(data_dir=tmp_path)
    limits = RateLimits.from_settings(defaults)
    # a whole minute at 50 leads/s, offered at once (a harder burst than a steady 50/s)
    refused = [wait for _ in range(50 * 60) if (wait := limits.intake("crm")) is not None]
    assert refused == []


def test_rate_limit_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="expected a rate limit such as"):
        ServingSettings(data_dir=tmp_path, auth_failure_limit="twenty a minute")
    with pytest.raises(ValidationError, match="expected IP addresses or networks"):
        ServingSettings(data_dir=tmp_path, trusted_proxies="10.0.0.0/8,proxy.local")
    unusable = ServingSettings(data_dir=tmp_path, rate_limit_storage="nosuch://x")
    with pytest.raises(RateLimitConfigError, match="LEADSCORE_RATE_LIMIT_STORAGE nosuch://x"):
        RateLimits.from_settings(unusable)
    off = RateLimits.from_settings(
        ServingSettings(data_dir=tmp_path, intake_limit="off", auth_failure_limit="off")
    )
    assert all(off.intake("crm") is None for _ in range(100))
    for _ in range(100):
        off.auth_failed("203.0.113.7")
    assert off.auth_blocked("203.0.113.7") is None


# --- /ready without a key ------------------------------------------------------------------


def test_ready_without_a_key_tells_status_and_a_short_reason_only(client: TestClient) -> None:
    public = client.get("/ready")
    assert public.status_code == 503
    assert public.json() == {"status": "degraded", "reason": "scoring with the fallback rule"}
    assert "leadscore-" not in public.text
    for role in ("sdr", "sales", "marketing", "admin"):
        detailed = client.get("/ready", headers=headers(role))
        assert detailed.status_code == 503
        body = detailed.json()
        assert body["store"] == "ok"
        assert "leadscore-arrival-sql" in body["reason"]
        assert "models" in body
    assert client.get("/ready", headers={"X-API-Key": "guessed-key-000000"}).status_code == 401


class IdleModel:
    """A champion that is only looked at, never asked to score."""

    stage = "arrival"
    target = "sql"


def test_ready_with_a_key_names_the_models_in_service(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    loader.publish("leadscore-arrival-sql", "7", IdleModel())
    with TestClient(create_app(settings, loader=loader)) as client:
        public = client.get("/ready")
        assert set(public.json()) == {"status", "reason"}
        assert "leadscore-" not in public.text
        detailed = client.get("/ready", headers=headers("marketing")).json()
        assert detailed["models"]["leadscore-arrival-sql"] == "7"
        assert detailed["models"]["leadscore-qualified-sql"] is None


def test_health_stays_public(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


# --- raw keys are not kept -----------------------------------------------------------------


def reachable_strings(root: object, limit: int = 400_000) -> Iterator[str]:
    """Every str reachable from ``root`` through object references, not entering modules,
    classes or functions (their globals are the program's, not the app's)."""
    seen: set[int] = set()
    todo = [root]
    skip = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield obj
        elif not isinstance(obj, skip):
            todo.extend(gc.get_referents(obj))


def test_the_app_keeps_no_raw_api_key(client: TestClient, settings: ServingSettings) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.settings.api_keys is None
    assert services.settings.database_url == settings.database_url
    raw = list(ROLE_KEYS.values())
    dumped = services.settings.model_dump_json() + repr(services.settings)
    assert not any(key in dumped for key in raw)
    strings = list(reachable_strings(client.app))
    assert any(settings.store_url in text for text in strings)  # the walk reaches settings
    assert [text for text in strings if any(key in text for key in raw)] == []
    assert client.get("/queue", headers=headers("sdr")).status_code == 200
    # the settings given to create_app are the caller's and stay as they were
    assert settings.api_keys is not None


def test_demo_keys_work_and_are_not_kept_either(tmp_path: Path) -> None:
    demo = ServingSettings(data_dir=tmp_path, api_keys=None, demo=True)
    with TestClient(create_app(demo, loader=MemoryLoader())) as client:
        for key, role, _name in DEMO_KEYS:
            answer = client.get("/leads/1", headers={"X-API-Key": key})
            assert answer.status_code == 404, role
        assert client.app.state.services.settings.api_keys is None  # type: ignore[attr-defined]
        leaked = [
            text
            for text in reachable_strings(client.app)
            if any(key in text for key, _role, _name in DEMO_KEYS)
        ]
        assert leaked == []
