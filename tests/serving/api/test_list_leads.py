"""GET /leads on the real app and a real store (SQLite and PostgreSQL): filters, keyset
pages newest first, 422s naming the parameter, roles, the query plans, and imported history
kept out of the SDR queue when the sweeper scores it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from features.demo import generate_leads
from features.spec import load_spec
from serving.api.deps import Services
from serving.api.workflows import rescore_unscored
from serving.queue import Sla
from serving.settings import ServingSettings
from serving.store.imports import ImportedLead, plan_import, store_leads
from serving.store.leads import Store
from serving.store.listing import Cursor, LeadFilter, page_query
from tests.serving.conftest import PostLead, headers

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def history() -> list[ImportedLead]:
    """A small demo export's leads, as the import reads them."""
    frame, _truth = generate_leads(40, seed=3, end=NOW.date())
    return plan_import(load_spec("demo"), frame, "<export>", NOW).leads


@pytest.fixture
def store(settings: ServingSettings, client: TestClient) -> Iterator[Store]:
    """The app's store, opened beside the running app (the app's schema is migrated)."""
    opened = Store.open(settings.store_url)
    yield opened
    opened.close()


def _import(store: Store, leads: list[ImportedLead]) -> None:
    store_leads(store, leads, NOW, sla=Sla(30), queue_within=timedelta(minutes=30))


def _all(client: TestClient, limit: int = 500, **filters: Any) -> list[dict[str, Any]]:
    """Every page of GET /leads with ``filters``, followed through next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        params = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/leads", params=params, headers=headers())
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def _newest_first(items: list[dict[str, Any]]) -> bool:
    keys = [(datetime.fromisoformat(i["arrived_at"]), i["id"]) for i in items]
    return keys == sorted(keys, reverse=True)


def test_pages_walk_every_lead_once_newest_first(
    client: TestClient, store: Store, history: list[ImportedLead], post_lead: PostLead
) -> None:
    _import(store, history)
    posted = [post_lead(minutes_ago=m)["id"] for m in (3, 2, 1)]
    walked = _all(client, limit=7)
    assert len(walked) == len(history) + 3
    assert len({item["id"] for item in walked}) == len(walked)
    assert _newest_first(walked)
    assert [item["id"] for item in walked[:3]] == posted[::-1]
    first = client.get("/leads", params={"limit": 7}, headers=headers()).json()
    assert len(first["items"]) == 7
    # a lead arriving meanwhile neither shifts nor repeats the next page
    post_lead(minutes_ago=0.5)
    second = client.get(
        "/leads", params={"limit": 7, "cursor": first["next_cursor"]}, headers=headers()
    ).json()
    assert [i["id"] for i in second["items"]] == [i["id"] for i in walked[7:14]]


def test_every_filter_keeps_exactly_the_matching_leads(
    client: TestClient, store: Store, history: list[ImportedLead], post_lead: PostLead
) -> None:
    _import(store, history)
    for channel in ("referral", "paid_search", "referral"):
        post_lead(channel=channel)
    claimed = client.post("/queue/claim", headers=headers()).json()["lead"]["id"]
    qualified = post_lead()["id"]
    answers = {"bant": {"need_fit": "strong", "is_decision_maker": True}}
    response = client.put(f"/leads/{qualified}/qualification", json=answers, headers=headers())
    assert response.status_code == 200, response.text
    everything = _all(client)
    middle = sorted(datetime.fromisoformat(i["arrived_at"]) for i in everything)[len(history) // 2]
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"status": "lost"}, lambda i: i["status"] == "lost"),
        ({"status": "new"}, lambda i: i["status"] == "new"),
        ({"channel": "referral"}, lambda i: i["channel"] == "referral"),
        ({"tier": everything[0]["tier"]}, lambda i: i["tier"] == everything[0]["tier"]),
        ({"claimed_by": "sdr-0"}, lambda i: i["claimed_by"] == "sdr-0"),
        ({"routed_to": everything[0]["route"]}, lambda i: i["route"] == everything[0]["route"]),
        (
            {"arrived_from": middle.isoformat()},
            lambda i: datetime.fromisoformat(i["arrived_at"]) >= middle,
        ),
        (
            {"arrived_to": middle.replace(tzinfo=None).isoformat()},  # no offset: UTC
            lambda i: datetime.fromisoformat(i["arrived_at"]) < middle,
        ),
        (
            {"status": "new", "channel": "referral"},
            lambda i: i["status"] == "new" and i["channel"] == "referral",
        ),
    ]
    assert everything[0]["id"] == qualified
    assert everything[0]["route"] is not None
    for params, keep in cases:
        expected = [item["id"] for item in everything if keep(item)]
        assert expected, params
        assert [item["id"] for item in _all(client, limit=3, **params)] == expected, params
    assert [i["id"] for i in _all(client, claimed_by="sdr-0")] == [claimed]


def _raw_cursor(payload: dict[str, Any]) -> str:
    """A cursor as a client might forge one (the store never hands these out)."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


