"""The connector settings file (``LEADSCORE_CONNECTORS_FILE``, YAML) and its secrets.

One section per CRM (``amocrm``, ``bitrix24``, ``hubspot``) and ``generic`` (named
webhooks, each with a mapping file). Secrets (tokens, webhook secrets, the Bitrix24
inbound webhook URL) are never written in the file itself: each is ``{env: NAME}`` or
``{file: PATH}`` and is read into a :class:`pydantic.SecretStr` when the file is loaded,
so it never shows in a log, a repr or an error. docs/crm.md has an example of each section.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from features.funnel import Status


def _text_keys(value: Any) -> Any:
    """YAML reads ``142: won`` with a number for a key: CRM statuses are text here."""
    return {str(key): item for key, item in value.items()} if isinstance(value, dict) else value


#: A status map as written in the file: the CRM's status -> a funnel status.
Statuses = Annotated[dict[str, Status], BeforeValidator(_text_keys)]


class ConnectorConfigError(ValueError):
    """A connector settings file that cannot be used: says where and why (never a secret)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Section):
    """Where a secret is: an environment variable or a file (its first line)."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env: VARIABLE or file: PATH")
        return self

    def where(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def read(self) -> SecretStr:
        if self.env is not None:
            value = os.environ.get(self.env)
        else:
            assert self.file is not None
            try:
                value = self.file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ConnectorConfigError(
                    f"cannot read {self.where()}: {error.strerror}"
                ) from None
        if not value:
            raise ConnectorConfigError(f"{self.where()} is not set or empty")
        return SecretStr(value)


class WriteFields(_Section):
    """The CRM fields a score is written to (amoCRM field ids, Bitrix24 UF_CRM_ codes,
    HubSpot property names); ``version`` is optional (the score version, for audits)."""

    probability: int | str
    tier: int | str
    reasons: int | str
    version: int | str | None = None


class AmoCrmConfig(_Section):
    subdomain: str = Field(description="the account: <subdomain>.amocrm.ru")
    base_url: str | None = Field(
        default=None, description="API address; default https://<subdomain>.amocrm.ru"
    )
    token: SecretRef = Field(description="long-lived token (Settings > Integrations)")
    webhook_secret: SecretRef = Field(description="the secret part of the webhook URL")
    fields: WriteFields
    statuses: Statuses = Field(default_factory=dict)
    channel_field: str | None = Field(
        default=None, description="custom field (code or name) holding the channel"
    )
    default_channel: str = "amocrm"
    currency: str = Field(default="RUB", pattern=r"^[A-Z]{3}$")


class Bitrix24Config(_Section):
    webhook_url: SecretRef = Field(
        description="the portal's inbound webhook URL https://<portal>/rest/<user>/<code>/"
    )
    application_token: SecretRef = Field(description="the outbound webhook's application token")
    domain: str | None = Field(default=None, description="the portal, checked against auth[domain]")
    fields: WriteFields
    statuses: Statuses = Field(default_factory=dict)
    default_channel: str = "bitrix24"


class HubSpotConfig(_Section):
    base_url: str = "https://api.hubapi.com"
    token: SecretRef = Field(description="private app access token")
    client_secret: SecretRef = Field(description="the app's client secret (signs webhooks)")
    public_url: str | None = Field(
        default=None,
        description="the webhook URL as HubSpot calls it (behind a proxy); default: the "
        "request's own URL",
    )
    properties: WriteFields
    status_property: str = "hs_lead_status"
    statuses: Statuses = Field(default_factory=dict)
    default_channel: str = "hubspot"


class GenericConfig(_Section):
    mapping: Path = Field(description="the mapping file (YAML), relative to this file")
    secret: SecretRef = Field(description="sent by the form in the X-Webhook-Secret header")
    write_back_url: SecretRef | None = Field(
        default=None, description="where scores are POSTed back (e.g. a Zapier catch hook)"
    )


class ConnectorsConfig(_Section):
    amocrm: AmoCrmConfig | None = None
    bitrix24: Bitrix24Config | None = None
    hubspot: HubSpotConfig | None = None
    generic: dict[str, GenericConfig] = Field(default_factory=dict)


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '(top)'}: {e['msg']}"
        for e in error.errors(include_input=False)
    )


def load_config(path: Path) -> ConnectorsConfig:
    """Read and check the connector settings file (secrets are read later, by the hub)."""
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConnectorConfigError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConnectorConfigError(f"{path} is not valid YAML: {error}") from None
    try:
        return ConnectorsConfig.model_validate(document)
    except ValidationError as error:
        raise ConnectorConfigError(f"{path}: {_problems(error)}") from None
