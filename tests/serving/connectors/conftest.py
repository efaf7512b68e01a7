"""The real app with CRM connectors configured against the local stand-ins (standins.py):
a connector settings file and a generic mapping file in a tmp dir, secrets in env vars."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from tests.serving.connectors import payloads
from tests.serving.connectors.standins import (
    AMOCRM_TOKEN,
    BITRIX24_CODE,
    HUBSPOT_TOKEN,
    CrmState,
    StandIn,
)

AMOCRM_SECRET = "amo-webhook-secret-7f3a"
BITRIX24_TOKEN = "b24-application-token-91c2"
HUBSPOT_SECRET = "hubspot-client-secret-55d0"
FORM_SECRET = "form-secret-0c1d"
#: The CRM field ids/names the tests configure (and expect in write-backs).
AMOCRM_FIELDS = {"probability": 901, "tier": 902, "reasons": 903, "version": 904}
BITRIX24_FIELDS = {
    "probability": "UF_CRM_LS_PROBABILITY",
    "tier": "UF_CRM_LS_TIER",
    "reasons": "UF_CRM_LS_REASONS",
    "version": "UF_CRM_LS_VERSION",
}
HUBSPOT_PROPERTIES = {
    "probability": "leadscore_probability",
    "tier": "leadscore_tier",
    "reasons": "leadscore_reasons",
}
FORM_FIELDS = {"probability": "lead_score", "tier": "lead_tier", "reasons": "lead_reasons"}


def _yaml_map(values: dict[str, Any], indent: str) -> str:
    return "\n".join(f"{indent}{key}: {value}" for key, value in values.items())


def connectors_yaml(url: str, token_file: Path) -> str:
    return f"""\
amocrm:
  subdomain: {payloads.AMOCRM_SUBDOMAIN}
  base_url: {url}/amocrm
  token: {{env: TEST_AMOCRM_TOKEN}}
  webhook_secret: {{env: TEST_AMOCRM_WEBHOOK_SECRET}}
  channel_field: Канал
  fields:
{_yaml_map(AMOCRM_FIELDS, "    ")}
  statuses:
    47000001: new
    47000002: sdr_qualifying
bitrix24:
  webhook_url: {{env: TEST_BITRIX24_WEBHOOK_URL}}
  application_token: {{file: {token_file}}}
  domain: {payloads.BITRIX24_DOMAIN}
  fields:
{_yaml_map(BITRIX24_FIELDS, "    ")}
  statuses:
    NEW: new
    IN_PROCESS: sdr_qualifying
    CONVERTED: won
    JUNK: disqualified
hubspot:
  base_url: {url}/hubspot
  token: {{env: TEST_HUBSPOT_TOKEN}}
  client_secret: {{env: TEST_HUBSPOT_CLIENT_SECRET}}
  properties:
{_yaml_map(HUBSPOT_PROPERTIES, "    ")}
  statuses:
    NEW: new
    UNQUALIFIED: disqualified
generic:
  website:
    mapping: website_form.yaml
    secret: {{env: TEST_FORM_SECRET}}
    write_back_url: {{env: TEST_FORM_WRITE_BACK_URL}}
"""


WEBSITE_FORM = """\
# The website's contact form (a Tilda-style JSON POST).
name: website
id_field: submission.id
time_field: submission.sent_at
channel_field: utm.medium
channel: website
source:
  utm_source: utm.source
  utm_campaign: utm.campaign
  email: contact.email
  phone: contact.phone
  contact_name: contact.name
  company_name: contact.company
  message: form.question
bant:
  need_service: form.service
  timeframe: form.when
write_back:
  probability: lead_score
  tier: lead_tier
  reasons: lead_reasons
"""


@pytest.fixture(scope="session")
def standin() -> Iterator[StandIn]:
    server = StandIn().start()
    yield server
    server.stop()


@pytest.fixture
def crm(standin: StandIn) -> Iterator[CrmState]:
    standin.state.reset()
    yield standin.state
    standin.state.reset()


@pytest.fixture
def connectors_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> Path:
    folder = tmp_path / "connectors"
    folder.mkdir()
    (folder / "website_form.yaml").write_text(WEBSITE_FORM, encoding="utf-8")
    (folder / "bitrix24_token.txt").write_text(BITRIX24_TOKEN + "\n", encoding="utf-8")
    path = folder / "connectors.yaml"
    path.write_text(connectors_yaml(standin.url, folder / "bitrix24_token.txt"), encoding="utf-8")
    monkeypatch.setenv("TEST_AMOCRM_TOKEN", AMOCRM_TOKEN)
    monkeypatch.setenv("TEST_AMOCRM_WEBHOOK_SECRET", AMOCRM_SECRET)
    monkeypatch.setenv(
        "TEST_BITRIX24_WEBHOOK_URL", f"{standin.url}/bitrix24/rest/1/{BITRIX24_CODE}/"
    )
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", HUBSPOT_TOKEN)
    monkeypatch.setenv("TEST_HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET)
    monkeypatch.setenv("TEST_FORM_SECRET", FORM_SECRET)
    monkeypatch.setenv("TEST_FORM_WRITE_BACK_URL", f"{standin.url}/zapier/hooks/catch/123/abc/")
    return path


@pytest.fixture
def crm_settings(settings: ServingSettings, connectors_file: Path) -> ServingSettings:
    return settings.model_copy(
        update={
            "connectors_file": connectors_file,
            "crm_poll_seconds": 0.1,
            "crm_backoff_seconds": 0.1,
            "crm_max_attempts": 3,
            "crm_timeout_seconds": 0.5,
            "crm_lease_seconds": 5.0,
            "sweep_seconds": 0,
        }
    )


@pytest.fixture
def crm_client(crm_settings: ServingSettings, crm: CrmState) -> Iterator[TestClient]:
    with TestClient(create_app(crm_settings, loader=MemoryLoader())) as client:
        yield client


def eventually(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.02) -> Any:
    """``check()`` once it is truthy (an AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check}")
        time.sleep(every)
