"""The real service (uvicorn subprocess, as benchmarks/chaos.py runs it) SIGKILLed with
write-backs still undelivered (the CRM stand-in failing them): after a restart each score
version reaches the CRM exactly once and the outbox is all delivered."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from serving.store.leads import Store
from serving.store.tables import OutboxRow
from tests.serving import harness
from tests.serving.connectors import payloads
from tests.serving.connectors.conftest import AMOCRM_SECRET, eventually
from tests.serving.connectors.standins import CrmState, StandIn, WriteAnswer

LEADS = (3001, 3002, 3003)


class Service:
    """leadscore as a subprocess on a fixed port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.port = env, log, harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = harness.start_uvicorn(self.port, self.env, self.log)
        health = f"{self.url}/health"
        # a loaded machine imports slowly
        harness.wait_until_answers(self.process, health, self.log, timeout=240, every=0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


@pytest.fixture
def service_env(tmp_path: Path, connectors_file: Path) -> dict[str, str]:
    return harness.service_env(
        tmp_path,
        LEADSCORE_DEMO="true",
        LEADSCORE_REGISTRY_WAIT_SECONDS="0",
        LEADSCORE_CONNECTORS_FILE=str(connectors_file),
        LEADSCORE_CRM_POLL_SECONDS="0.1",
        LEADSCORE_CRM_BACKOFF_SECONDS="0.2",
        LEADSCORE_CRM_BACKOFF_MAX_SECONDS="0.5",
        LEADSCORE_CRM_MAX_ATTEMPTS="100",
        LEADSCORE_CRM_LEASE_SECONDS="2",
    )


@pytest.fixture
def service(service_env: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    running = Service(service_env, tmp_path / "service.log")
    yield running
    running.kill()


def test_killed_with_undelivered_rows_delivers_each_score_once_after_restart(
    service: Service, crm: CrmState, standin: StandIn, tmp_path: Path
) -> None:
    for lead_id in LEADS:
        crm.amocrm_leads[lead_id] = payloads.amocrm_lead(lead_id)
    crm.amocrm_contacts[7143599] = payloads.AMOCRM_CONTACT
    crm.writes = WriteAnswer(status=503)  # the CRM is down: write-backs wait in the outbox
    service.start()
    url = f"{service.url}/webhooks/amocrm/{AMOCRM_SECRET}"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for lead_id in LEADS:
        answer = httpx.post(url, content=payloads.amocrm_added(lead_id), headers=form)
        assert answer.json()["accepted"] == 1, answer.text
    paths = [f"/amocrm/api/v4/leads/{lead_id}" for lead_id in LEADS]
    eventually(lambda: all(crm.recorded("PATCH", path) for path in paths))
    service.kill()
    assert not any(crm.delivered("PATCH", path) for path in paths)

    crm.writes = WriteAnswer()  # the CRM is back
    service.start()
    eventually(lambda: all(crm.delivered("PATCH", path) for path in paths), timeout=20)
    time.sleep(1.0)  # more polls and any lapsed lease: still nothing sent twice
    service.kill()
    store = Store.open(f"sqlite:///{tmp_path / 'leads.db'}")
    try:
        with store.reading() as session:
            rows = list(session.scalars(select(OutboxRow).order_by(OutboxRow.lead_id)))
    finally:
        store.close()
    assert [row.state for row in rows] == ["delivered"] * len(LEADS)
    for path, row in zip(paths, rows, strict=True):
        (sent,) = crm.delivered("PATCH", path)
        fields = {f["field_id"]: f["values"][0]["value"] for f in sent.body["custom_fields_values"]}
        assert fields[904].startswith(f"{row.score_id} (")  # the score version sent
