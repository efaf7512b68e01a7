"""The outlook on the pages, with a real fitted outlook in service (tests/serving/web/
outlook_data.py: referrals reach SQL within a day), on the real app and store through a
TestClient: the lead page's chances, badge and money in the display currency, nothing
without an outlook; the queue's "within 7 days" badge, its order switch and the expected
value column."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from features.i18n import Phrasebook
from serving.app import create_app
from serving.modelset import MemoryLoader
from tests.serving.conftest import PostLead, headers, make_lead, serving_settings
from tests.serving.web.conftest import form_token, sign_in
from tests.serving.web.outlook_data import FAST_CHANNEL, FAST_SOURCE, fast_referrals_outlook
from training.outlook import EXPECTED_VALUE_HORIZON
from training.registry import outlook_name

_ROW = re.compile(r'<tr data-lead-id="(\d+)">')
_CHANCE = re.compile(r'<td data-chance="([0-9.]+)"><meter min="0" max="1" value="([0-9.]+)">')


def _app(root: Path, database_url: str, **settings: Any) -> TestClient:
    loader = MemoryLoader()
    loader.publish(outlook_name("arrival"), "2", fast_referrals_outlook())
    served = serving_settings(root, database_url=database_url).model_copy(update=settings)
    return TestClient(create_app(served, loader=loader))


@pytest.fixture
def with_outlook(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with _app(tmp_path, database_url) as client:
        yield client


def _post(client: TestClient, channel: str, minutes_ago: float = 1.0) -> dict[str, Any]:
    source = FAST_SOURCE if channel == FAST_CHANNEL else {"channel": channel}
    body = make_lead(minutes_ago=minutes_ago, company_name=f"Co {channel}", **source)
    answer = client.post("/leads", json=body, headers=headers())
    assert answer.status_code == 201, answer.text
    assert answer.json()["outlook"] is not None
    found: dict[str, Any] = answer.json()
    return found


def _row(html: str, lead_id: int) -> str:
    """The queue table's row of ``lead_id``."""
    found = re.search(rf'<tr data-lead-id="{lead_id}">(.*?)</tr>', html, re.S)
    assert found, f"no row for lead {lead_id}"
    return found.group(1)


def test_the_lead_page_shows_the_chances_the_badge_and_the_money(
    with_outlook: TestClient,
) -> None:
    fast, slow = _post(with_outlook, FAST_CHANNEL), _post(with_outlook, "display")
    assert fast["outlook"]["likely_within_7d"]
    assert not slow["outlook"]["likely_within_7d"]
    sign_in(with_outlook, "sdr")
    for lead in (fast, slow):
        outlook = lead["outlook"]
        page = with_outlook.get(f"/app/leads/{lead['id']}").text
        assert 'id="outlook"' in page
        order = ["sql_7d", "sql_30d", "sql_90d", "won_90d", "won_180d"]
        shown = [float(chance) for chance, meter in _CHANCE.findall(page) if chance == meter]
        assert shown == pytest.approx([outlook["within"][key] for key in order], abs=1e-4)
        for heading in ("7 d", "30 d", "90 d", "180 d"):
            assert f'<th scope="col">{heading}</th>' in page
        assert f"{outlook['within']['sql_7d']:.0%}" in page
        assert ('id="likely-soon"' in page) is outlook["likely_within_7d"]
        book = Phrasebook("en")
        for field in ("value_if_won", "value_low", "value_high", "expected_value"):
            assert book.money(outlook[field], "RUB") in page, field
        assert f"within {EXPECTED_VALUE_HORIZON} days" in page
    assert "likely to convert within 7 days" in with_outlook.get(f"/app/leads/{fast['id']}").text

    russian = with_outlook.get(f"/app/leads/{fast['id']}", headers={"Accept-Language": "ru"})
    assert "вероятно, сконвертируется за 7 дней" in russian.text
    assert '<th scope="col">7 дн.</th>' in russian.text
    ev = Phrasebook("ru").money(fast["outlook"]["expected_value"], "RUB")
    assert re.search(r"\d\s(тыс\.|млн)\s₽", ev), ev  # compact, as Russian writes money
    assert ev in russian.text


def test_money_is_shown_in_the_display_currency_with_its_rates(
    database_url: str, tmp_path: Path
) -> None:
    with _app(tmp_path, database_url, display_currency="USD") as client:
        lead = _post(client, FAST_CHANNEL)
        sign_in(client, "sdr")
        page = client.get(f"/app/leads/{lead['id']}").text
    found = re.search(r'id="expected-value"><strong>≈ \$([\d,]+)</strong>', page)
    assert found, "the expected value in dollars, marked as converted"
    rubles = lead["outlook"]["expected_value"]
    dollars = float(found.group(1).replace(",", ""))
    assert 20 < rubles / dollars < 500  # converted with a plausible RUB/USD rate
    assert "converted from RUB" in page


