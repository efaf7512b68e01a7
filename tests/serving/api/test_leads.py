"""POST /leads, GET /leads, qualification and status changes on the real app and store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import PostLead, headers, make_lead


def test_a_lead_posted_without_arrival_time_arrives_when_received(client: TestClient) -> None:
    lead = make_lead()
    del lead["arrived_at"]
    before = datetime.now(UTC)
    response = client.post("/leads", json=lead, headers=headers())
    after = datetime.now(UTC)
    assert response.status_code == 201, response.text
    deadline = datetime.fromisoformat(response.json()["sla_deadline"])
    sla = timedelta(minutes=30)
    assert before + sla - timedelta(seconds=1) <= deadline <= after + sla + timedelta(seconds=1)


def test_lead_is_stored_scored_and_queued(client: TestClient) -> None:
    lead = make_lead(channel="referral", minutes_ago=5)
    response = client.post("/leads", json=lead, headers=headers())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True
    assert body["external_id"] == lead["external_id"]
    assert 0 < body["probability"] < 1
    assert body["tier"] in {"A", "B", "C", "D"}
    assert body["model"] == {"name": "bant-source-rule", "version": "fallback"}
    assert body["is_fallback"] is True
    assert body["in_queue"] is True
    assert body["queue_position"] == 1
    assert {"field": "channel", "phrase": "Channel: referral", "direction": "+"}.items() <= (
        body["reasons"][0].items()
    )
    # the SLA clock runs from arrival (30 minutes), not from receipt
    arrived = datetime.fromisoformat(lead["arrived_at"])
    deadline = datetime.fromisoformat(body["sla_deadline"])
    assert abs(deadline - (arrived + timedelta(minutes=30))) < timedelta(seconds=1)

    detail = client.get(f"/leads/{body['id']}", headers=headers("marketing")).json()
    assert detail["status"] == "new"
    assert detail["status_label_ru"] == "Новая"
    assert (detail["status_label"], detail["history"][0]["label"]) == ("New", "New")
    russian = client.get(
        f"/leads/{body['id']}", headers={**headers(), "Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}
    ).json()
    assert (russian["status_label"], russian["history"][0]["label"]) == ("Новая", "Новая")
    assert detail["history"][0]["changed_by"] == "sdr-0"
    assert detail["source"]["email"] == "buyer@acme-industries.ru"
    assert detail["record"]["channel"] == "referral"
    assert [s["stage"] for s in detail["scores"]] == ["arrival"]
    assert detail["scores"][0]["fallback_reason"].startswith("no champion of leadscore-arrival")
    by_external = client.get(f"/leads/by-external/{lead['external_id']}", headers=headers())
    assert by_external.status_code == 200
    assert by_external.json()["id"] == body["id"]


def test_repeat_returns_the_stored_lead_with_200(client: TestClient, post_lead: PostLead) -> None:
    lead = make_lead()
    first = post_lead(lead)
    changed = {**lead, "source": {**lead["source"], "channel": "display"}}
    repeat = client.post("/leads", json=changed, headers=headers())
    assert repeat.status_code == 200
    assert repeat.json()["created"] is False
    assert repeat.json()["id"] == first["id"]
    assert repeat.json()["probability"] == first["probability"]
    detail = client.get(f"/leads/{first['id']}", headers=headers()).json()
    assert detail["channel"] == "paid_search"  # the stored lead is not overwritten
    assert len(detail["scores"]) == 1


def test_concurrent_repeats_store_one_lead(client: TestClient) -> None:
    lead = make_lead()

    def post(_: int) -> tuple[int, int, float]:
        response = client.post("/leads", json=lead, headers=headers())
        body = response.json()
        return response.status_code, body["id"], body["probability"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(post, range(16)))
    codes = sorted(code for code, _, _ in results)
    assert codes == [200] * 15 + [201]
    assert len({lead_id for _, lead_id, _ in results}) == 1
    assert all(p is not None for _, _, p in results)
    detail = client.get(f"/leads/{results[0][1]}", headers=headers()).json()
    assert len(detail["scores"]) == 1
    assert len(detail["history"]) == 1
    assert client.get("/queue", headers=headers()).json()["total"] == 1


def test_unknown_lead_is_404_json(client: TestClient) -> None:
    for path in ("/leads/999", "/leads/by-external/nope"):
        response = client.get(path, headers=headers())
        assert response.status_code == 404
        assert "no lead" in response.json()["detail"]


def test_unknown_category_values_are_accepted(client: TestClient) -> None:
    lead = make_lead(channel="carrier_pigeon", region="Антарктида", company_industry="alchemy")
    response = client.post("/leads", json=lead, headers=headers())
    assert response.status_code == 201
    assert response.json()["probability"] > 0


@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        (lambda d: d["source"].update(email="not-an-address"), "source.email", "e-mail address"),
        (lambda d: d["source"].pop("channel"), "source.channel", "required"),
        (lambda d: d.update(arrived_at="yesterday"), "arrived_at", "datetime"),
        (lambda d: d["source"].update(company_size="huge"), "source.company_size", "1-10"),
        (lambda d: d.update(surprise=1), "surprise", "not permitted"),
    ],
)
def test_malformed_lead_is_422_naming_the_field(
    client: TestClient, mutate: Any, field: str, expected: str
) -> None:
    lead = make_lead()
    mutate(lead)
    response = client.post("/leads", json=lead, headers=headers())
    assert response.status_code == 422
    body = response.json()
    fields = [error["field"] for error in body["errors"]]
    assert field in fields, body
    error = body["errors"][fields.index(field)]
    assert expected.lower() in error["message"].lower()
    assert f"body.{field}" in body["detail"]


def test_broken_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/leads",
        content=b'{"external_id": ',
        headers={**headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


def test_oversize_body_is_413(client: TestClient) -> None:
    lead = make_lead(message="x" * 19_000)
    lead["padding"] = "y" * (1024 * 1024)
    response = client.post("/leads", json=lead, headers=headers())
    assert response.status_code == 413
    assert "limit is 1048576 bytes" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"  # security headers too


def test_oversize_streamed_body_without_length_is_413(client: TestClient) -> None:
    def chunks() -> Any:
        yield b'{"external_id": "'
        for _ in range(40):
            yield b"z" * 32_768
        yield b'"}'

    response = client.post(
        "/leads", content=chunks(), headers={**headers(), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("request body too large")


QUALIFICATION = {
    "bant": {
        "budget": {"amount": 700000, "currency": "RUB"},
        "authority_role": "CEO",
        "is_decision_maker": True,
        "need_service": "seo",
        "need_fit": "strong",
        "timeframe": "now",
    },
    "questionnaire": {
        "service": "seo",
        "answers": {"project_type": "existing", "site_age_years": 3, "has_analytics": True},
    },
}


def test_qualification_rescores_routes_and_leaves_queue(
    client: TestClient, post_lead: PostLead
) -> None:
    lead = post_lead()
    claimed = client.post("/queue/claim", headers=headers())
    assert claimed.json()["lead"]["id"] == lead["id"]
    path = f"/leads/{lead['id']}/qualification"
    response = client.put(path, json=QUALIFICATION, headers=headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"] == "sales"
    assert body["probability"] > lead["probability"]
    assert body["status"] == "sdr_qualifying"
    change = round((body["probability"] - lead["probability"]) * 100, 1)
    assert body["trend"] == {
        "direction": "improving" if change >= 2 else "steady",
        "change_points": change,
        "previous": lead["probability"],
    }
    assert body["scores"][0]["stage"] == "qualified"
    assert any(r["field"] == "need_fit" for r in body["reasons"])

    detail = client.get(f"/leads/{lead['id']}", headers=headers()).json()
    assert detail["in_queue"] is False
    assert detail["route"] == "sales"
    assert detail["claimed_by"] is None
    assert detail["claims"][0]["release_reason"] == "qualified"
    assert detail["qualifications"][0]["qualified_by"] == "sdr-0"
    assert detail["qualifications"][0]["questionnaire"]["answers"]["site_age_years"] == 3
    assert detail["record"]["q_site_age_years"] == 3
    assert detail["record"]["is_decision_maker"] is True
    assert [h["status"] for h in detail["history"]] == ["new", "sdr_qualifying"]
    assert client.get("/queue", headers=headers()).json()["total"] == 0


def test_weak_answers_route_out(client: TestClient, post_lead: PostLead) -> None:
    lead = post_lead(channel="display")
    weak = {"bant": {"is_decision_maker": False, "need_fit": "none", "timeframe": "gt_6m"}}
    body = client.put(f"/leads/{lead['id']}/qualification", json=weak, headers=headers()).json()
    assert body["route"] == "disqualify"
    assert body["tier"] == "D"


def test_bad_questionnaire_answers_are_422_by_key(client: TestClient, post_lead: PostLead) -> None:
    lead = post_lead()
    bad = {
        "bant": {},
        "questionnaire": {
            "service": "seo",
            "answers": {"site_age_years": "old", "pages_count": 3, "project_type": "new"},
        },
    }
    response = client.put(f"/leads/{lead['id']}/qualification", json=bad, headers=headers())
    assert response.status_code == 422
    fields = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert fields["questionnaire.answers.site_age_years"] == "expected a number"
    assert "not a question for service 'seo'" in fields["questionnaire.answers.pages_count"]
    assert "questionnaire.answers.project_type" not in fields
    detail = client.get(f"/leads/{lead['id']}", headers=headers()).json()
    assert detail["qualifications"] == []  # nothing stored
    assert detail["in_queue"] is True


def test_status_moves_along_the_funnel(client: TestClient, post_lead: PostLead) -> None:
    lead = post_lead()
    lead_id = lead["id"]
    moved = client.post(
        f"/leads/{lead_id}/status", json={"status": "discussing"}, headers=headers("sales")
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage_reached"] == "sql"
    assert moved.json()["in_queue"] is False  # past the SDR step

    back = client.post(f"/leads/{lead_id}/status", json={"status": "new"}, headers=headers())
    assert back.status_code == 409
    body = back.json()
    assert body["current"] == "discussing"
    assert body["allowed"][:3] == ["brief_filled", "proposal", "contract"]
    assert "lost" in body["allowed"]
    assert "cannot move a lead from 'discussing' to 'new'" in body["detail"]

    no_value = client.post(f"/leads/{lead_id}/status", json={"status": "won"}, headers=headers())
    assert no_value.status_code == 422
    assert no_value.json()["errors"][0]["field"] == "deal_value"

    won = client.post(
        f"/leads/{lead_id}/status",
        json={"status": "won", "deal_value": {"amount": 1500000, "currency": "RUB"}, "note": "ok"},
        headers=headers(),
    )
    assert won.status_code == 200
    detail = won.json()
    assert detail["deal_value"] == {"amount": 1500000.0, "currency": "RUB"}
    assert detail["stage_reached"] == "won"
    assert [h["status"] for h in detail["history"]] == ["new", "discussing", "won"]

    closed = client.post(f"/leads/{lead_id}/status", json={"status": "lost"}, headers=headers())
    assert closed.status_code == 409
    assert closed.json()["allowed"] == []
    requalify = client.put(f"/leads/{lead_id}/qualification", json=QUALIFICATION, headers=headers())
    assert requalify.status_code == 409
    assert requalify.json()["current"] == "won"


def test_terminal_status_removes_lead_from_queue(client: TestClient, post_lead: PostLead) -> None:
    lead = post_lead()
    client.post("/queue/claim", headers=headers())
    response = client.post(
        f"/leads/{lead['id']}/status", json={"status": "disqualified"}, headers=headers()
    )
    assert response.status_code == 200
    assert response.json()["in_queue"] is False
    assert response.json()["claims"][0]["release_reason"] == "closed"
    assert client.get("/queue", headers=headers()).json()["total"] == 0


def test_status_change_dated_before_history_is_refused(
    client: TestClient, post_lead: PostLead
) -> None:
    lead = post_lead(minutes_ago=10)
    response = client.post(
        f"/leads/{lead['id']}/status",
        json={"status": "lost", "at": "2001-01-01T00:00:00Z"},
        headers=headers(),
    )
    assert response.status_code == 409
    assert "before the lead's last recorded change" in response.json()["detail"]


def test_lead_posted_with_history_and_answers(client: TestClient) -> None:
    lead = make_lead(minutes_ago=60)
    lead["bant"] = QUALIFICATION["bant"]
    lead["status_history"] = [
        {"status": "new", "at": lead["arrived_at"]},
        {"status": "awaiting_manager", "at": lead["arrived_at"]},
    ]
    response = client.post("/leads", json=lead, headers=headers())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "awaiting_manager"
    assert body["in_queue"] is False
    assert body["queue_position"] is None
    detail = client.get(f"/leads/{body['id']}", headers=headers()).json()
    assert detail["stage_reached"] == "mql"
    assert {s["stage"] for s in detail["scores"]} == {"arrival", "qualified"}
    arrival = next(s for s in detail["scores"] if s["stage"] == "arrival")
    # the arrival score only looks at what was known on arrival
    assert not any(r["field"] in {"need_fit", "budget_amount"} for r in arrival["reasons"])
    assert detail["route"] == "sales"
