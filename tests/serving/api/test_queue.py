"""The SDR queue: order, filters, SLA flags, atomic claims and releases, on both stores."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.sla import SlaCalendarError
from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from tests.serving.conftest import SDR_KEYS, PostLead, headers, make_lead, sdr_headers


def test_queue_orders_by_priority_and_flags_breaches(
    client: TestClient, post_lead: PostLead
) -> None:
    fresh_good = post_lead(channel="referral", minutes_ago=1)
    late = post_lead(channel="referral", minutes_ago=45)
    weak = post_lead(channel="display", minutes_ago=1, message=None, email=None)
    queue = client.get("/queue", headers=headers("marketing")).json()
    ids = [item["lead_id"] for item in queue["items"]]
    assert ids == [late["id"], fresh_good["id"], weak["id"]]
    assert queue["total"] == 3
    assert queue["breached"] == 1
    first = queue["items"][0]
    assert first["breached"] is True
    assert 14 < first["minutes_overdue"] < 16
    assert first["priority"] > first["probability"]
    assert queue["items"][1]["breached"] is False
    assert queue["items"][1]["minutes_overdue"] == 0
    assert 28 < queue["items"][1]["minutes_left"] <= 29


def test_near_breach_moves_up_among_comparable_scores(
    client: TestClient, post_lead: PostLead
) -> None:
    fresh = post_lead(channel="organic", minutes_ago=0.5)
    nearly_late = post_lead(channel="organic", minutes_ago=27)
    ids = [item["lead_id"] for item in client.get("/queue", headers=headers()).json()["items"]]
    assert ids == [nearly_late["id"], fresh["id"]]


def test_queue_filters_and_limit(client: TestClient, post_lead: PostLead) -> None:
    referral = post_lead(channel="referral")
    post_lead(channel="display", email=None)
    post_lead(channel="display", email=None)
    by_channel = client.get("/queue", params={"channel": "referral"}, headers=headers()).json()
    assert [item["lead_id"] for item in by_channel["items"]] == [referral["id"]]
    tier = referral["tier"]
    by_tier = client.get("/queue", params={"tier": tier}, headers=headers()).json()
    assert by_tier["items"]
    assert all(item["tier"] == tier for item in by_tier["items"])
    limited = client.get("/queue", params={"limit": 2}, headers=headers()).json()
    assert len(limited["items"]) == 2
    assert limited["total"] == 3
    client.post("/queue/claim", headers=headers())
    unclaimed = client.get("/queue", params={"unclaimed": True}, headers=headers()).json()
    assert unclaimed["total"] == 2
    assert all(item["claimed_by"] is None for item in unclaimed["items"])
    bad = client.get("/queue", params={"tier": "Z", "limit": 0}, headers=headers())
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"tier", "limit"}
    assert all(e["location"] == "query" for e in bad.json()["errors"])


def test_claim_hands_out_the_top_lead_then_404(client: TestClient, post_lead: PostLead) -> None:
    low = post_lead(channel="display", email=None)
    high = post_lead(channel="referral")
    first = client.post("/queue/claim", headers=sdr_headers("sdr-1"))
    assert first.status_code == 200
    body = first.json()
    assert body["lead"]["id"] == high["id"]
    assert body["claimed_by"] == "sdr-1"
    assert body["queue_item"]["claimed_by"] == "sdr-1"
    assert body["lead"]["source"]["phone"]  # what the SDR needs to call
    second = client.post("/queue/claim", headers=sdr_headers("sdr-2")).json()
    assert second["lead"]["id"] == low["id"]
    empty = client.post("/queue/claim", headers=sdr_headers("sdr-3"))
    assert empty.status_code == 404
    assert "nothing to claim" in empty.json()["detail"]


def test_release_rules(client: TestClient, post_lead: PostLead) -> None:
    lead = post_lead()
    path = f"/queue/{lead['id']}/release"
    not_claimed = client.post(path, headers=sdr_headers("sdr-1"))
    assert not_claimed.status_code == 409
    assert "not claimed" in not_claimed.json()["detail"]
    client.post("/queue/claim", headers=sdr_headers("sdr-1"))
    not_yours = client.post(path, headers=sdr_headers("sdr-2"))
    assert not_yours.status_code == 409
    assert not_yours.json()["claimed_by"] == "sdr-1"
    assert "claimed by 'sdr-1', not by you ('sdr-2')" in not_yours.json()["detail"]
    released = client.post(path, headers=sdr_headers("sdr-1"))
    assert released.status_code == 200
    assert released.json() == {
        "lead_id": lead["id"],
        "released_by": "sdr-1",
        "previous_holder": "sdr-1",
        "in_queue": True,
    }
    again = client.post("/queue/claim", headers=sdr_headers("sdr-2")).json()
    assert again["lead"]["id"] == lead["id"]
    by_admin = client.post(path, headers=headers("admin"))
    assert by_admin.status_code == 200
    assert by_admin.json()["previous_holder"] == "sdr-2"
    assert client.post("/queue/999/release", headers=headers()).status_code == 404
    claims = client.get(f"/leads/{lead['id']}", headers=headers()).json()["claims"]
    assert [(c["sdr"], c["release_reason"]) for c in claims] == [
        ("sdr-1", "released"),
        ("sdr-2", "released"),
    ]


def test_claiming_a_chosen_lead(client: TestClient, post_lead: PostLead) -> None:
    top = post_lead(channel="referral", minutes_ago=20)
    chosen = post_lead(channel="display", minutes_ago=1, email=None)
    path = f"/queue/{chosen['id']}/claim"
    claimed = client.post(path, headers=sdr_headers("sdr-1"))
    assert claimed.status_code == 200
    body = claimed.json()
    assert (body["claimed_by"], body["lead"]["id"]) == ("sdr-1", chosen["id"])
    assert body["queue_item"]["claimed_by"] == "sdr-1"
    repeat = client.post(path, headers=sdr_headers("sdr-1"))  # a double click
    assert repeat.status_code == 200
    assert repeat.json()["claimed_at"] == body["claimed_at"]
    taken = client.post(path, headers=sdr_headers("sdr-2"))
    assert taken.status_code == 409
    assert taken.json()["claimed_by"] == "sdr-1"
    assert "already claimed by 'sdr-1'" in taken.json()["detail"]
    assert client.post("/queue/999999/claim", headers=headers()).status_code == 404
    assert client.post(path, headers=headers("marketing")).status_code == 403
    # the next lead for sdr-2 is the other one; the chosen one had one claim only
    assert (
        client.post("/queue/claim", headers=sdr_headers("sdr-2")).json()["lead"]["id"] == top["id"]
    )
    claims = client.get(f"/leads/{chosen['id']}", headers=headers()).json()["claims"]
    assert [c["sdr"] for c in claims] == ["sdr-1"]
    client.post(f"/leads/{chosen['id']}/status", json={"status": "lost"}, headers=headers())
    gone = client.post(path, headers=sdr_headers("sdr-3"))
    assert gone.status_code == 409
    assert "not waiting in the queue" in gone.json()["detail"]


def test_ten_sdrs_claiming_one_lead_at_once(client: TestClient, post_lead: PostLead) -> None:
    lead = post_lead()
    names = list(SDR_KEYS)

    def claim(name: str) -> tuple[str, int]:
        answer = client.post(f"/queue/{lead['id']}/claim", headers=sdr_headers(name))
        return name, answer.status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(claim, names))
    winners = [name for name, code in results if code == 200]
    assert Counter(code for _, code in results) == {200: 1, 409: 9}
    claims = client.get(f"/leads/{lead['id']}", headers=headers()).json()["claims"]
    assert [c["sdr"] for c in claims] == winners


def test_fifty_concurrent_claims_by_ten_sdrs(client: TestClient) -> None:
    leads = 50
    for i in range(leads):
        lead = make_lead(f"bulk-{i}", minutes_ago=i % 40, channel=["referral", "display"][i % 2])
        assert client.post("/leads", json=lead, headers=headers()).status_code == 201
    names = list(SDR_KEYS)

    def claim(i: int) -> tuple[str, int, int | None]:
        name = names[i % len(names)]
        response = client.post("/queue/claim", headers=sdr_headers(name))
        lead_id = response.json()["lead"]["id"] if response.status_code == 200 else None
        return name, response.status_code, lead_id

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(claim, range(leads + 5)))
    handed = [lead_id for _, code, lead_id in results if code == 200]
    assert Counter(code for _, code, _ in results) == {200: leads, 404: 5}
    assert len(handed) == len(set(handed)) == leads  # none twice, none lost
    queue = client.get("/queue", headers=headers()).json()
    assert queue["total"] == leads
    holders = {item["lead_id"]: item["claimed_by"] for item in queue["items"]}
    assert holders == {lead_id: name for name, code, lead_id in results if code == 200}


def test_the_sla_counts_working_hours_from_the_calendar_file(
    settings: ServingSettings, tmp_path: Path
) -> None:
    calendar = tmp_path / "hours.yaml"
    calendar.write_text(
        "time_zone: Europe/Moscow\n"
        "hours: {mon: '09:00-18:00', tue: '09:00-18:00', wed: '09:00-18:00',"
        " thu: '09:00-18:00', fri: '09:00-18:00'}\n",
        encoding="utf-8",
    )
    hours = settings.model_copy(update={"sla_calendar": calendar})
    friday_night = datetime(2026, 11, 27, 20, 50, tzinfo=UTC)  # 23:50 in Moscow, a Friday
    lead = make_lead() | {"arrived_at": friday_night.isoformat()}
    with TestClient(create_app(hours, loader=MemoryLoader())) as client:
        answer = client.post("/leads", json=lead, headers=headers())
        assert answer.status_code == 201, answer.text
        detail = client.get(f"/leads/{answer.json()['id']}", headers=headers()).json()
    due = datetime.fromisoformat(detail["sla_deadline"])
    assert due == datetime(2026, 11, 30, 6, 30, tzinfo=UTC)  # Monday 09:30 in Moscow


def test_a_bad_calendar_file_stops_the_service_with_its_reason(
    settings: ServingSettings, tmp_path: Path
) -> None:
    calendar = tmp_path / "hours.yaml"
    calendar.write_text("time_zone: Europe/Moscow\nhours: {friday: '09:00-18:00'}\n")
    with pytest.raises(SlaCalendarError, match="'friday' is not a weekday"):
        create_app(settings.model_copy(update={"sla_calendar": calendar}), loader=MemoryLoader())
