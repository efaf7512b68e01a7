"""amoCRM (Kommo): its webhook in, the lead read with the API v4, the score written back.

* Webhook (https://www.amocrm.ru/developers/content/crm_platform/webhooks-format): an
  ``application/x-www-form-urlencoded`` body with ``leads[add][0][id]``,
  ``leads[status][0][id|status_id|old_status_id|pipeline_id]``, ``unsorted[add][0][...]``
  and ``account[subdomain]``. amoCRM does not sign webhooks: the URL carries a secret
  (``/webhooks/amocrm/<secret>``) and the account's subdomain must be the configured one.
* The lead: ``GET /api/v4/leads/{id}?with=contacts`` and its main contact
  ``GET /api/v4/contacts/{id}`` with the long-lived token
  (https://www.amocrm.ru/developers/content/crm_platform/leads-api).
* Write-back: ``PATCH /api/v4/leads/{id}`` with ``custom_fields_values`` (probability in
  percent, tier, the top reasons as text, optionally the score version).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from features.funnel import Status
from features.lead import Lead
from serving.connectors import base
from serving.connectors.config import AmoCrmConfig
from serving.connectors.statuses import AMOCRM_FIXED, StatusMap, status_map
from serving.store.outbox import NewEvent

NAME = "amocrm"
_KEY = re.compile(r"^(leads|unsorted)\[(add|status)\]\[(\d+)\]\[(.+)\]$")
#: The tracking fields amoCRM keeps on a lead (field_code) -> the lead's source fields.
UTM_CODES = {"UTM_SOURCE": "utm_source", "UTM_MEDIUM": "utm_medium", "UTM_CAMPAIGN": "utm_campaign"}


#: The secret part of the webhook's path, as access logs show it.
_SECRET_PATH = re.compile(r"(/webhooks/amocrm/)[^/?\s]+")


def hide_secret(text: str) -> str:
    """``text`` with the webhook URL's secret replaced by ``***``."""
    return _SECRET_PATH.sub(r"\1***", text)


class HideWebhookSecret(logging.Filter):
    """Keeps the amoCRM webhook secret out of uvicorn's access log (the secret is in the
    URL, the one place amoCRM lets it be)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                hide_secret(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = hide_secret(record.msg)
        return True


#: The one filter instance (adding it twice to a logger is a no-op).
HIDE_WEBHOOK_SECRET = HideWebhookSecret()


def _groups(form: dict[str, str]) -> dict[tuple[str, str, str], dict[str, str]]:
    """``leads[status][0][id]=1`` ... as {("leads", "status", "0"): {"id": "1", ...}}."""
    groups: dict[tuple[str, str, str], dict[str, str]] = {}
    for key, value in form.items():
        found = _KEY.match(key)
        if found:
            entity, action, index, rest = found.groups()
            groups.setdefault((entity, action, index), {})[rest] = value
    return groups


def _numeric(value: str | None, field: str) -> str:
    if value is None or not value.strip().isdigit():
        raise base.BadPayloadError(field, f"expected a numeric amoCRM id, got {value!r}")
    return value.strip()


def parse_events(form: dict[str, str]) -> list[NewEvent]:
    """The events of one webhook: new leads (also from the unsorted inbox) and status
    changes; other events (updates, notes, ...) are not leadscore's and are left out."""
    events: list[NewEvent] = []
    for (entity, action, index), values in sorted(_groups(form).items()):
        where = f"{entity}[{action}][{index}]"
        if entity == "leads" and action == "add":
            crm_id = _numeric(values.get("id"), f"{where}[id]")
            events.append(NewEvent(f"add:{crm_id}", "lead", crm_id))
        elif entity == "leads" and action == "status":
            crm_id = _numeric(values.get("id"), f"{where}[id]")
            status = _numeric(values.get("status_id"), f"{where}[status_id]")
            events.append(NewEvent(f"status:{crm_id}:{status}", "status", crm_id, status))
        elif entity == "unsorted" and action == "add":
            lead = values.get("lead_id") or values.get("data[leads][0][id]")
            crm_id = _numeric(lead, f"{where}[lead_id]")
            events.append(NewEvent(f"add:{crm_id}", "lead", crm_id))
    return events


