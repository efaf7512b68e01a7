"""Signing in to the pages through a TestClient, as a browser would: the sign-in form's
token, the API key, the session cookie; the token of every later form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.serving.conftest import ROLE_KEYS

_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_PAGE_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def form_token(html: str) -> str:
    found = _FORM_TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def page_token(html: str) -> str:
    found = _PAGE_TOKEN.search(html)
    assert found, "the page carries no session token"
    return found.group(1)


def sign_in(client: TestClient, role: str = "sdr", key: str | None = None) -> str:
    """Sign ``client`` in with the role's key (or ``key``); the session's form token."""
    page = client.get("/signin")
    assert page.status_code == 200, page.text
    answer = client.post(
        "/signin",
        data={"api_key": key or ROLE_KEYS[role], "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    home = client.get(answer.headers["location"])
    assert home.status_code == 200, home.text
    return page_token(home.text)
