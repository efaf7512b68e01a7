"""The sales view on the real app and store (SQLite and PostgreSQL): leads routed to sales
by score, its filters, a move on a row (won with its deal value), refusals."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.serving.conftest import STRONG_QUALIFICATION, PostLead, headers
from tests.serving.web.conftest import sign_in

_ROW = re.compile(r'<tr data-lead-id="(\d+)"')


def _to_sales(client: TestClient, lead_id: int) -> None:
    moved = client.post(
        f"/leads/{lead_id}/status", json={"status": "awaiting_manager"}, headers=headers()
    )
    assert moved.status_code == 200, moved.text


def test_the_sales_view_lists_leads_routed_to_sales_by_score(
    client: TestClient, post_lead: PostLead
) -> None:
    waiting = post_lead(channel="referral", company_name="Still with the SDR")
    qualified = post_lead(channel="referral", company_name="Qualified Co")
    answer = client.put(
        f"/leads/{qualified['id']}/qualification", json=STRONG_QUALIFICATION, headers=headers()
    )
    assert answer.status_code == 200, answer.text
    handed = [post_lead(channel=channel) for channel in ("social", "event", "social")]
    for lead in handed:
        _to_sales(client, lead["id"])
    sign_in(client, "sales")
    home = client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/app/sales"  # sales' home
    page = client.get("/app/sales")
    assert page.status_code == 200
    shown = [int(i) for i in _ROW.findall(page.text)]
    expected = {lead["id"] for lead in handed}
    if answer.json()["route"] == "sales":
        expected.add(qualified["id"])
    assert set(shown) == expected
    assert waiting["id"] not in shown
    scores = {
        lead_id: client.get(f"/leads/{lead_id}", headers=headers()).json()["probability"]
        for lead_id in shown
    }
    assert [scores[i] for i in shown] == sorted(scores.values(), reverse=True)
    social = [int(i) for i in _ROW.findall(client.get("/app/sales?channel=social").text)]
    assert sorted(social) == sorted(lead["id"] for lead in handed[::2])
    assert _ROW.findall(client.get("/app/sales?status=won").text) == []
    bad = client.get("/app/sales?status=maybe")
    assert bad.status_code == 422
    assert "status: expected one of" in bad.text


def test_a_row_moves_along_the_funnel_and_won_needs_its_value(
    client: TestClient, post_lead: PostLead
) -> None:
    lead = post_lead(channel="event")
    _to_sales(client, lead["id"])
    token = sign_in(client, "sales")
    page = client.get("/app/sales")
    offered = re.findall(
        r'<option value="([a-z_]+)"', page.text.split(f'id="lead-{lead["id"]}"')[1]
    )
    assert "awaiting_manager" not in offered
    assert "new" not in offered
    assert {"manager_assigned", "won", "lost"} <= set(offered)
    path = f"/app/sales/{lead['id']}/status?channel=event"
    no_value = client.post(path, data={"csrf_token": token, "status": "won"})
    assert no_value.status_code == 422
    assert f'id="move-problem-{lead["id"]}"' in no_value.text
    assert "deal_value" in no_value.text
    assert client.get(f"/leads/{lead['id']}", headers=headers()).json()["status"] == (
        "awaiting_manager"
    )
    won = client.post(
        path,
        data={"csrf_token": token, "status": "won", "deal_amount": "90000", "deal_currency": "EUR"},
        follow_redirects=False,
    )
    assert won.status_code == 303
    assert (
        won.headers["location"] == f"/app/sales?channel=event&moved={lead['id']}#lead-{lead['id']}"
    )
    stored = client.get(f"/leads/{lead['id']}", headers=headers()).json()
    assert (stored["status"], stored["deal_value"]) == (
        "won",
        {"amount": 90000.0, "currency": "EUR"},
    )
    closed = client.get("/app/sales?status=closed")
    assert [int(i) for i in _ROW.findall(closed.text)] == [lead["id"]]
    again = client.post(path, data={"csrf_token": token, "status": "lost"})
    assert again.status_code == 409  # nothing leaves won
    forged = client.post(path, data={"csrf_token": "forged", "status": "lost"})
    assert forged.status_code == 403


def test_marketing_sees_the_sales_view_without_moves(
    client: TestClient, post_lead: PostLead
) -> None:
    lead = post_lead()
    _to_sales(client, lead["id"])
    token = sign_in(client, "marketing")
    page = client.get("/app/sales")
    assert page.status_code == 200
    assert [int(i) for i in _ROW.findall(page.text)] == [lead["id"]]
    assert "move-form" not in page.text
    refused = client.post(
        f"/app/sales/{lead['id']}/status", data={"csrf_token": token, "status": "lost"}
    )
    assert refused.status_code == 403
