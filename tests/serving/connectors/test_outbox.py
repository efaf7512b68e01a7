"""The outbox under a failing CRM: 500s and timeouts are retried with backoff, then
dead-lettered (visible in /metrics and `leadscore outbox list`) and sent again by
`leadscore outbox retry`; a 429's Retry-After is waited; a lead the CRM does not have is a
dead webhook event, nothing stored."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from serving.cli.main import app as cli
from serving.connectors.jobs import backoff
from serving.scores import Score
from serving.store.tables import LeadRow, OutboxRow, WebhookEventRow
from tests.serving.conftest import headers
from tests.serving.connectors import payloads
from tests.serving.connectors.conftest import eventually
from tests.serving.connectors.standins import CrmState, WriteAnswer
from tests.serving.connectors.test_webhooks import amocrm_post, count, store_of

PATCH_PATH = "/amocrm/api/v4/leads/{}"


def _lead_in(client: TestClient, crm: CrmState, lead_id: int) -> None:
    crm.amocrm_leads[lead_id] = payloads.amocrm_lead(lead_id)
    crm.amocrm_contacts[7143599] = payloads.AMOCRM_CONTACT
    assert amocrm_post(client, payloads.amocrm_added(lead_id)).json()["accepted"] == 1


def _outbox(client: TestClient) -> list[OutboxRow]:
    with store_of(client).reading() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def _dead(client: TestClient) -> list[OutboxRow]:
    rows = _outbox(client)
    return rows if rows and all(row.state == "dead" for row in rows) else []


def test_backoff_doubles_with_jitter_within_bounds() -> None:
    assert backoff(1, 2.0, 60.0, draw=lambda: 0.0) == 1.0
    assert backoff(1, 2.0, 60.0, draw=lambda: 1.0) == 2.0
    assert backoff(3, 2.0, 60.0, draw=lambda: 1.0) == 8.0
    assert backoff(10, 2.0, 60.0, draw=lambda: 1.0) == 60.0  # capped
    assert backoff(1, 2.0, 60.0, draw=lambda: 0.0, retry_after=30) == 30.0
    assert backoff(1, 2.0, 60.0, draw=lambda: 0.0, retry_after=999) == 60.0


def test_500s_are_retried_with_backoff_then_dead_then_retried_by_the_cli(
    crm_client: TestClient,
    crm: CrmState,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crm.writes = WriteAnswer(status=500)
    _lead_in(crm_client, crm, 2001)
    (row,) = eventually(lambda: _dead(crm_client))
    assert row.attempts == 3
    assert "HTTP 500" in (row.last_error or "")
    tries = crm.recorded("PATCH", PATCH_PATH.format(2001))
    assert [t.status for t in tries] == [500, 500, 500]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(tries)]
    # backoff 0.1 s doubled per try, at least half of it with the jitter
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1

    scraped = crm_client.get("/metrics", headers=headers("admin")).text
    assert 'leadscore_crm_outbox{state="dead"} 1.0' in scraped
    assert 'leadscore_crm_deliveries_total{connector="amocrm",outcome="dead"} 1.0' in scraped
    assert 'leadscore_crm_deliveries_total{connector="amocrm",outcome="retry"} 2.0' in scraped

    monkeypatch.setenv("LEADSCORE_DATABASE_URL", database_url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["outbox", "list"])
    assert listed.exit_code == 0, listed.output
    assert "0 pending, 1 dead" in listed.output
    assert "HTTP 500" in listed.output

    crm.writes = WriteAnswer()
    retried = runner.invoke(cli, ["outbox", "retry"])
    assert retried.exit_code == 0, retried.output
    assert "1 dead write-back(s) due again" in retried.output
    eventually(lambda: [r.state for r in _outbox(crm_client)] == ["delivered"])
    assert len(crm.delivered("PATCH", PATCH_PATH.format(2001))) == 1


def test_a_429_waits_for_retry_after(crm_client: TestClient, crm: CrmState) -> None:
    crm.writes = WriteAnswer(status=429, retry_after=0.5)
    _lead_in(crm_client, crm, 2002)
    path = PATCH_PATH.format(2002)
    (first,) = eventually(lambda: crm.recorded("PATCH", path))
    crm.writes = WriteAnswer()
    (done,) = eventually(lambda: crm.delivered("PATCH", path))
    assert done.at - first.at >= 0.5
    eventually(lambda: [r.state for r in _outbox(crm_client)] == ["delivered"])


def test_a_crm_that_does_not_answer_in_time_is_dead_lettered(
    crm_client: TestClient, crm: CrmState
) -> None:
    crm.writes = WriteAnswer(delay=0.8)  # the client gives up after 0.5 s
    _lead_in(crm_client, crm, 2003)
    (row,) = eventually(lambda: _dead(crm_client))
    assert row.attempts == 3
    assert "timed out" in (row.last_error or "")


def test_a_lead_the_crm_does_not_have_is_a_dead_event(
    crm_client: TestClient, crm: CrmState
) -> None:
    assert amocrm_post(crm_client, payloads.amocrm_added(4040)).json()["accepted"] == 1
    store = store_of(crm_client)

    def dead() -> list[WebhookEventRow]:
        with store.reading() as session:
            return list(
                session.scalars(select(WebhookEventRow).where(WebhookEventRow.state == "dead"))
            )

    (event,) = eventually(dead)
    assert "amoCRM has no lead 4040" in (event.last_error or "")
    assert count(store, LeadRow) == 0
    scraped = crm_client.get("/metrics", headers=headers("admin")).text
    assert "leadscore_crm_events_dead 1.0" in scraped


def test_an_older_score_is_not_sent_after_a_newer_one(
    crm_client: TestClient, crm: CrmState
) -> None:
    """Two score versions of one lead due at once: only the newer is written back."""
    services = crm_client.app.state.services  # type: ignore[attr-defined]
    services.settings = services.settings.model_copy(update={"crm_max_attempts": 1000})
    crm.writes = WriteAnswer(status=500)  # the first version waits, failing, in the outbox
    _lead_in(crm_client, crm, 2004)
    store = store_of(crm_client)
    (first,) = eventually(lambda: _outbox(crm_client))
    lead = store.lead_by_external("amocrm:2004")
    assert lead is not None
    newer = Score("arrival", "sql", 0.9, "A", [], "rule", "fallback", True, "test")
    store.add_scores(lead.id, [newer], datetime.now(UTC), "sql")
    crm.writes = WriteAnswer()
    with store.writing() as session:  # both due now
        for row in session.scalars(select(OutboxRow)):
            row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    newer_row = eventually(
        lambda: [
            r
            for r in _outbox(crm_client)
            if r.state == "delivered" and r.score_id != first.score_id
        ]
    )
    older = eventually(
        lambda: [
            r for r in _outbox(crm_client) if r.score_id == first.score_id and r.state != "pending"
        ]
    )
    # superseded; or, when its try was already on its way as the newer score came, sent
    # before the newer one: either way the CRM ends with the newer version
    assert older[0].state in ("superseded", "delivered")
    sent = crm.delivered("PATCH", PATCH_PATH.format(2004))
    values = {f["field_id"]: f["values"][0]["value"] for f in sent[-1].body["custom_fields_values"]}
    assert values[902] == "A"
    assert values[904].startswith(f"{newer_row[0].score_id} (")
    versions = [p.body["custom_fields_values"][-1]["values"][0]["value"] for p in sent]
    is_newer = [v.startswith(f"{newer_row[0].score_id} (") for v in versions]
    # a write-back is at least once: a try on its way as the test made the rows due may
    # send the newer version twice, but nothing older is ever sent after it
    assert all(is_newer[is_newer.index(True) :])
