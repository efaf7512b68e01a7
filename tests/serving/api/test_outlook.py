"""The outlook in service: a real fitted outlook published in memory gives each new lead
its chances and expected value, the store keeps them, and the queue orders by expected
value when asked (the setting or ``order=``), leads without one last; on both stores.
The outlook is tests/serving/conftest.py's ``outlook``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import LIKELY_SOON
from tests.serving.conftest import headers, make_lead, sdr_headers, serving_settings, with_outlook
from training.outlook import Outlook
from training.registry import outlook_name


@pytest.fixture
def serving(database_url: str, tmp_path: Path, outlook: Outlook) -> Iterator[TestClient]:
    with with_outlook(tmp_path, database_url, outlook, version="3") as c:
        yield c


LEADS: list[dict[str, Any]] = [
    {"channel": "referral", "company_size": "1000+", "message": "срочно нужен тендер"},
    {"channel": "display", "message": None, "email": None},
    {"channel": "partner", "company_size": "51-200"},
    {"channel": "social", "company_size": "1-10", "message": None},
    {"channel": "paid_search", "company_size": "201-1000", "message": "price please"},
]


def _post(client: TestClient, number: int, **source: Any) -> dict[str, Any]:
    body = make_lead(external_id=f"ev-{number}", **source)
    answer = client.post("/leads", json=body, headers=headers())
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_new_lead_gets_its_outlook_and_the_store_keeps_it(serving: TestClient) -> None:
    answer = _post(serving, 1, **LEADS[0])
    outlook = answer["outlook"]
    assert isinstance(outlook, dict)
    assert set(outlook["within"]) == {"sql_7d", "sql_30d", "sql_90d", "won_90d", "won_180d"}
    assert (
        outlook["within"]["sql_7d"] <= outlook["within"]["sql_30d"] <= outlook["within"]["sql_90d"]
    )
    assert outlook["currency"] == "RUB"
    assert outlook["value_low"] <= outlook["value_high"]
    assert outlook["expected_value"] == pytest.approx(
        outlook["within"]["won_180d"] * outlook["value_if_won"]
    )
    assert outlook["likely_within_7d"] is (outlook["within"]["sql_7d"] >= LIKELY_SOON)
    assert outlook["model"] == {"name": "leadscore-arrival-outlook", "version": "3"}
    lead = serving.get(f"/leads/{answer['id']}", headers=headers("marketing")).json()
    assert lead["outlook"] == outlook
    [queue_score] = [s for s in lead["scores"] if s["target"] == "sql"]
    assert queue_score["outlook"] == outlook
    assert all(s["outlook"] is None for s in lead["scores"] if s["target"] != "sql")


def _ids(items: list[dict[str, Any]]) -> list[Any]:
    return [item["lead_id"] for item in items]


def test_the_queue_orders_by_expected_value_when_asked(serving: TestClient) -> None:
    for number, source in enumerate(LEADS):
        _post(serving, number, **source)
    by_probability = serving.get("/queue", headers=headers()).json()["items"]
    by_value = serving.get("/queue?order=expected_value", headers=headers()).json()["items"]
    assert sorted(_ids(by_value)) == sorted(_ids(by_probability))

    def brute_force(items: list[dict[str, Any]], key: str) -> list[Any]:
        ranked = sorted(
            items,
            key=lambda i: (-float(i[key]) * float(i["urgency"]), i["sla_deadline"], i["lead_id"]),
        )
        return _ids(ranked)

    for item in by_value:
        item["ev"] = item["outlook"]["expected_value"]
        assert item["priority"] == pytest.approx(item["ev"] * item["urgency"], rel=1e-5)
    assert _ids(by_value) == brute_force(by_value, "ev")
    for item in by_probability:
        assert item["priority"] == pytest.approx(item["probability"] * item["urgency"], rel=1e-5)
    assert _ids(by_value) != _ids(by_probability) or len(set(_ids(by_value))) < 2


def test_the_setting_chooses_the_default_order_and_leads_without_a_value_come_last(
    database_url: str, tmp_path: Path, outlook: Outlook
) -> None:
    loader = MemoryLoader()
    settings = serving_settings(tmp_path, database_url=database_url).model_copy(
        update={"queue_order": "expected_value"}
    )
    with TestClient(create_app(settings, loader=loader)) as client:
        without = _post(client, 0, **LEADS[0])  # no outlook in service yet
        assert without["outlook"] is None
        loader.publish(outlook_name("arrival"), "1", outlook)
        client.post("/admin/models/reload", headers=headers("admin"))
        valued = [_post(client, n, **source) for n, source in enumerate(LEADS[1:], start=1)]
        items = client.get("/queue", headers=headers()).json()["items"]
        assert items[-1]["lead_id"] == without["id"]
        assert items[-1]["outlook"] is None
        assert items[-1]["priority"] == 0.0
        values = [item["outlook"]["expected_value"] * item["urgency"] for item in items[:-1]]
        assert values == sorted(values, reverse=True)
        assert {item["lead_id"] for item in items[:-1]} == {v["id"] for v in valued}
        asked = client.get("/queue?order=probability", headers=headers()).json()["items"]
        assert asked[0]["priority"] == pytest.approx(
            asked[0]["probability"] * asked[0]["urgency"], rel=1e-5
        )
        bad = client.get("/queue?order=value", headers=headers())
        assert bad.status_code == 422


def test_likely_soon_follows_the_setting_as_it_stood_when_the_lead_was_scored(
    database_url: str, tmp_path: Path, outlook: Outlook
) -> None:
    """LEADSCORE_LIKELY_SOON decides the flag when a lead is scored; the store keeps that
    decision, so a later change of the setting leaves stored leads as they were said."""
    settings = serving_settings(tmp_path, database_url=database_url)
    loader = MemoryLoader()
    loader.publish(outlook_name("arrival"), "1", outlook)
    with with_outlook(tmp_path, database_url, outlook) as client:
        chances = [
            _post(client, n, **source)["outlook"]["within"]["sql_7d"]
            for n, source in enumerate(LEADS)
        ]
    assert max(chances) > min(chances)
    cut = (max(chances) + min(chances)) / 2
    stricter = settings.model_copy(update={"likely_soon": cut})
    with TestClient(create_app(stricter, loader=loader)) as client:
        posted = [_post(client, n + 10, **source) for n, source in enumerate(LEADS)]
        for lead in posted:
            outlook_out = lead["outlook"]
            assert outlook_out["likely_within_7d"] is (outlook_out["within"]["sql_7d"] >= cut)
        assert {lead["outlook"]["likely_within_7d"] for lead in posted} == {True, False}
    looser = settings.model_copy(update={"likely_soon": 0.999})
    with TestClient(create_app(looser, loader=loader)) as client:
        for lead in posted:
            kept = client.get(f"/leads/{lead['id']}", headers=headers("marketing")).json()
            assert kept["outlook"]["likely_within_7d"] is lead["outlook"]["likely_within_7d"]


def test_claiming_takes_the_top_of_the_asked_or_configured_order(
    database_url: str, tmp_path: Path, outlook: Outlook
) -> None:
    with with_outlook(tmp_path, database_url, outlook, queue_order="expected_value") as client:
        for number, source in enumerate(LEADS):
            _post(client, number, **source)

        def top(order: str) -> int:
            items = client.get(f"/queue?unclaimed=true&order={order}", headers=headers()).json()
            return int(items["items"][0]["lead_id"])

        differed = 0
        asked_orders = ("probability", "expected_value", None, "probability", "expected_value")
        for number, asked in enumerate(asked_orders):
            expected = top(asked or "expected_value")  # the setting's order when none is asked
            differed += expected != top(
                "probability" if asked != "probability" else "expected_value"
            )
            sdr = f"sdr-{number + 1}"
            query = f"?order={asked}" if asked else ""
            answer = client.post(f"/queue/claim{query}", headers=sdr_headers(sdr))
            assert answer.status_code == 200, answer.text
            assert answer.json()["lead"]["id"] == expected
            assert answer.json()["claimed_by"] == sdr
        assert differed, "at some claim the two orders' tops must differ"
        assert client.post("/queue/claim", headers=headers()).status_code == 404
        bad = client.post("/queue/claim?order=value", headers=headers())
        assert bad.status_code == 422
