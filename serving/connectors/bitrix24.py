"""Bitrix24: its outbound events in, the lead read with ``crm.item.get``, the score back.

* Events (https://apidocs.bitrix24.com/api-reference/crm/leads/events/on-crm-lead-add.html):
  ``ONCRMLEADADD`` / ``ONCRMLEADUPDATE`` as ``application/x-www-form-urlencoded`` fields
  ``event``, ``data[FIELDS][ID]``, ``ts``, ``auth[application_token]``, ``auth[domain]``;
  the application token (shown when the outbound webhook is created) is checked.
* The lead: ``crm.item.get`` with ``entityTypeId=1`` through the portal's inbound webhook
  URL (https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-get.html); an
  update event carries no status, so the status is read from the item (``statusId``).
* Write-back: ``crm.item.update`` with ``entityTypeId=1`` and ``fields`` = the configured
  ``UF_CRM_...`` fields (probability in percent, tier, reasons, optionally the version).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

import httpx

from features.funnel import Status
from features.lead import Lead
from serving.connectors import base
from serving.connectors.config import Bitrix24Config
from serving.connectors.statuses import StatusMap, status_map
from serving.store.outbox import NewEvent

NAME = "bitrix24"
#: Lead entity type of the universal crm.item.* methods.
LEAD_ENTITY_TYPE = 1
_EVENTS = {"ONCRMLEADADD": "lead", "ONCRMLEADUPDATE": "status"}


def parse_events(form: dict[str, str]) -> list[NewEvent]:
    """A lead added (fetch and store it) or updated (fetch it and follow its status)."""
    event = form.get("event", "").strip().upper()
    kind = _EVENTS.get(event)
    if kind is None:
        return []
    crm_id = form.get("data[FIELDS][ID]", "").strip()
    if not crm_id.isdigit():
        raise base.BadPayloadError(
            "data[FIELDS][ID]", f"expected a numeric Bitrix24 lead id, got {crm_id!r}"
        )
    if kind == "lead":
        return [NewEvent(f"add:{crm_id}", "lead", crm_id)]
    # an update has no status of its own: a retry repeats the same ts (the event's time)
    return [NewEvent(f"update:{crm_id}:{form.get('ts', '')}", "status", crm_id)]


def _first(values: Any, kind: str) -> str | None:
    """The first e-mail or phone of the item's multi-fields (``fm`` or ``email``/``phone``)."""
    for entry in values or []:
        if not isinstance(entry, dict):
            continue
        if str(entry.get("typeId", kind)).upper() == kind:
            value = entry.get("value") or entry.get("VALUE")
            if value:
                return str(value)[:200]
    return None


def _result(response: httpx.Response, what: str) -> Any:
    body = base.json_of(response, what)
    if isinstance(body, dict) and "error" in body:
        raise base.CrmError(
            f"{what}: {body.get('error')} {body.get('error_description', '')}".strip(),
            permanent=body.get("error") == "NOT_FOUND",
        )
    return body.get("result") if isinstance(body, dict) else None


class Bitrix24:
    """The Bitrix24 connector of one portal."""

    name = NAME
    writes_back = True

    def __init__(self, config: Bitrix24Config, webhook_url: str, application_token: str) -> None:
        self.config = config
        self._url = webhook_url.rstrip("/") + "/"
        self._token = application_token
        self.statuses: StatusMap = status_map(config.statuses)

    def verify(self, inbound: base.Inbound) -> None:
        form = inbound.form()
        token = form.get("auth[application_token]")
        if not token:
            raise base.RefusedError("no auth[application_token] in the event")
        if not hmac.compare_digest(token.encode(), self._token.encode()):
            raise base.RefusedError("auth[application_token] is not this service's Bitrix24 token")
        domain = form.get("auth[domain]")
        if self.config.domain is not None and domain != self.config.domain:
            raise base.RefusedError(
                f"auth[domain] is {domain!r}, not the configured {self.config.domain!r}"
            )

    def events(self, inbound: base.Inbound) -> list[NewEvent]:
        return parse_events(inbound.form())

    def fetch(self, http: httpx.Client, crm_id: str, payload: dict[str, Any] | None) -> Any:
        what = f"Bitrix24 crm.item.get {crm_id}"
        body = {"entityTypeId": LEAD_ENTITY_TYPE, "id": int(crm_id)}
        result = _result(
            base.call(http, "POST", self._url + "crm.item.get.json", what, json=body), what
        )
        item = (result or {}).get("item")
        if not isinstance(item, dict):
            raise base.CrmError(f"{what}: the answer has no result.item", permanent=True)
        return item

    def lead(self, record: Any, received_at: datetime) -> Lead:
        name = " ".join(str(record.get(k) or "") for k in ("name", "lastName")).strip()
        source = {
            "channel": str(record.get("sourceId") or self.config.default_channel).lower(),
            "utm_source": record.get("utmSource"),
            "utm_medium": record.get("utmMedium"),
            "utm_campaign": record.get("utmCampaign"),
            "email": _first(record.get("fm"), "EMAIL") or _first(record.get("email"), "EMAIL"),
            "phone": _first(record.get("fm"), "PHONE") or _first(record.get("phone"), "PHONE"),
            "company_name": record.get("companyTitle"),
            "contact_name": name or None,
            "message": record.get("comments"),
        }
        return Lead.model_validate(
            {
                "external_id": base.external_id(NAME, str(record["id"])),
                "arrived_at": record.get("createdTime") or received_at,
                "source": {k: v for k, v in source.items() if v not in (None, "")},
            }
        )

    def status(self, crm_status: str | None, record: Any) -> tuple[Status, str] | None:
        raw = crm_status if crm_status is not None else str(record.get("statusId"))
        mapped = self.statuses(raw)
        return None if mapped is None else (mapped, f"Bitrix24 status {raw}")

    def deal(self, record: Any) -> tuple[float, str] | None:
        amount, currency = record.get("opportunity"), record.get("currencyId")
        if not amount or not currency:
            return None
        return float(amount), str(currency)

    def write_back(self, http: httpx.Client, crm_id: str, score: base.WriteBack) -> None:
        fields = score.fields(self.config.fields)
        body = {"entityTypeId": LEAD_ENTITY_TYPE, "id": int(crm_id), "fields": fields}
        what = f"Bitrix24 crm.item.update {crm_id}"
        _result(base.call(http, "POST", self._url + "crm.item.update.json", what, json=body), what)
