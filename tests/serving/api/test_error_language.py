"""Error answers in the caller's language on the real app (TestClient, real store): the same
bad request with ``Accept-Language: ru`` and ``en`` gives Russian and English texts, and
the machine values (status, ``field``, ``location``, ``type``, statuses) are the same."""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from serving.api.texts import PYDANTIC, TEMPLATES, serving_words, text_type, translate
from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import MemoryLoader, PostLead, headers, make_lead
from tests.serving.connectors.conftest import FORM_SECRET

Ask = Callable[[str], Response]

RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
EN = {"Accept-Language": "en"}


def _machine(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(e["field"], e["location"], e["type"]) for e in body.get("errors", [])]


def _both(ask: Callable[[dict[str, str]], Response], status: int) -> tuple[dict, dict]:
    """The answers to the same request in Russian and English, checked to agree on all
    but the texts."""
    russian, english = ask(RU), ask(EN)
    assert russian.status_code == english.status_code == status, (russian.text, english.text)
    ru, en = russian.json(), english.json()
    assert _machine(ru) == _machine(en)
    assert [e["input"] for e in ru.get("errors", [])] == [e["input"] for e in en.get("errors", [])]
    assert ru["detail"] != en["detail"]
    return ru, en


def test_a_missing_field(client: TestClient) -> None:
    lead = make_lead()
    del lead["source"]

    def ask(language: dict[str, str]) -> Response:
        return client.post("/leads", json=lead, headers={**headers(), **language})

    ru, en = _both(ask, 422)
    assert _machine(ru) == [("source", "body", "missing")]
    assert ru["errors"][0]["message"] == "Обязательное поле"
    assert ru["detail"] == "некорректный запрос: body.source: Обязательное поле"
    assert en["errors"][0]["message"] == "Field required"
    assert en["detail"] == "invalid request: body.source: Field required"


def test_a_number_out_of_range_and_a_bad_query_parameter(client: TestClient) -> None:
    def ask(language: dict[str, str]) -> Response:
        return client.get("/leads?limit=0&tier=Z", headers={**headers(), **language})

    ru, en = _both(ask, 422)
    assert sorted(_machine(ru)) == [
        ("limit", "query", "greater_than_equal"),
        ("tier", "query", "literal_error"),
    ]
    messages = {e["field"]: e["message"] for e in ru["errors"]}
    assert messages["limit"] == "Значение должно быть не меньше 1"
    assert messages["tier"] == "Ожидалось одно из значений: 'A', 'B', 'C' или 'D'"
    english = {e["field"]: e["message"] for e in en["errors"]}
    assert english["limit"] == "Input should be greater than or equal to 1"
    assert english["tier"] == "Input should be 'A', 'B', 'C' or 'D'"


def test_a_move_the_funnel_refuses_is_409_with_the_same_statuses(
    client: TestClient, post_lead: PostLead
) -> None:
    lead_id = post_lead()["id"]
    moved = client.post(
        f"/leads/{lead_id}/status", json={"status": "discussing"}, headers=headers("sales")
    )
    assert moved.status_code == 200

    def ask(language: dict[str, str]) -> Response:
        return client.post(
            f"/leads/{lead_id}/status", json={"status": "new"}, headers={**headers(), **language}
        )

    ru, en = _both(ask, 409)
    assert (ru["current"], ru["allowed"]) == (en["current"], en["allowed"])
    assert ru["current"] == "discussing"
    assert ru["detail"].startswith(
        "нельзя перевести лид из статуса «discussing» в «new»; допустимо:"
    )
    assert en["detail"].startswith("cannot move a lead from 'discussing' to 'new'; allowed:")


def test_the_services_own_check_has_a_type_and_both_texts(
    client: TestClient, post_lead: PostLead
) -> None:
    lead_id = post_lead()["id"]

    def ask(language: dict[str, str]) -> Response:
        return client.post(
            f"/leads/{lead_id}/status", json={"status": "won"}, headers={**headers(), **language}
        )

    ru, en = _both(ask, 422)
    assert _machine(ru) == [("deal_value", "body", "missing")]
    assert ru["errors"][0]["message"] == (
        "для выигранного лида нужно поле deal_value: {amount, currency}"
    )
    assert en["errors"][0]["message"] == "a won lead needs deal_value: {amount, currency}"


def test_an_unknown_lead_is_404(client: TestClient) -> None:
    def ask(language: dict[str, str]) -> Response:
        return client.get("/leads/987654", headers={**headers(), **language})

    ru, en = _both(ask, 404)
    assert ru["detail"] == "лид 987654 не найден"
    assert en["detail"] == "no lead 987654"


def test_a_bad_api_key_is_401(client: TestClient) -> None:
    def ask(language: dict[str, str]) -> Response:
        return client.get("/leads", headers={"X-API-Key": "not-a-key", **language})

    ru, en = _both(ask, 401)
    assert ru["detail"] == "неизвестный API-ключ"
    assert en["detail"] == "unknown API key"

    def bare(language: dict[str, str]) -> Response:
        return client.get("/leads", headers=language)

    ru, en = _both(bare, 401)
    assert ru["detail"].startswith("нет API-ключа: передайте его в заголовке X-API-Key")
    assert en["detail"].startswith("missing API key: send it in the X-API-Key header")


def test_broken_json_names_the_syntax_error_in_russian(client: TestClient) -> None:
    def ask(language: dict[str, str]) -> Response:
        return client.post(
            "/leads",
            content=b'{"external_id": ',
            headers={**headers(), "Content-Type": "application/json", **language},
        )

    ru, en = _both(ask, 422)
    assert _machine(ru) == [("(whole body)", "body", "json_invalid")]
    assert ru["errors"][0]["message"] == (
        "тело запроса — некорректный JSON (ожидалось значение, символ 16)"
    )
    assert en["errors"][0]["message"] == (
        "the body is not valid JSON (Expecting value at character 16)"
    )