def test_a_lead_without_an_outlook_shows_none(client: TestClient, post_lead: PostLead) -> None:
    lead = post_lead(**FAST_SOURCE)
    assert lead["outlook"] is None
    sign_in(client, "sdr")
    page = client.get(f"/app/leads/{lead['id']}").text
    assert 'id="outlook"' not in page
    assert "soon-badge" not in page
    queue = client.get("/app/queue?order=expected_value").text
    assert "—" in _row(queue, lead["id"])  # no expected value to show


def test_the_queue_badges_likely_leads_and_switches_its_order(with_outlook: TestClient) -> None:
    posted = [
        (channel, _post(with_outlook, channel, minutes_ago))
        for channel, minutes_ago in [
            (FAST_CHANNEL, 2),
            ("display", 25),
            ("social", 10),
            ("paid_search", 5),
            (FAST_CHANNEL, 15),
        ]
    ]
    sign_in(with_outlook, "sdr")
    page = with_outlook.get("/app/queue").text
    for channel, lead in posted:
        badge = "within 7 days</span>" in _row(page, lead["id"])
        assert badge is lead["outlook"]["likely_within_7d"] is (channel == FAST_CHANNEL)
    assert 'id="order-probability" aria-current="true"' in page
    assert 'href="/app/queue?order=expected_value" id="order-expected_value"' in page
    assert "Expected value</th>" not in page

    by_value = with_outlook.get("/app/queue?order=expected_value&channel=").text
    api = with_outlook.get("/queue?order=expected_value", headers=headers()).json()["items"]
    assert [int(i) for i in _ROW.findall(by_value)] == [item["lead_id"] for item in api]
    assert '<th scope="col">Expected value</th>' in by_value
    for item in api:
        money = Phrasebook("en").money(item["outlook"]["expected_value"], "RUB")
        assert f'class="ev">{money}</td>' in _row(by_value, item["lead_id"])
    assert 'id="order-expected_value" aria-current="true"' in by_value
    assert 'hx-get="/app/queue/list?order=expected_value"' in by_value  # the refresh keeps it
    assert '<input type="hidden" name="order" value="expected_value">' in by_value
    listed = with_outlook.get("/app/queue/list?order=expected_value&tier=").text
    assert [int(i) for i in _ROW.findall(listed)] == [item["lead_id"] for item in api]
    probability = with_outlook.get("/queue", headers=headers()).json()["items"]
    by_probability = with_outlook.get("/app/queue?order=probability").text
    assert [int(i) for i in _ROW.findall(by_probability)] == [i["lead_id"] for i in probability]

    russian = with_outlook.get("/app/queue", headers={"Accept-Language": "ru"}).text
    assert "за 7 дней</span>" in russian
    assert ">по ожидаемой ценности</a>" in russian
    bad = with_outlook.get("/app/queue?order=value")
    assert bad.status_code == 422
    assert "order: expected one of probability, expected_value." in bad.text


def test_the_setting_chooses_the_pages_default_order(database_url: str, tmp_path: Path) -> None:
    with _app(tmp_path, database_url, queue_order="expected_value") as client:
        for channel in (FAST_CHANNEL, "display", "social"):
            _post(client, channel)
        sign_in(client, "sdr")
        page = client.get("/app/queue").text
        api = client.get("/queue", headers=headers()).json()["items"]
    assert 'id="order-expected_value" aria-current="true"' in page
    assert '<th scope="col">Expected value</th>' in page
    assert [int(i) for i in _ROW.findall(page)] == [item["lead_id"] for item in api]
    assert 'href="/app/queue?order=probability" id="order-probability"' in page


def test_claim_next_takes_the_top_of_the_order_the_page_shows(with_outlook: TestClient) -> None:
    for channel in (FAST_CHANNEL, "display", "social", "paid_search", "partner"):
        _post(with_outlook, channel)
    sign_in(with_outlook, "sdr")
    by_value = with_outlook.get("/queue?order=expected_value", headers=headers()).json()
    by_probability = with_outlook.get("/queue?order=probability", headers=headers()).json()
    top_value = by_value["items"][0]["lead_id"]
    assert top_value != by_probability["items"][0]["lead_id"], "the orders' tops must differ"
    page = with_outlook.get("/app/queue?order=expected_value").text
    claimed = with_outlook.post(
        "/app/queue/claim-next",
        data={"csrf_token": form_token(page), "order": "expected_value"},
        follow_redirects=False,
    )
    assert claimed.status_code == 303
    assert claimed.headers["location"] == f"/app/leads/{top_value}"
    bad = with_outlook.post(
        "/app/queue/claim-next", data={"csrf_token": form_token(page), "order": "value"}
    )
    assert bad.status_code == 422
    assert "order: expected one of probability, expected_value." in bad.text
    lead = with_outlook.get(f"/leads/{top_value}", headers=headers("marketing")).json()
    assert [claim["sdr"] for claim in lead["claims"]] == ["sdr-0"]
