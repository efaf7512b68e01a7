"""HubSpot: its webhook events in (signature v3 checked), contacts read and written back.

* Webhooks (https://developers.hubspot.com/docs/api/webhooks): a JSON array of events with
  ``eventId``, ``subscriptionType`` (``contact.creation``, ``contact.propertyChange`` with
  ``propertyName``/``propertyValue``), ``objectId``, ``occurredAt``.
* Signature v3 (https://developers.hubspot.com/docs/api/webhooks/validating-requests):
  ``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(client secret, method + URI + body +
  timestamp)) with ``X-HubSpot-Request-Timestamp`` (ms); a timestamp more than five
  minutes off is refused, so a captured request cannot be replayed later.
* The contact: ``GET /crm/v3/objects/contacts/{id}``; write-back: ``PATCH`` of the same
  with ``properties`` (probability in percent, tier, reasons, optionally the version).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

import httpx

from features.funnel import Status
from features.lead import Lead
from serving.connectors import base
from serving.connectors.config import HubSpotConfig
from serving.connectors.statuses import StatusMap, status_map
from serving.store.outbox import NewEvent

NAME = "hubspot"
#: How far a request's timestamp may be from the service's clock.
MAX_SKEW_MS = 5 * 60 * 1000
#: Contact properties read for the lead.
PROPERTIES = (
    "email", "phone", "firstname", "lastname", "company", "message", "createdate",
    "hs_analytics_source", "utm_source", "utm_medium", "utm_campaign",
)  # fmt: skip


def signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature of a request."""
    source = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_signature(secret: str, inbound: base.Inbound, uri: str) -> None:
    """RefusedError unless the request is signed with ``secret`` within the last five minutes."""
    given = inbound.headers.get("x-hubspot-signature-v3")
    stamp = inbound.headers.get("x-hubspot-request-timestamp")
    if not given or not stamp:
        raise base.RefusedError("no X-HubSpot-Signature-v3 / X-HubSpot-Request-Timestamp header")
    if not stamp.isdigit():
        raise base.RefusedError("X-HubSpot-Request-Timestamp is not a time in milliseconds")
    skew = abs(inbound.received_at.timestamp() * 1000 - int(stamp))
    if skew > MAX_SKEW_MS:
        raise base.RefusedError(
            f"X-HubSpot-Request-Timestamp is {skew / 1000:.0f} s from now (at most 300 s): "
            "a stale or replayed request"
        )
    expected = signature(secret, inbound.method, uri, inbound.body, stamp)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise base.RefusedError(
            "X-HubSpot-Signature-v3 does not match (wrong client secret or URL?)"
        )


def parse_events(document: Any, status_property: str) -> list[NewEvent]:
    """Contacts created (fetch and store) and changes of the status property."""
    if not isinstance(document, list):
        raise base.BadPayloadError("(whole body)", "expected a JSON array of HubSpot events")
    events: list[NewEvent] = []
    for i, item in enumerate(document):
        if not isinstance(item, dict):
            raise base.BadPayloadError(f"{i}", "expected an event object")
        kind = item.get("subscriptionType")
        for key in ("eventId", "objectId"):
            if not isinstance(item.get(key), int) or isinstance(item.get(key), bool):
                raise base.BadPayloadError(f"{i}.{key}", "expected an integer")
        crm_id, key = str(item["objectId"]), f"event:{item['eventId']}"
        if kind == "contact.creation":
            events.append(NewEvent(key, "lead", crm_id))
        elif kind == "contact.propertyChange" and item.get("propertyName") == status_property:
            value = item.get("propertyValue")
            events.append(NewEvent(key, "status", crm_id, None if value is None else str(value)))
    return events


class HubSpot:
    """The HubSpot connector of one portal (a private app's token and client secret)."""

    name = NAME
    writes_back = True

    def __init__(self, config: HubSpotConfig, token: str, client_secret: str) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._secret = client_secret
        self.statuses: StatusMap = status_map(config.statuses)

    def verify(self, inbound: base.Inbound) -> None:
        check_signature(self._secret, inbound, self.config.public_url or inbound.url)

    def events(self, inbound: base.Inbound) -> list[NewEvent]:
        return parse_events(inbound.json_body, self.config.status_property)

    def fetch(self, http: httpx.Client, crm_id: str, payload: dict[str, Any] | None) -> Any:
        what = f"HubSpot GET contact {crm_id}"
        url = f"{self.base_url}/crm/v3/objects/contacts/{crm_id}"
        params = {"properties": ",".join((*PROPERTIES, self.config.status_property))}
        return base.json_of(
            base.call(http, "GET", url, what, params=params, headers=self._headers), what
        )

    def lead(self, record: Any, received_at: datetime) -> Lead:
        props = record.get("properties") or {}
        name = " ".join(str(props.get(k) or "") for k in ("firstname", "lastname")).strip()
        channel = props.get("hs_analytics_source") or self.config.default_channel
        source = {
            "channel": str(channel).lower(),
            "utm_source": props.get("utm_source"),
            "utm_medium": props.get("utm_medium"),
            "utm_campaign": props.get("utm_campaign"),
            "email": props.get("email"),
            "phone": props.get("phone"),
            "company_name": props.get("company"),
            "contact_name": name or None,
            "message": props.get("message"),
        }
        return Lead.model_validate(
            {
                "external_id": base.external_id(NAME, str(record["id"])),
                "arrived_at": props.get("createdate") or record.get("createdAt") or received_at,
                "source": {k: v for k, v in source.items() if v not in (None, "")},
            }
        )

    def status(self, crm_status: str | None, record: Any) -> tuple[Status, str] | None:
        props = (record or {}).get("properties") or {}
        raw = crm_status if crm_status is not None else props.get(self.config.status_property)
        mapped = self.statuses(None if raw is None else str(raw))
        return None if mapped is None else (mapped, f"HubSpot {self.config.status_property} {raw}")

    def deal(self, record: Any) -> tuple[float, str] | None:
        return None

    def write_back(self, http: httpx.Client, crm_id: str, score: base.WriteBack) -> None:
        properties = score.fields(self.config.properties)
        url = f"{self.base_url}/crm/v3/objects/contacts/{crm_id}"
        what = f"HubSpot PATCH contact {crm_id}"
        base.call(http, "PATCH", url, what, json={"properties": properties}, headers=self._headers)