def _upload(client: TestClient, data: bytes, language: dict[str, str]) -> Response:
    files = {"file": ("leads.csv", data, "text/csv")}
    return client.post("/score/csv", files=files, headers={**headers(), **language})


def test_the_csv_readers_and_the_record_schemas_texts(client: TestClient) -> None:
    broken = b"external_id,channel\nA,web,extra\n"
    ru, en = _both(lambda language: _upload(client, broken, language), 422)
    assert _machine(ru) == [("file", "body", "csv_unreadable")]
    assert ru["errors"][0]["message"] == "в строке 2 больше значений, чем колонок в заголовке"
    assert ru["detail"] == (
        "не удалось прочитать загруженный CSV-файл: "
        "в строке 2 больше значений, чем колонок в заголовке"
    )
    assert en["errors"][0]["message"] == "line 2 has more values than the header has columns"

    repeated = b"channel,channel\nweb,web\n"
    ru, en = _both(lambda language: _upload(client, repeated, language), 422)
    assert _machine(ru) == [("file", "body", "duplicate_column")]
    assert ru["errors"][0]["message"] == "в заголовке повторяются колонки: channel"
    assert en["errors"][0]["message"] == "the header repeats column(s): channel"

    bad_values = b"channel,budget_amount,is_decision_maker,arrived_at\nweb,lots,maybe,soon\n"
    ru, en = _both(lambda language: _upload(client, bad_values, language), 422)
    assert _machine(ru) == [
        ("rows[0].budget_amount", "body", "number"),
        ("rows[0].is_decision_maker", "body", "boolean"),
        ("rows[0].arrived_at", "body", "timestamp"),
    ]
    assert [e["message"] for e in ru["errors"]] == [
        "ожидалось число",
        "ожидалось да/нет (также true/false, yes/no, 1/0)",
        "ожидалось время в формате ISO 8601, например 2026-03-01T10:15:00Z",
    ]
    assert ru["detail"].startswith("некорректный запрос: body.rows[0].budget_amount: ожидалось")
    assert [e["message"] for e in en["errors"]] == [
        "expected a number",
        "expected true/false (also yes/no, 1/0, да/нет)",
        "expected an ISO 8601 timestamp, e.g. 2026-03-01T10:15:00Z",
    ]


def test_the_channel_reports_period_and_no_leads(client: TestClient) -> None:
    def report(period: str) -> Callable[[dict[str, str]], Response]:
        def ask(language: dict[str, str]) -> Response:
            return client.get(
                "/reports/channels",
                params={"period": period},
                headers={**headers("marketing"), **language},
            )

        return ask

    ru, en = _both(report("10/2026"), 422)
    assert _machine(ru) == [("period", "query", "bad_period")]
    assert ru["errors"][0]["message"].startswith(
        "период «10/2026»: ожидался месяц ГГГГ-ММ или диапазон"
    )
    assert en["errors"][0]["message"] == (
        "period '10/2026': expected a month YYYY-MM or a range YYYY-MM..YYYY-MM"
    )

    ru, en = _both(report("2026-10..2026-09"), 422)
    assert ru["errors"][0]["message"] == "период «2026-10..2026-09»: последний месяц раньше первого"

    ru, en = _both(report("2030-01"), 404)  # the store holds no lead at all
    assert "не поступило ни одного лида" in ru["detail"]
    assert en["detail"].startswith("no leads arrived in the period")


def test_the_crm_webhooks_refusal_and_bad_payload(crm_client: TestClient) -> None:
    def unsigned(language: dict[str, str]) -> Response:
        return crm_client.post("/webhooks/generic/website", json={}, headers=language)

    ru, en = _both(unsigned, 401)
    assert ru["detail"] == "вебхук отклонён: нет заголовка X-Webhook-Secret"
    assert en["detail"] == "webhook refused: no X-Webhook-Secret header"

    def not_an_object(language: dict[str, str]) -> Response:
        signed = {"X-Webhook-Secret": FORM_SECRET, **language}
        return crm_client.post("/webhooks/generic/website", json=[1], headers=signed)

    ru, en = _both(not_an_object, 422)
    assert _machine(ru) == [("(whole body)", "body", "bad_payload")]
    assert ru["errors"][0]["message"] == "ожидался JSON-объект"
    assert en["errors"][0]["message"] == "expected a JSON object"


@pytest.fixture
def russian_installation(settings: ServingSettings, loader: MemoryLoader) -> Iterator[TestClient]:
    installed = settings.model_copy(update={"locale": "ru"})
    with TestClient(create_app(installed, loader=loader)) as test_client:
        yield test_client


def test_without_accept_language_the_installations_locale_decides(
    russian_installation: TestClient,
) -> None:
    plain = russian_installation.get("/leads/987654", headers=headers())
    assert plain.json()["detail"] == "лид 987654 не найден"
    asked = russian_installation.get("/leads/987654", headers={**headers(), **EN})
    assert asked.json()["detail"] == "no lead 987654"


def _names(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize(("template", "kind"), TEMPLATES)
def test_every_template_comes_back_in_russian_with_its_values(template: str, kind: str) -> None:
    values = {name: f"<{name}>" for name in _names(template)}
    english = template.format(**values)
    assert text_type(english) == kind
    assert translate(english, "en") == english
    russian = translate(english, "ru")
    assert russian == serving_words("ru").gettext(template).format(**values)
    assert russian != english
    assert all(value in russian for value in values.values())


def test_pydantic_types_keep_their_placeholders_in_russian() -> None:
    for template in set(PYDANTIC.values()):
        assert _names(serving_words("ru").gettext(template)) == _names(template), template
