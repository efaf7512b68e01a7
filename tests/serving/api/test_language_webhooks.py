"""A CRM webhook whose body makes no valid lead: the 422 names the body's field and says
pydantic's complaint in the caller's language, by the error's type (the real CRM app of
tests/serving/connectors, the generic website form)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from serving.api.texts import pydantic_text, text_type, translate
from tests.serving.connectors.conftest import FORM_SECRET

RU = {"Accept-Language": "ru"}
EN = {"Accept-Language": "en"}


def _body(**contact: Any) -> dict[str, Any]:
    return {
        "submission": {"id": "s-1", "sent_at": "2026-03-02T10:00:00Z"},
        "utm": {"medium": "paid_search"},
        "contact": {"email": "anna@example.com", **contact},
    }


def _error(client: TestClient, body: dict[str, Any], language: dict[str, str]) -> dict[str, Any]:
    signed = {"X-Webhook-Secret": FORM_SECRET, **language}
    answer = client.post("/webhooks/generic/website", json=body, headers=signed)
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    return dict(error)


def test_a_wrong_type_is_said_in_russian_with_its_type(crm_client: TestClient) -> None:
    body = _body(name=12345)
    ru, en = _error(crm_client, body, RU), _error(crm_client, body, EN)
    assert ru["field"] == en["field"] == "contact.name"
    assert en["message"] == "Input should be a valid string"
    assert ru["message"] == "Ожидалась строка"
    assert ru["type"] == en["type"] == "string_type"


def test_a_limit_keeps_its_number_and_a_custom_check_its_words(crm_client: TestClient) -> None:
    long_phone = _body(phone="7" * 41)
    ru = _error(crm_client, long_phone, RU)
    assert ru["field"] == "contact.phone"
    assert "40" in ru["message"]
    assert "Input" not in ru["message"]
    assert ru["type"] == "string_too_long"

    bad_email = _error(crm_client, _body(email="not-an-address"), RU)
    assert bad_email["field"] == "contact.email"
    assert bad_email["message"] == translate(
        "expected an e-mail address like name@company.com", "ru"
    )
    assert "Value error" not in bad_email["message"]


def test_pydantic_text_uses_the_types_template_and_keeps_an_unknown_ones_text() -> None:
    known = {"type": "string_too_long", "msg": "String should have at most 5 characters",
             "ctx": {"max_length": 5}}  # fmt: skip
    assert pydantic_text(known) == "String should have at most 5 characters"
    assert text_type(pydantic_text(known)) == "string_too_long"
    unknown = {"type": "url_parsing", "msg": "Input should be a valid URL", "ctx": {}}
    assert pydantic_text(unknown) == "Input should be a valid URL"
    assert pydantic_text({"type": "value_error", "msg": "Value error, no good"}) == "no good"