def _field_values(record: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(field_code, field_name, first value) of a record's custom fields."""
    for field in record.get("custom_fields_values") or []:
        values = field.get("values") or []
        if values:
            yield (
                str(field.get("field_code") or ""),
                str(field.get("field_name") or ""),
                values[0].get("value"),
            )


def _text(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()[:200]


class AmoCrm:
    """The amoCRM connector of one account."""

    name = NAME
    writes_back = True

    def __init__(self, config: AmoCrmConfig, token: str, webhook_secret: str) -> None:
        self.config = config
        self.base_url = (config.base_url or f"https://{config.subdomain}.amocrm.ru").rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._secret = webhook_secret
        self.statuses: StatusMap = status_map(config.statuses, AMOCRM_FIXED)

    def verify(self, inbound: base.Inbound) -> None:
        if not inbound.path_secret or not hmac.compare_digest(
            inbound.path_secret.encode(), self._secret.encode()
        ):
            raise base.RefusedError(
                "the secret in the webhook URL is not this service's amoCRM secret"
            )
        subdomain = inbound.form().get("account[subdomain]")
        if subdomain != self.config.subdomain:
            raise base.RefusedError(
                f"account[subdomain] is {subdomain!r}, not the configured account "
                f"{self.config.subdomain!r}"
            )

    def events(self, inbound: base.Inbound) -> list[NewEvent]:
        return parse_events(inbound.form())

    def fetch(self, http: httpx.Client, crm_id: str, payload: dict[str, Any] | None) -> Any:
        url = f"{self.base_url}/api/v4/leads/{crm_id}"
        what = f"amoCRM GET lead {crm_id}"
        found = base.call(
            http, "GET", url, what, params={"with": "contacts"}, headers=self._headers
        )
        if found.status_code == 204:  # amoCRM's answer when there is no such lead
            raise base.CrmError(f"{what}: amoCRM has no lead {crm_id}", permanent=True)
        lead = base.json_of(found, what)
        contacts = ((lead.get("_embedded") or {}).get("contacts")) or []
        main = next((c for c in contacts if c.get("is_main")), contacts[0] if contacts else None)
        contact = None
        if main is not None:
            what = f"amoCRM GET contact {main['id']}"
            url = f"{self.base_url}/api/v4/contacts/{main['id']}"
            contact = base.json_of(base.call(http, "GET", url, what, headers=self._headers), what)
        return {"lead": lead, "contact": contact}

    def lead(self, record: Any, received_at: datetime) -> Lead:
        lead, contact = record["lead"], record.get("contact") or {}
        source: dict[str, Any] = {"channel": self.config.default_channel, "contact_type": "form"}
        for code, name, value in _field_values(lead):
            if code in UTM_CODES:
                source[UTM_CODES[code]] = _text(value)
            if self.config.channel_field in (code, name) and _text(value):
                source["channel"] = _text(value)
        for code, _name, value in _field_values(contact):
            if code == "EMAIL":
                source["email"] = _text(value)
            elif code == "PHONE":
                source["phone"] = _text(value)
        source["contact_name"] = _text(contact.get("name"))
        created = lead.get("created_at")
        arrived = datetime.fromtimestamp(int(created), UTC) if created else received_at
        return Lead.model_validate(
            {
                "external_id": base.external_id(NAME, str(lead["id"])),
                "arrived_at": arrived,
                "source": {k: v for k, v in source.items() if v is not None},
            }
        )

    def status(self, crm_status: str | None, record: Any) -> tuple[Status, str] | None:
        raw = crm_status if crm_status is not None else str(record["lead"].get("status_id"))
        mapped = self.statuses(raw)
        return None if mapped is None else (mapped, f"amoCRM status {raw}")

    def deal(self, record: Any) -> tuple[float, str] | None:
        price = record["lead"].get("price")
        return (float(price), self.config.currency) if price else None

    def write_back(self, http: httpx.Client, crm_id: str, score: base.WriteBack) -> None:
        fields = self.config.fields
        values: list[tuple[int | str, Any]] = [
            (fields.probability, score.percent),
            (fields.tier, score.tier),
            (fields.reasons, score.reasons_text),
        ]
        if fields.version is not None:
            values.append((fields.version, score.version))
        body = {
            "custom_fields_values": [
                {"field_id": int(field), "values": [{"value": value}]} for field, value in values
            ]
        }
        url = f"{self.base_url}/api/v4/leads/{crm_id}"
        base.call(
            http, "PATCH", url, f"amoCRM PATCH lead {crm_id}", json=body, headers=self._headers
        )
