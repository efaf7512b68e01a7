"""The generic JSON webhook: any form, chat widget or Zapier-style tool, mapped onto a lead
by a mapping file.

The mapping file is YAML in the dataset specs' style (features/specs/): it names the field
that is the id, the time and the channel (``id_field``, ``time_field``,
``channel_field``), which body field fills each source field and BANT answer, and the
names the score is written back under. Fields are dotted paths into the body
(``contact.email``, ``answers.0.value``). Without ``id_field`` the lead's id is a hash of
the body (the same body is the same lead); without ``time_field`` it arrived when received.
The sender proves itself with the ``X-Webhook-Secret`` header. A body that does not make a
valid lead is refused at once (422 naming the field), since no fetch follows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from features.funnel import Status
from features.lead import Lead, SourceData
from serving.api.texts import pydantic_text
from serving.connectors import base
from serving.connectors.config import ConnectorConfigError, Statuses, WriteFields
from serving.connectors.statuses import status_map
from serving.store.outbox import NewEvent

SECRET_HEADER = "x-webhook-secret"
#: BANT answers a mapping may fill (the budget as its three parts).
BANT_FIELDS = (
    "budget_amount", "budget_currency", "budget_bracket", "authority_role",
    "is_decision_maker", "need_service", "need_fit", "timeframe",
)  # fmt: skip


class Mapping(BaseModel):
    """A mapping file: a JSON body -> a lead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    description: str | None = None
    id_field: str | None = None
    time_field: str | None = None
    channel_field: str | None = None
    channel: str = Field(default="webhook", description="the channel when channel_field is empty")
    source: dict[str, str] = Field(default_factory=dict)
    bant: dict[str, str] = Field(default_factory=dict)
    status_field: str | None = None
    statuses: Statuses = Field(default_factory=dict)
    write_back: WriteFields | None = None

    @field_validator("source")
    @classmethod
    def _source_fields(cls, value: dict[str, str]) -> dict[str, str]:
        known = set(SourceData.model_fields) - {"channel"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown source fields {unknown}; expected some of {sorted(known)}")
        return value

    @field_validator("bant")
    @classmethod
    def _bant_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(BANT_FIELDS))
        if unknown:
            raise ValueError(f"unknown BANT fields {unknown}; expected some of {list(BANT_FIELDS)}")
        return value


def load_mapping(path: Path) -> Mapping:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Mapping.model_validate(document)
    except OSError as error:
        raise ConnectorConfigError(f"cannot read the mapping {path}: {error.strerror}") from None
    except (yaml.YAMLError, ValidationError) as error:
        raise ConnectorConfigError(f"mapping {path}: {error}") from None


_MISSING = object()


def pick(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``document`` (None when any step is missing)."""
    value = document
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            value = _MISSING
        if value is _MISSING:
            return None
    return value


def body_id(document: Any) -> str:
    """A stable id of a body that has none: a hash of its canonical JSON."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _bant(mapping: Mapping, document: Any) -> dict[str, Any] | None:
    values = {name: pick(document, path) for name, path in mapping.bant.items()}
    values = {name: value for name, value in values.items() if value not in (None, "")}
    if not values:
        return None
    budget = {
        part: values.pop(f"budget_{part}")
        for part in ("amount", "currency", "bracket")
        if f"budget_{part}" in values
    }
    return {**values, **({"budget": budget} if budget else {})}


class Generic:
    """One named generic webhook (``/webhooks/generic/<name>``)."""

    def __init__(
        self, name: str, mapping: Mapping, secret: str, write_back_url: str | None
    ) -> None:
        self.form = name
        self.name = f"generic.{name}"
        self.mapping = mapping
        self._secret = secret
        self._write_back_url = write_back_url
        self.statuses = status_map(mapping.statuses)

    def verify(self, inbound: base.Inbound) -> None:
        given = inbound.headers.get(SECRET_HEADER)
        if not given:
            raise base.RefusedError("no X-Webhook-Secret header")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            raise base.RefusedError(
                f"X-Webhook-Secret is not the secret of the webhook '{self.form}'"
            )

    def crm_id(self, document: Any) -> str:
        if self.mapping.id_field is None:
            return body_id(document)
        value = pick(document, self.mapping.id_field)
        if value in (None, "") or isinstance(value, dict | list | bool):
            raise base.BadPayloadError(
                self.mapping.id_field, "expected the id of the lead (text or number)"
            )
        return str(value)[:100]

    def events(self, inbound: base.Inbound) -> list[NewEvent]:
        document = inbound.json_body
        if not isinstance(document, dict):
            raise base.BadPayloadError("(whole body)", "expected a JSON object")
        crm_id = self.crm_id(document)
        self.lead(document, inbound.received_at)  # a body that makes no lead is a 422 now
        return [NewEvent(f"lead:{crm_id}", "lead", crm_id, payload=document)]

    def fetch(self, http: httpx.Client, crm_id: str, payload: dict[str, Any] | None) -> Any:
        return payload  # the body is the whole record: nothing to fetch

    def lead(self, record: Any, received_at: datetime) -> Lead:
        mapping = self.mapping
        source: dict[str, Any] = {name: pick(record, path) for name, path in mapping.source.items()}
        channel = pick(record, mapping.channel_field) if mapping.channel_field else None
        source["channel"] = str(channel) if channel not in (None, "") else mapping.channel
        data: dict[str, Any] = {
            "external_id": base.external_id(self.name, self.crm_id(record)),
            "source": {k: v for k, v in source.items() if v not in (None, "")},
            "bant": _bant(mapping, record),
        }
        at = pick(record, mapping.time_field) if mapping.time_field else None
        data["arrived_at"] = at if at not in (None, "") else received_at
        try:
            return Lead.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise base.BadPayloadError(self._body_field(where), pydantic_text(first)) from None

    def _body_field(self, lead_field: str) -> str:
        """The body's field (through the mapping) behind a lead field, for error messages."""
        mapping = self.mapping
        top, _, rest = lead_field.partition(".")
        if top == "source" and rest in mapping.source:
            return mapping.source[rest]
        if top == "arrived_at" and mapping.time_field:
            return mapping.time_field
        if top == "bant":
            name = rest.replace("budget.", "budget_")
            if name in mapping.bant:
                return mapping.bant[name]
        return lead_field

    def status(self, crm_status: str | None, record: Any) -> tuple[Status, str] | None:
        field = self.mapping.status_field
        raw = crm_status if crm_status is not None else (pick(record, field) if field else None)
        mapped = self.statuses(None if raw is None else str(raw))
        return None if mapped is None else (mapped, f"{self.name} status {raw}")

    def deal(self, record: Any) -> tuple[float, str] | None:
        return None

    @property
    def writes_back(self) -> bool:
        return self._write_back_url is not None and self.mapping.write_back is not None

    def write_back(self, http: httpx.Client, crm_id: str, score: base.WriteBack) -> None:
        names = self.mapping.write_back
        if self._write_back_url is None or names is None:
            return
        body: dict[str, Any] = {"id": crm_id, **score.fields(names)}
        base.call(http, "POST", self._write_back_url, f"{self.name} write-back {crm_id}", json=body)
