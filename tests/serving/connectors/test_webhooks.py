"""End to end, per CRM: the webhook in -> the lead fetched from the CRM stand-in -> stored
-> scored -> outbox -> the write-back arrives at the stand-in with the configured field
ids; status changes become funnel moves and outcomes; refusals are 401 with nothing
stored; a repeated webhook is a no-op."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.connectors.hubspot import signature
from serving.store.leads import Store
from serving.store.tables import LeadRow, OutboxRow, WebhookEventRow
from tests.serving.connectors import payloads
from tests.serving.connectors.conftest import (
    AMOCRM_FIELDS,
    AMOCRM_SECRET,
    BITRIX24_CODE,
    BITRIX24_FIELDS,
    BITRIX24_TOKEN,
    FORM_SECRET,
    HUBSPOT_PROPERTIES,
    HUBSPOT_SECRET,
    eventually,
)
from tests.serving.connectors.standins import CrmState

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def store_of(client: TestClient) -> Store:
    store = client.app.state.services.store  # type: ignore[attr-defined]
    assert store is not None
    return store


def stored(store: Store, external_id: str) -> LeadRow:
    """The lead stored under ``external_id``; it must be there."""
    lead = store.lead_by_external(external_id)
    assert lead is not None
    return lead


def count(store: Store, table: Any) -> int:
    with store.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def outbox_states(store: Store) -> list[str]:
    with store.reading() as session:
        return list(session.scalars(select(OutboxRow.state).order_by(OutboxRow.id)))


def amocrm_post(client: TestClient, body: str, secret: str = AMOCRM_SECRET) -> Any:
    return client.post(f"/webhooks/amocrm/{secret}", content=body, headers=FORM)


def test_amocrm_lead_in_score_back_status_won_and_repeats(
    crm_client: TestClient, crm: CrmState
) -> None:
    crm.amocrm_leads[1001] = payloads.amocrm_lead(1001, price=150_000)
    crm.amocrm_contacts[7143599] = payloads.AMOCRM_CONTACT
    answer = amocrm_post(crm_client, payloads.amocrm_added(1001))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"events": 1, "accepted": 1, "repeats": 0}

    patch = eventually(lambda: crm.delivered("PATCH", "/amocrm/api/v4/leads/1001"))
    store = store_of(crm_client)
    lead = stored(store, "amocrm:1001")
    assert lead.channel == "paid_search"  # the configured channel field "Канал"
    assert lead.source["utm_source"] == "yandex"
    assert lead.source["email"] == "irina@stroymarket.ru"
    assert lead.created_by == "crm:amocrm"
    fetched = crm.recorded("GET", "/amocrm/api/v4/leads/1001")
    assert fetched[0].query == "with=contacts"
    (score,) = [s for s in lead.scores if s.target == "sql"]
    values = {f["field_id"]: f["values"][0]["value"] for f in patch[0].body["custom_fields_values"]}
    assert set(values) == set(AMOCRM_FIELDS.values())
    assert values[AMOCRM_FIELDS["probability"]] == round(score.probability * 100, 1)
    assert values[AMOCRM_FIELDS["tier"]] == score.tier == lead.tier
    assert values[AMOCRM_FIELDS["reasons"]].splitlines()[0].startswith(("+ ", "- "))
    assert values[AMOCRM_FIELDS["version"]].startswith(f"{score.id} (")
    eventually(lambda: outbox_states(store) == ["delivered"])

    # the CRM retries the same webhook: a no-op
    again = amocrm_post(crm_client, payloads.amocrm_added(1001))
    assert again.json() == {"events": 1, "accepted": 0, "repeats": 1}
    assert count(store, LeadRow) == 1
    assert count(store, WebhookEventRow) == 1

    # won in amoCRM (the fixed status 142): an outcome with the deal's price
    won = amocrm_post(crm_client, payloads.amocrm_status(1001, 142))
    assert won.json()["accepted"] == 1
    lead = eventually(lambda: _with_status(store, "amocrm:1001", "won"))
    assert lead.stage_reached == "won"
    assert lead.deal_value == 150_000.0
    assert lead.deal_currency == "RUB"
    assert lead.history[-1].note == "amoCRM status 142"
    assert lead.history[-1].changed_by == "crm:amocrm"
    time.sleep(0.3)  # the periodic jobs had their turn: still one write-back, once
    assert len(crm.delivered("PATCH", "/amocrm/api/v4/leads/1001")) == 1


def _with_status(store: Store, external_id: str, status: str) -> Any:
    lead = store.lead_by_external(external_id)
    return lead if lead is not None and lead.status == status else None


def test_amocrm_refusals_store_nothing(crm_client: TestClient, crm: CrmState) -> None:
    wrong_secret = amocrm_post(crm_client, payloads.amocrm_added(5), secret="guess")
    assert wrong_secret.status_code == 401
    assert "secret in the webhook URL" in wrong_secret.json()["detail"]
    other_account = payloads.amocrm_added(5).replace("subdomain%5D=agency", "subdomain%5D=evil")
    refused = amocrm_post(crm_client, other_account)
    assert refused.status_code == 401
    assert "'evil'" in refused.json()["detail"]
    bad_id = amocrm_post(
        crm_client, "leads%5Badd%5D%5B0%5D%5Bid%5D=abc&account%5Bsubdomain%5D=agency"
    )
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "leads[add][0][id]"
    store = store_of(crm_client)
    assert count(store, WebhookEventRow) == 0
    assert count(store, LeadRow) == 0
    assert crm.recorded() == []


def test_bitrix24_lead_in_score_back_and_converted(crm_client: TestClient, crm: CrmState) -> None:
    crm.bitrix24_items[77] = payloads.bitrix24_item(77)
    body = payloads.bitrix24_event("ONCRMLEADADD", 77, BITRIX24_TOKEN)
    answer = crm_client.post("/webhooks/bitrix24", content=body, headers=FORM)
    assert answer.json() == {"events": 1, "accepted": 1, "repeats": 0}
    update_path = f"/bitrix24/rest/1/{BITRIX24_CODE}/crm.item.update.json"
    (update,) = eventually(lambda: crm.delivered("POST", update_path))
    store = store_of(crm_client)
    lead = stored(store, "bitrix24:77")
    assert lead.channel == "web"
    assert lead.source["email"] == "p.orlov@technostroy.ru"
    assert lead.arrived_at.isoformat() == "2026-12-01T07:15:00+00:00"
    assert update.body["entityTypeId"] == 1
    assert update.body["id"] == 77
    assert set(update.body["fields"]) == set(BITRIX24_FIELDS.values())
    assert update.body["fields"]["UF_CRM_LS_TIER"] == lead.tier

    # the lead is converted in Bitrix24: the update event carries no status, it is read
    crm.bitrix24_items[77] = payloads.bitrix24_item(77, status_id="CONVERTED")
    body = payloads.bitrix24_event("ONCRMLEADUPDATE", 77, BITRIX24_TOKEN, ts=1764663600)
    crm_client.post("/webhooks/bitrix24", content=body, headers=FORM)
    lead = eventually(lambda: _with_status(store, "bitrix24:77", "won"))
    assert (lead.deal_value, lead.deal_currency) == (90000.0, "RUB")


def test_bitrix24_wrong_application_token_is_401(crm_client: TestClient, crm: CrmState) -> None:
    body = payloads.bitrix24_event("ONCRMLEADADD", 78, "not-the-token")
    answer = crm_client.post("/webhooks/bitrix24", content=body, headers=FORM)
    assert answer.status_code == 401
    assert "auth[application_token]" in answer.json()["detail"]
    assert count(store_of(crm_client), WebhookEventRow) == 0
    assert crm.recorded() == []


def hubspot_post(
    client: TestClient,
    events: list[dict[str, Any]],
    *,
    secret: str = HUBSPOT_SECRET,
    age_ms: int = 0,
) -> Any:
    body = json.dumps(events).encode()
    stamp = str(int(time.time() * 1000) - age_ms)
    uri = "http://testserver/webhooks/hubspot"
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": stamp,
        "X-HubSpot-Signature-v3": signature(secret, "POST", uri, body, stamp),
    }
    return client.post("/webhooks/hubspot", content=body, headers=headers)


def test_hubspot_contact_in_score_back_and_unqualified(
    crm_client: TestClient, crm: CrmState
) -> None:
    crm.hubspot_contacts[501] = payloads.hubspot_contact(501)
    answer = hubspot_post(crm_client, payloads.hubspot_events(payloads.hubspot_created(9001, 501)))
    assert answer.json() == {"events": 1, "accepted": 1, "repeats": 0}
    path = "/hubspot/crm/v3/objects/contacts/501"
    (patch,) = eventually(lambda: crm.delivered("PATCH", path))
    store = store_of(crm_client)
    lead = stored(store, "hubspot:501")
    assert lead.channel == "organic_search"
    assert set(patch.body["properties"]) == set(HUBSPOT_PROPERTIES.values())
    assert patch.body["properties"]["leadscore_tier"] == lead.tier
    assert "properties=" in crm.recorded("GET", path)[0].query

    changed = payloads.hubspot_changed(9002, 501, "hs_lead_status", "UNQUALIFIED")
    other = payloads.hubspot_changed(9003, 501, "firstname", "Anne")  # not leadscore's
    answer = hubspot_post(crm_client, payloads.hubspot_events(changed, other))
    assert answer.json() == {"events": 1, "accepted": 1, "repeats": 0}
    lead = eventually(lambda: _with_status(store, "hubspot:501", "disqualified"))
    assert lead.in_queue is False


def test_hubspot_bad_or_stale_signature_is_401(crm_client: TestClient, crm: CrmState) -> None:
    events = payloads.hubspot_events(payloads.hubspot_created(9100, 502))
    forged = hubspot_post(crm_client, events, secret="someone-else")
    assert forged.status_code == 401
    assert "X-HubSpot-Signature-v3 does not match" in forged.json()["detail"]
    stale = hubspot_post(crm_client, events, age_ms=6 * 60 * 1000)
    assert stale.status_code == 401
    assert "stale" in stale.json()["detail"]
    unsigned = crm_client.post("/webhooks/hubspot", json=events)
    assert unsigned.status_code == 401
    assert count(store_of(crm_client), WebhookEventRow) == 0
    assert crm.recorded() == []


def form_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "submission": {"id": "f-1001", "sent_at": "2026-12-01T08:00:00Z"},
        "utm": {"source": "vk", "medium": "paid_social", "campaign": "winter"},
        "contact": {"email": "oleg@fabrika.ru", "phone": "+7 900 111 22 33", "name": "Олег"},
        "form": {"question": "Сколько стоит продвижение?", "service": "seo", "when": "lt_3m"},
    }
    body.update(overrides)
    return body


def test_generic_form_in_score_back(crm_client: TestClient, crm: CrmState) -> None:
    headers = {"X-Webhook-Secret": FORM_SECRET}
    answer = crm_client.post("/webhooks/generic/website", json=form_body(), headers=headers)
    assert answer.json() == {"events": 1, "accepted": 1, "repeats": 0}
    (hook,) = eventually(lambda: crm.delivered("POST", "/zapier/hooks/catch/123/abc/"))
    store = store_of(crm_client)
    lead = stored(store, "generic.website:f-1001")
    assert lead.channel == "paid_social"
    assert lead.source["utm_campaign"] == "winter"
    assert lead.arrived_at.isoformat() == "2026-12-01T08:00:00+00:00"
    assert lead.qualifications[0].bant["timeframe"] == "lt_3m"
    assert hook.body["id"] == "f-1001"
    assert {"lead_score", "lead_tier", "lead_reasons"} <= set(hook.body)
    assert hook.body["lead_tier"] == lead.tier
    again = crm_client.post("/webhooks/generic/website", json=form_body(), headers=headers)
    assert again.json()["repeats"] == 1


def test_generic_form_without_id_or_time_and_refusals(
    crm_client: TestClient, crm: CrmState
) -> None:
    headers = {"X-Webhook-Secret": FORM_SECRET}
    body = form_body(submission={})
    first = crm_client.post("/webhooks/generic/website", json=body, headers=headers)
    assert first.status_code == 422  # the mapping names an id field: the form must send it
    assert first.json()["errors"][0]["field"] == "submission.id"
    bad_time = form_body(submission={"id": "f-2", "sent_at": "yesterday"})
    answer = crm_client.post("/webhooks/generic/website", json=bad_time, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "submission.sent_at"
    wrong = crm_client.post(
        "/webhooks/generic/website", json=form_body(), headers={"X-Webhook-Secret": "nope"}
    )
    assert wrong.status_code == 401
    unknown = crm_client.post("/webhooks/generic/chat", json=form_body(), headers=headers)
    assert unknown.status_code == 404
    assert count(store_of(crm_client), WebhookEventRow) == 0
