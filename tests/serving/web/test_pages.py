"""The queue and lead pages on the real app and store (SQLite and PostgreSQL), through a
TestClient: the order of GET /queue, filters, a bad answer that stores nothing, moves."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.serving.conftest import SDR_KEYS, PostLead, headers
from tests.serving.web.conftest import sign_in

_ROW = re.compile(r'<tr data-lead-id="(\d+)">')


def test_the_queue_page_lists_leads_in_the_apis_order(
    client: TestClient, post_lead: PostLead
) -> None:
    for minutes, channel in [(1, "referral"), (25, "social"), (40, "cold_call"), (5, "event")]:
        post_lead(minutes_ago=minutes, channel=channel, company_name=f"Co {channel}")
    sign_in(client, "sdr")
    page = client.get("/app/queue")
    api_order = [
        item["lead_id"] for item in client.get("/queue", headers=headers()).json()["items"]
    ]
    assert [int(i) for i in _ROW.findall(page.text)] == api_order
    assert "Co referral" in page.text
    assert re.search(r'Channel: referral <span class="pp">\+\d+ pp</span>', page.text), (
        "each reason says its effect in percentage points"
    )
    assert "overdue 10 min" in page.text  # arrived 40 min ago with a 30 min SLA
    only_breached = client.get("/app/queue?breached=1")
    assert len(_ROW.findall(only_breached.text)) == 1
    social = client.get("/app/queue/list?channel=social")
    assert len(_ROW.findall(social.text)) == 1
    assert "<html" not in social.text  # the fragment alone
    bad = client.get("/app/queue?unclaimed=maybe")
    assert bad.status_code == 422
    assert "unclaimed: expected 1 or 0" in bad.text


def test_claiming_a_lead_picked_from_the_list(client: TestClient, post_lead: PostLead) -> None:
    top = post_lead(minutes_ago=20, channel="referral")
    picked = post_lead(minutes_ago=1, channel="display")
    token = sign_in(client, "sdr")
    page = client.get("/app/queue")
    assert f'id="claim-{picked["id"]}"' in page.text  # a Claim button on each free lead
    claimed = client.post(
        f"/app/queue/{picked['id']}/claim", data={"csrf_token": token}, follow_redirects=False
    )
    assert (claimed.status_code, claimed.headers["location"]) == (303, f"/app/leads/{picked['id']}")
    assert client.get(f"/leads/{picked['id']}", headers=headers()).json()["claimed_by"] == "sdr-0"
    after = client.get("/app/queue").text
    assert f'id="claim-{picked["id"]}"' not in after
    assert f'id="claim-{top["id"]}"' in after
    assert 'id="claim-lead"' in client.get(f"/app/leads/{top['id']}").text
    client.post(f"/queue/{top['id']}/claim", headers={"X-API-Key": SDR_KEYS["sdr-1"]})
    late = client.post(f"/app/queue/{top['id']}/claim", data={"csrf_token": token})
    assert late.status_code == 409
    assert (
        "already claimed by &#39;sdr-1&#39;" in late.text
        or "already claimed by 'sdr-1'" in late.text
    )


def test_a_bad_answer_is_shown_beside_its_field_and_nothing_is_stored(
    client: TestClient, post_lead: PostLead
) -> None:
    lead = post_lead()
    token = sign_in(client, "sdr")
    form = {
        "csrf_token": token,
        "questionnaire.service": "ppc",
        "questionnaire.answers.monthly_ad_spend": "-5",
        "bant.budget.amount": "120000",
        "bant.budget.currency": "rub",
    }
    refused = client.post(f"/app/leads/{lead['id']}/qualification", data=form)
    assert refused.status_code == 422
    assert re.search(r'id="f-bant-budget-currency-error">[^<]*pattern', refused.text), (
        "the currency's message sits beside the currency"
    )
    assert 'value="-5"' in refused.text  # what was typed stays in the form
    stored = client.get(f"/leads/{lead['id']}", headers=headers()).json()
    assert stored["qualifications"] == []
    form["bant.budget.currency"] = "RUB"
    refused = client.post(f"/app/leads/{lead['id']}/qualification", data=form)
    assert refused.status_code == 422
    assert 'id="f-questionnaire-answers-monthly_ad_spend-error">expected a number &gt;= 0' in (
        refused.text
    )
    assert client.get(f"/leads/{lead['id']}", headers=headers()).json()["qualifications"] == []
    form["questionnaire.answers.monthly_ad_spend"] = "50000"
    saved = client.post(f"/app/leads/{lead['id']}/qualification", data=form)
    assert saved.status_code == 200
    stored = client.get(f"/leads/{lead['id']}", headers=headers()).json()
    assert stored["qualifications"][-1]["questionnaire"]["answers"] == {"monthly_ad_spend": 50000}
    assert f'id="suggested-route">{stored["route"]}<' in saved.text
    trend = next(s["trend"] for s in reversed(stored["scores"]) if s["stage"] == "qualified")
    shown = re.search(
        r'id="score-trend"[^>]*>[^<]*?(improving|steady|declining) ([+-][\d.]+) pp', saved.text
    )
    assert shown, "the qualified score's trend is shown"
    assert (shown.group(1), float(shown.group(2))) == (trend["direction"], trend["change_points"])


def test_only_allowed_moves_are_offered_and_won_needs_its_value(
    client: TestClient, post_lead: PostLead
) -> None:
    lead = post_lead()
    token = sign_in(client, "sales")
    page = client.get(f"/app/leads/{lead['id']}")
    offered = set(re.findall(r'data-status="([a-z_]+)"', page.text))
    assert "new" not in offered
    assert {"sdr_qualifying", "won", "lost"} <= offered
    assert "Claim next" not in page.text
    no_value = client.post(
        f"/app/leads/{lead['id']}/status", data={"csrf_token": token, "status": "won"}
    )
    assert no_value.status_code == 422
    assert "deal_value" in no_value.text
    won = client.post(
        f"/app/leads/{lead['id']}/status",
        data={
            "csrf_token": token,
            "status": "won",
            "deal_amount": "250000",
            "deal_currency": "RUB",
        },
    )
    assert won.status_code == 200
    stored = client.get(f"/leads/{lead['id']}", headers=headers()).json()
    assert stored["status"] == "won"
    assert stored["deal_value"] == {"amount": 250000.0, "currency": "RUB"}
    closed = client.get(f"/app/leads/{lead['id']}")
    assert "data-status=" not in closed.text  # nothing leaves won
    again = client.post(
        f"/app/leads/{lead['id']}/status", data={"csrf_token": token, "status": "lost"}
    )
    assert again.status_code == 409


def test_missing_leads_and_bad_ids_are_404_pages(client: TestClient) -> None:
    sign_in(client, "sdr")
    for path in ("/app/leads/999999", "/app/leads/abc", "/app/leads/0"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")


def test_docs_pages_use_only_the_packaged_assets(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets
        assert all(asset.startswith("/static/") for asset in assets)
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
    assert "unsafe-inline" not in client.get("/docs").headers["content-security-policy"]
    assert client.get("/openapi.json").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith(("/app", "/signin")) for path in paths)
