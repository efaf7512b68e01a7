"""The configured connectors of a running service and the one HTTP client they share.

:func:`load_connectors` reads ``LEADSCORE_CONNECTORS_FILE`` (none configured without it),
reads each secret from its environment variable or file and builds one connector per
section (``amocrm``, ``bitrix24``, ``hubspot``, ``generic.<name>``). CRM calls go through
one ``httpx.Client`` with bounded timeouts (``LEADSCORE_CRM_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from serving.connectors.amocrm import AmoCrm
from serving.connectors.base import Connector
from serving.connectors.bitrix24 import Bitrix24
from serving.connectors.config import ConnectorsConfig, load_config
from serving.connectors.generic import Generic, load_mapping
from serving.connectors.hubspot import HubSpot


@dataclass
class Connectors:
    """Connectors by name, and the HTTP client for their CRM calls."""

    by_name: dict[str, Connector] = field(default_factory=dict)
    timeout_seconds: float = 10.0
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        timeout = httpx.Timeout(self.timeout_seconds)
        self.http = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def get(self, name: str) -> Connector | None:
        return self.by_name.get(name)

    def close(self) -> None:
        self.http.close()


def build(config: ConnectorsConfig, folder: Path) -> dict[str, Connector]:
    """One connector per configured section; mapping files relative to ``folder``."""
    built: dict[str, Connector] = {}
    if config.amocrm is not None:
        amo = config.amocrm
        built["amocrm"] = AmoCrm(
            amo, amo.token.read().get_secret_value(), amo.webhook_secret.read().get_secret_value()
        )
    if config.bitrix24 is not None:
        b24 = config.bitrix24
        built["bitrix24"] = Bitrix24(
            b24,
            b24.webhook_url.read().get_secret_value(),
            b24.application_token.read().get_secret_value(),
        )
    if config.hubspot is not None:
        hub = config.hubspot
        built["hubspot"] = HubSpot(
            hub, hub.token.read().get_secret_value(), hub.client_secret.read().get_secret_value()
        )
    for name, generic in config.generic.items():
        mapping = load_mapping(folder / generic.mapping)
        url = generic.write_back_url.read().get_secret_value() if generic.write_back_url else None
        connector = Generic(name, mapping, generic.secret.read().get_secret_value(), url)
        built[connector.name] = connector
    return built


def load_connectors(path: Path | None, timeout_seconds: float) -> Connectors:
    """The connectors of the settings file ``path`` (none when None)."""
    if path is None:
        return Connectors({}, timeout_seconds)
    return Connectors(build(load_config(path), path.parent), timeout_seconds)