#: Bad query parameters and the parameter each 422 must name.
BAD_PARAMETERS: list[tuple[dict[str, Any], str]] = [
    ({"tier": "Z"}, "tier"),
    ({"status": "closed"}, "status"),
    ({"routed_to": "nowhere"}, "routed_to"),
    ({"limit": 0}, "limit"),
    ({"limit": 501}, "limit"),
    ({"arrived_from": "last week"}, "arrived_from"),
    (
        {"arrived_from": "2026-02-01T00:00:00Z", "arrived_to": "2026-01-01T00:00:00Z"},
        "arrived_to",
    ),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": Cursor(NOW, 1).encode()[:-3]}, "cursor"),
    ({"channel": ""}, "channel"),
    ({"arrived_to": "0001-01-01T00:00:00+05:00"}, "arrived_to"),
    ({"claimed_by": "x" * 101}, "claimed_by"),
    ({"cursor": _raw_cursor({"a": "0001-01-01T00:00:00+05:00", "i": 1})}, "cursor"),
    ({"cursor": _raw_cursor({"a": "2026-01-01T00:00:00+00:00", "i": 10**30})}, "cursor"),
    ({"cursor": _raw_cursor({"a": "2026-01-01T00:00:00", "i": 1})}, "cursor"),
]


def test_a_bad_parameter_is_a_422_naming_it(client: TestClient) -> None:
    for params, field in BAD_PARAMETERS:
        response = client.get("/leads", params=params, headers=headers())
        assert response.status_code == 422, (params, response.text)
        assert [error["field"] for error in response.json()["errors"]] == [field], params


def test_listing_needs_a_key_and_every_role_may_read(client: TestClient) -> None:
    assert client.get("/leads").status_code == 401
    for role in ("sdr", "sales", "marketing", "admin"):
        assert client.get("/leads", headers=headers(role)).status_code == 200


def test_the_labels_follow_the_callers_language(client: TestClient, post_lead: PostLead) -> None:
    post_lead()
    russian = {**headers(), "Accept-Language": "ru"}
    item = client.get("/leads", headers=russian).json()["items"][0]
    assert item["status_label"] == item["status_label_ru"] == "Новая"


def test_the_sweeper_scores_imported_history_without_queueing_it(
    client: TestClient, store: Store, history: list[ImportedLead]
) -> None:
    _import(store, history[:10])
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    assert services.models is not None
    scored = rescore_unscored(services, store, services.models.current, limit=1000)
    assert 0 <= scored <= 10  # the app's own sweeper may have scored some already
    assert client.get("/queue", headers=headers()).json()["items"] == []
    listed = _all(client)
    assert all(item["tier"] is not None and not item["in_queue"] for item in listed)


def _plan(store: Store, query: Any) -> str:
    with store.engine.connect() as connection:
        compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
        if store.dialect == "postgresql":
            connection.execute(text("ANALYZE leads"))
        rows = connection.execute(text(prefix + str(compiled))).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_the_pages_are_read_through_the_arrival_index(
    client: TestClient, store: Store, history: list[ImportedLead]
) -> None:
    many = [
        replace(lead, external_id=f"bulk-{n}-{lead.external_id}")
        for n in range(25)
        for lead in history
    ]
    _import(store, many)
    cursor = Cursor(NOW - timedelta(days=30), 10**9)
    for query in (page_query(LeadFilter(), 50, None), page_query(LeadFilter(), 50, cursor)):
        plan = _plan(store, query)
        assert "ix_leads_arrived_at" in plan, plan
