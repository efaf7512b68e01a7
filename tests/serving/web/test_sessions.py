"""Sessions of the pages on the real app and store: cookie flags, CSRF, expiry, keys that
go away, the 403 page; the JSON API still takes X-API-Key."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.web.sessions import SECRET_FILE, SESSION_COOKIE
from tests.serving.conftest import API_KEYS, ROLE_KEYS, headers, make_lead
from tests.serving.web.conftest import form_token, sign_in


def _session_cookie_header(client: TestClient, role: str = "sdr") -> str:
    page = client.get("/signin")
    answer = client.post(
        "/signin",
        data={"api_key": ROLE_KEYS[role], "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))


def test_session_cookie_is_signed_httponly_lax_and_expires(client: TestClient) -> None:
    cookie = _session_cookie_header(client).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "max-age=36000" in cookie  # LEADSCORE_SESSION_MINUTES, 600 by default
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    assert ROLE_KEYS["sdr"] not in cookie


def test_session_cookie_is_secure_over_https(settings: ServingSettings) -> None:
    app = create_app(settings, loader=MemoryLoader())
    with TestClient(app, base_url="https://testserver") as client:
        assert "; secure" in _session_cookie_header(client).lower()


def test_root_goes_to_sign_in_then_to_the_roles_home(client: TestClient) -> None:
    first = client.get("/", follow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (303, "/signin")
    token = sign_in(client, "sdr")
    assert client.get("/", follow_redirects=False).headers["location"] == "/app/queue"
    client.post("/signout", data={"csrf_token": token})
    sign_in(client, "admin")
    assert client.get("/", follow_redirects=False).headers["location"] == "/app/admin"


def test_sign_in_refuses_an_unknown_key_and_a_missing_form_token(client: TestClient) -> None:
    page = client.get("/signin")
    wrong = client.post(
        "/signin", data={"api_key": "not-a-key-at-all", "csrf_token": form_token(page.text)}
    )
    assert wrong.status_code == 401
    assert "Unknown API key." in wrong.text
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    no_token = client.post("/signin", data={"api_key": ROLE_KEYS["sdr"]})
    assert no_token.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_sign_in_goes_back_only_to_a_path_of_this_site(client: TestClient) -> None:
    page = client.get("/signin?next=//evil.example/steal")
    answer = client.post(
        "/signin",
        data={
            "api_key": ROLE_KEYS["sdr"],
            "csrf_token": form_token(page.text),
            "next": "//evil.example/steal",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/app/queue"


def test_a_page_asks_to_sign_in_and_comes_back(client: TestClient) -> None:
    answer = client.get("/app/queue?tier=A", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/app/queue%3Ftier%3DA"
    fragment = client.get("/app/queue/list", headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"].startswith("/signin")


def test_every_post_without_the_session_token_is_refused(client: TestClient) -> None:
    token = sign_in(client, "sdr")
    lead = client.post("/leads", json=make_lead(), headers=headers()).json()
    posts = [
        ("/app/queue/claim-next", {}),
        (f"/app/queue/{lead['id']}/release", {}),
        (f"/app/leads/{lead['id']}/qualification", {"bant.need_fit": "strong"}),
        (f"/app/leads/{lead['id']}/status", {"status": "lost"}),
        ("/signout", {}),
    ]
    for path, data in posts:
        for presented in ({}, {"csrf_token": "forged-token"}):
            refused = client.post(path, data={**data, **presented})
            assert refused.status_code == 403, path
            assert "security token" in refused.text
            assert refused.headers["content-type"].startswith("text/html")
    detail = client.get(f"/leads/{lead['id']}", headers=headers()).json()
    assert detail["status"] == "new"
    assert detail["claimed_by"] is None
    assert detail["qualifications"] == []
    header_ok = client.post("/app/queue/claim-next", headers={"X-CSRF-Token": token})
    assert header_ok.status_code == 200  # followed to the claimed lead's page
    assert client.get(f"/leads/{lead['id']}", headers=headers()).json()["claimed_by"] == "sdr-0"


def test_sign_out_ends_the_session(client: TestClient) -> None:
    token = sign_in(client, "sdr")
    out = client.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/signin")
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/app/queue", follow_redirects=False).status_code == 303


def _secret(settings: ServingSettings) -> str:
    return (settings.data_dir / SECRET_FILE).read_text(encoding="utf-8").strip()


class _ElevenHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 11 * 3600


def test_an_expired_session_is_refused(client: TestClient, settings: ServingSettings) -> None:
    sign_in(client, "sdr")
    secret = _secret(settings)
    fresh = URLSafeTimedSerializer(secret, salt="leadscore-session")
    payload = fresh.loads(client.cookies[SESSION_COOKIE])
    old = URLSafeTimedSerializer(secret, salt="leadscore-session", signer=_ElevenHoursAgo)
    client.cookies.set(SESSION_COOKIE, old.dumps(payload))
    assert client.get("/app/queue", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, fresh.dumps(payload))
    assert client.get("/app/queue", follow_redirects=False).status_code == 200
    client.cookies.set(SESSION_COOKIE, fresh.dumps({**payload, "r": "admin"}))
    assert client.get("/app/queue", follow_redirects=False).status_code == 303


def test_removing_a_key_ends_its_sessions_and_the_secret_survives_a_restart(
    settings: ServingSettings,
) -> None:
    with TestClient(create_app(settings, loader=MemoryLoader())) as first:
        sign_in(first, "sdr")
        sign_in_cookie = first.cookies[SESSION_COOKIE]
    assert (settings.data_dir / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    with TestClient(create_app(settings, loader=MemoryLoader())) as same_keys:
        same_keys.cookies.set(SESSION_COOKIE, sign_in_cookie)
        assert same_keys.get("/app/queue", follow_redirects=False).status_code == 200
    without_sdr_0 = ",".join(entry for entry in API_KEYS.split(",") if not entry.endswith(":sdr-0"))
    fewer = settings.model_copy(update={"api_keys": without_sdr_0})
    with TestClient(create_app(fewer, loader=MemoryLoader())) as removed:
        removed.cookies.set(SESSION_COOKIE, sign_in_cookie)
        assert removed.get("/app/queue", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("role", "path"),
    [("sales", "/app/queue"), ("sales", "/app/queue/list")],
)
def test_a_page_the_role_may_not_use_is_a_403_page(
    client: TestClient, role: str, path: str
) -> None:
    sign_in(client, role)
    refused = client.get(path)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Not for your role" in refused.text
    assert "Traceback" not in refused.text
    home = client.get("/app")
    assert 'href="/app/queue"' not in home.text  # the link is not shown either


def test_marketing_sees_the_queue_without_claim_or_release(client: TestClient) -> None:
    client.post("/leads", json=make_lead(), headers=headers())
    client.post("/queue/claim", headers=headers("sdr"))
    sign_in(client, "marketing")
    page = client.get("/app/queue")
    assert page.status_code == 200
    assert "Claim next" not in page.text
    assert "Release" not in page.text
    token = form_token(page.text)  # the sign-out form's: the session is valid
    assert client.post("/app/queue/claim-next", data={"csrf_token": token}).status_code == 403


def test_the_json_api_still_takes_api_keys_and_ignores_sessions(client: TestClient) -> None:
    assert client.post("/leads", json=make_lead(), headers=headers()).status_code == 201
    assert client.get("/queue", headers=headers()).status_code == 200
    sign_in(client, "sdr")
    assert client.get("/queue").status_code == 401  # a session cookie is no API key
    assert (
        client.get("/queue", headers={"Authorization": f"Bearer {ROLE_KEYS['sdr']}"}).status_code
        == 200
    )
