"""The one interface every CRM connector has, and what its parts hand each other.

A webhook request arrives as an :class:`Inbound`; the connector checks it (``verify``,
raising :class:`RefusedError`, a 401 with the reason), reads its events (``events``, raising
:class:`BadPayloadError`, a 422 naming the field), later fetches the full record of a lead
from the CRM (``fetch``), maps it onto a :class:`features.lead.Lead` (``lead``) and its
status onto the funnel (``status``), and writes a score back (``write_back``). CRM calls
raise :class:`CrmError`; ``retry_after`` carries a CRM's own wait (HTTP 429).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

import httpx

from features.funnel import Status
from features.lead import Lead
from serving.store.outbox import NewEvent

if TYPE_CHECKING:
    from serving.connectors.config import WriteFields


class RefusedError(Exception):
    """A webhook that is not from the CRM it claims to be (answered 401 with the reason)."""


class BadPayloadError(Exception):
    """A webhook body the connector cannot read: ``field`` and what was expected (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CrmError(Exception):
    """A CRM call that failed; ``retry_after`` seconds when the CRM said how long to wait,
    ``permanent`` when trying again cannot help (e.g. the record does not exist)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass(frozen=True)
class Inbound:
    """A webhook request as the connectors see it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    path_secret: str | None = None
    json_body: Any = None

    def form(self) -> dict[str, str]:
        """The x-www-form-urlencoded body (amoCRM, Bitrix24) as flat ``a[b][0]`` keys."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadPayloadError("(whole body)", "expected UTF-8 form data") from error
        return dict(parse_qsl(text, keep_blank_values=True))


@dataclass(frozen=True)
class WriteBack:
    """What goes back to the CRM for one score version."""

    score_id: int
    probability: float
    tier: str
    reasons: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""

    @property
    def percent(self) -> float:
        """The probability as a percentage with one decimal (what a CRM field shows)."""
        return round(self.probability * 100, 1)

    @property
    def reasons_text(self) -> str:
        """The top reasons in words, one per line, each with its sign."""
        return "\n".join(
            f"{reason.get('direction', '+')} {reason.get('phrase', '')}".strip()
            for reason in self.reasons
        )

    @property
    def version(self) -> str:
        return f"{self.score_id} ({self.model})" if self.model else str(self.score_id)

    def fields(self, names: WriteFields) -> dict[str, Any]:
        """The score's CRM field values keyed by the configured field names (``version``
        only when a field for it is configured)."""
        out: dict[str, Any] = {
            str(names.probability): self.percent,
            str(names.tier): self.tier,
            str(names.reasons): self.reasons_text,
        }
        if names.version is not None:
            out[str(names.version)] = self.version
        return out


class Connector(Protocol):
    """One CRM (or one generic webhook)."""

    name: str

    @property
    def writes_back(self) -> bool:
        """Whether scores go back (every CRM; a generic webhook with a write-back URL)."""
        ...

    def verify(self, inbound: Inbound) -> None: ...

    def events(self, inbound: Inbound) -> list[NewEvent]: ...

    def fetch(self, http: httpx.Client, crm_id: str, payload: dict[str, Any] | None) -> Any: ...

    def lead(self, record: Any, received_at: datetime) -> Lead: ...

    def status(self, crm_status: str | None, record: Any) -> tuple[Status, str] | None: ...

    def deal(self, record: Any) -> tuple[float, str] | None: ...

    def write_back(self, http: httpx.Client, crm_id: str, score: WriteBack) -> None: ...


def external_id(connector: str, crm_id: str) -> str:
    """The lead's external_id in leadscore: the connector's name and the CRM's id."""
    return f"{connector}:{crm_id}"


def checked(response: httpx.Response, what: str) -> httpx.Response:
    """``response`` when 2xx; else a :class:`CrmError` saying what failed and how."""
    if response.is_success:
        return response
    retry_after = None
    if response.status_code == 429 or response.status_code == 503:
        try:
            retry_after = float(response.headers.get("retry-after", ""))
        except ValueError:
            retry_after = None
    permanent = response.status_code in (400, 401, 403, 404, 422)
    raise CrmError(
        f"{what}: HTTP {response.status_code} {response.text[:300]}",
        retry_after=retry_after,
        permanent=permanent,
    )


def call(http: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
    """One CRM request (the client's bounded timeouts); transport failures as CrmError."""
    try:
        response = http.request(method, url, **kwargs)
    except httpx.TimeoutException as error:
        raise CrmError(f"{what}: timed out ({type(error).__name__})") from error
    except httpx.HTTPError as error:
        raise CrmError(f"{what}: {type(error).__name__}: {error}") from error
    return checked(response, what)


def json_of(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise CrmError(f"{what}: the CRM answered something that is not JSON") from error
