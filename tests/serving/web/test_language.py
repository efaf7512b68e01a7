"""The pages in English and Russian on the real app (TestClient, real store): the language
switch sets the ``lang`` cookie and the next page is Russian, Accept-Language alone does the
same, English stays the default; and the serving catalogs translate every message serving
asks for (the templates, the pages', the API's and the commands' Python, extracted with
Babel as serving/catalogs/babel.cfg says), in both languages, and hold nothing else."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from features.i18n import LOCALES
from features.questionnaire import load_catalog
from serving.api.texts import serving_words
from serving.web.words import LANG_COOKIE
from tests.serving.catalog_check import asked, serving_catalog, untranslated
from tests.serving.conftest import PostLead, headers
from tests.serving.web.conftest import form_token, sign_in


def _switch(client: TestClient, token: str, lang: str, back: str) -> str:
    """Press the switch's button for ``lang`` on page ``back``; where it redirects."""
    answer = client.post(
        "/language",
        data={"lang": lang, "next": back, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_the_switch_sets_the_cookie_and_the_next_page_is_russian(
    client: TestClient, post_lead: PostLead
) -> None:
    lead = post_lead(minutes_ago=40, channel="referral", company_name="Acme")
    token = sign_in(client, "sdr")
    english = client.get("/app/queue").text
    assert '<html lang="en">' in english
    assert '<th scope="col">Tier</th>' in english
    assert "Claim next" in english
    assert 'id="lang-ru"' in english
    assert 'name="next" value="/app/queue"' in english

    assert _switch(client, token, "ru", "/app/queue?tier=") == "/app/queue?tier="
    assert client.cookies.get(LANG_COOKIE) == "ru"
    page = client.get("/app/queue")
    assert page.headers["content-language"] == "ru"
    assert '<html lang="ru">' in page.text
    assert ">Очередь</a>" in page.text  # the nav
    assert '<th scope="col">Тир</th>' in page.text  # a table header
    assert '<th scope="col">Почему</th>' in page.text
    assert ">Взять следующий</button>" in page.text  # a button
    assert ">Выйти</button>" in page.text
    assert "просрочен на 10 мин" in page.text  # the SLA pill, 40 min after a 30 min SLA
    assert 'data-sla-overdue="просрочен на {span}"' in page.text  # for app.js's countdown
    assert "Claim next" not in page.text
    assert "Sign out" not in page.text

    lead_page = client.get(f"/app/leads/{lead['id']}").text
    assert ">Сохранить и пересчитать</button>" in lead_page
    assert "Бюджет в месяц" in lead_page  # a qualification field
    assert 'id="lead-status-label">Новая</span>' in lead_page  # the funnel's own label
    assert "Здравствуйте, sdr-0" in client.get("/app").text

    _switch(client, token, "en", "/app/queue")
    assert "Claim next" in client.get("/app/queue").text


def test_accept_language_alone_gives_russian_and_english_stays_the_default(
    client: TestClient, post_lead: PostLead
) -> None:
    post_lead()
    sign_in(client, "sales")
    russian = client.get("/app/sales", headers={"Accept-Language": "de-DE,ru;q=0.8,en;q=0.5"})
    assert '<html lang="ru">' in russian.text
    assert ">Продажи</a>" in russian.text
    assert '<option value="closed">закрытые (любой исход)</option>' in russian.text
    assert ">Применить</button>" in russian.text
    english = client.get("/app/sales")
    assert '<html lang="en">' in english.text
    assert ">Apply</button>" in english.text
    refused = client.get("/app/admin", headers={"Accept-Language": "ru"})
    assert refused.status_code == 403
    assert "Недоступно для вашей роли" in refused.text  # an error page, translated
    assert "Вы вошли с ролью sales" in refused.text
    chosen = client.cookies.get(LANG_COOKIE)
    assert chosen is None  # nothing chosen: the header decides, nothing is stored


def test_the_switch_on_the_sign_in_page_and_its_refusals(client: TestClient) -> None:
    page = client.get("/signin")
    token = form_token(page.text)
    assert _switch(client, token, "ru", "/signin") == "/signin"
    again = client.get("/signin")
    assert "<h1>Вход</h1>" in again.text
    assert "API-ключ" in again.text
    wrong = client.post("/signin", data={"api_key": "nope", "csrf_token": form_token(again.text)})
    assert wrong.status_code == 401
    assert "Неизвестный API-ключ." in wrong.text

    session_token = sign_in(client, "sdr")
    forged = client.post("/language", data={"lang": "en", "next": "/", "csrf_token": "x"})
    assert forged.status_code == 403
    assert client.cookies.get(LANG_COOKIE) == "ru"  # unchanged
    unknown = client.post(
        "/language", data={"lang": "de", "next": "/", "csrf_token": session_token}
    )
    assert unknown.status_code == 422
    assert "lang: ожидалось одно из значений en, ru." in unknown.text
    assert _switch(client, session_token, "en", "//evil.example/") == "/"  # never off-site


def _asked() -> dict[str, str]:
    """Every message id serving asks for, with where it is asked: the templates, serving's
    Python (the pages', the API's and the commands', as babel.cfg extracts them) and the
    shipped questionnaire's question texts."""
    found = asked()
    questions = load_catalog()
    for service in sorted(questions.services):
        for question in questions.questions_for(service).values():
            found.setdefault(question.text, "features/specs/questionnaires.yaml")
    return found


def test_the_extraction_finds_the_pages_and_the_commands_words() -> None:
    found = _asked()
    assert len(found) > 300
    for msgid in ("Claim next", "Not for your role", "{span} left", "Questions for {service}"):
        assert msgid in found
    assert found["Claim next"].startswith("serving/web/templates")
    assert found["unknown API key"].startswith("serving/api/")
    # a command's message, asked for by say(...) alone
    assert found["backup failed: {reason}"].startswith("serving/cli/backup.py")


@pytest.mark.parametrize("locale", LOCALES)
def test_the_serving_catalog_translates_every_message_serving_asks_for(locale: str) -> None:
    missing, wrong = untranslated(locale, _asked())
    assert missing == [], f"serving.{locale}.po misses {len(missing)}: {missing}"
    assert wrong == [], f"serving.{locale}.po changes the placeholders of: {wrong}"


def test_the_serving_catalogs_hold_only_what_serving_asks_for() -> None:
    wanted = set(_asked())
    for locale in LOCALES:
        held = {str(m.id) for m in serving_catalog(locale) if m.id}
        assert held - wanted == set(), locale


def test_the_russian_catalog_is_russian() -> None:
    """A copied English msgstr would pass the completeness test: most Russian texts must
    contain Cyrillic, and the English catalog must say its ids as they are."""
    russian = [str(m.string) for m in serving_catalog("ru") if m.id]
    cyrillic = [text for text in russian if re.search("[а-яё]", text, re.IGNORECASE)]
    assert len(cyrillic) > 0.95 * len(russian)
    assert all(m.string == m.id for m in serving_catalog("en") if m.id)
    assert serving_words("ru").gettext("Claim next") == "Взять следующий"
    assert serving_words(None).gettext("Claim next") == "Claim next"


def test_a_lead_is_listed_in_the_apis_status_words(client: TestClient, post_lead: PostLead) -> None:
    """The API's own labels (Accept-Language) and the page's agree on a status."""
    lead = post_lead()
    sign_in(client, "sdr")
    api = client.get(f"/leads/{lead['id']}", headers={**headers(), "Accept-Language": "ru"})
    page = client.get(f"/app/leads/{lead['id']}", headers={"Accept-Language": "ru"})
    assert f'id="lead-status-label">{api.json()["status_label"]}</span>' in page.text
