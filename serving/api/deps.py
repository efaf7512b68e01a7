"""What endpoints depend on: the running services, a model snapshot, the caller's key.

Endpoints declare them with the ``Annotated`` aliases below, e.g.
``def get_lead(lead_id: int, store: StoreDep, caller: LeadReader) -> LeadDetail``.
Every key check goes through :func:`authenticate`, which applies the failed-key limit of
the client's address (429 with ``Retry-After``); ``LeadCreator`` also counts the caller's
leads against the intake limit (see :mod:`serving.api.ratelimit`).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from features.i18n import resolve_locale
from features.questionnaire import QuestionCatalog
from features.sla import WorkingHours
from serving.api.auth import ApiKey, KeyRing, Permission, roles_allowed
from serving.api.errors import ApiError
from serving.api.metrics import ServiceMetrics
from serving.api.ratelimit import RateLimits, client_address
from serving.api.records import RecordSchema
from serving.api.texts import (
    MISSING_KEY,
    OVER_INTAKE,
    ROLE_REFUSED,
    STARTING,
    TOO_MANY_BAD_KEYS,
    TRY_AGAIN,
    UNKNOWN_KEY,
)
from serving.modelset import ModelHolder, ModelLoader, ModelSet
from serving.queue import Sla
from serving.scoring import Scorer
from serving.settings import ServingSettings
from serving.store.leads import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a running app holds (``app.state.services``, set up by the lifespan).

    ``settings`` is kept without the raw API keys: ``keys`` (the ring of digests) is what
    checks them, so the raw value is dropped when the services are assembled."""

    settings: ServingSettings
    keys: KeyRing
    metrics: ServiceMetrics
    catalog: QuestionCatalog
    record_schema: RecordSchema
    scorer: Scorer
    loader: ModelLoader
    clock: Callable[[], datetime] = utc_now
    #: Uniform draws on [0, 1) for the exploration boost (a seeded generator in tests).
    draw: Callable[[], float] = random.random
    working_hours: WorkingHours = field(default_factory=WorkingHours.always)
    store: Store | None = None
    models: ModelHolder | None = None
    rate_limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        self.settings = self.settings.without_api_keys()
        self.rate_limits = RateLimits.from_settings(self.settings)

    @property
    def sla(self) -> Sla:
        """The SLA the queue counts: ``LEADSCORE_SLA_MINUTES`` on the working hours."""
        return Sla(self.settings.sla_minutes, self.working_hours)

    @property
    def ready(self) -> bool:
        """The store is open and the models are loaded: requests can be served."""
        return self.store is not None and self.models is not None

    @property
    def lead_store(self) -> Store:
        """The store, once :attr:`ready` (dependencies check that first)."""
        assert self.store is not None
        return self.store


def services_of(request: Request) -> Services | None:
    """The app's services, None before the lifespan has set them up."""
    services: Services | None = getattr(request.app.state, "services", None)
    return services


def _services_of(request: Request) -> Services:
    services = services_of(request)
    if services is None:
        raise ApiError(503, STARTING)
    return services


async def get_services(request: Request) -> Services:
    services = _services_of(request)
    if not services.ready:
        raise ApiError(503, STARTING)
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_store(services: ServicesDep) -> Store:
    return services.lead_store


async def get_models(services: ServicesDep) -> ModelSet:
    """The model snapshot this request uses from start to end, whatever reloads happen."""
    assert services.models is not None
    return services.models.current


StoreDep = Annotated[Store, Depends(get_store)]


async def get_language(request: Request, services: ServicesDep) -> str:
    """The language of the answer's labels: the caller's ``Accept-Language`` among those
    the catalogs hold, else the installation's (``LEADSCORE_LOCALE``)."""
    return resolve_locale(request.headers.get("accept-language"), services.settings.locale)


Language = Annotated[str, Depends(get_language)]
ModelsDep = Annotated[ModelSet, Depends(get_models)]

_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key (roles: see docs/serving.md)"
)
_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")


def too_many(seconds: int, what: str) -> HTTPException:
    """429 with ``Retry-After``: ``what`` says which limit, and when to try again."""
    return HTTPException(
        429,
        TRY_AGAIN.format(what=what, seconds=seconds),
        headers={"Retry-After": str(seconds)},
    )


def requester_address(request: Request, services: Services) -> str:
    """The client's address for rate limits (a trusted proxy's X-Forwarded-For, or the peer)."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    return client_address(peer, forwarded, services.settings.trusted_proxy_networks)


async def presented_key(
    header_key: Annotated[str | None, Security(_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> str | None:
    """The API key the request carries, if any (X-API-Key first, then the bearer token)."""
    return header_key or (bearer.credentials if bearer is not None else None)


PresentedKey = Annotated[str | None, Depends(presented_key)]


def authenticate(request: Request, services: Services, presented: str) -> ApiKey:
    """The caller of ``presented``: 429 while the address is over its failed-key limit
    (whatever key it sends), 401 for an unknown key (counted against the address)."""
    address = requester_address(request, services)
    wait = services.rate_limits.auth_blocked(address)
    if wait is not None:
        raise too_many(wait, TOO_MANY_BAD_KEYS)
    caller = services.keys.identify(presented)
    if caller is None:
        services.rate_limits.auth_failed(address)
        raise ApiError(401, UNKNOWN_KEY)
    return caller


def require(action: Permission) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that lets through callers whose role may do ``action``."""
    needs = roles_allowed(action)
    allowed = ", ".join(needs)

    async def check(request: Request, presented: PresentedKey) -> ApiKey:
        services = _services_of(request)
        if not presented:
            raise ApiError(401, MISSING_KEY)
        caller = authenticate(request, services, presented)
        if not caller.may(action):
            raise ApiError(
                403,
                ROLE_REFUSED.format(role=caller.role.value, action=action.value, allowed=allowed),
                role=caller.role.value,
                needs=needs,
            )
        return caller

    return check


async def optional_caller(request: Request, presented: PresentedKey) -> ApiKey | None:
    """The caller when a key is sent (checked like any other: 401, 429), else None."""
    if not presented:
        return None
    return authenticate(request, _services_of(request), presented)


async def lead_intake(
    request: Request, caller: Annotated[ApiKey, Depends(require(Permission.CREATE_LEADS))]
) -> ApiKey:
    """A caller who may create leads, within the intake limit of its key."""
    wait = _services_of(request).rate_limits.intake(caller.name)
    if wait is not None:
        raise too_many(wait, OVER_INTAKE.format(name=caller.name))
    return caller


LeadReader = Annotated[ApiKey, Depends(require(Permission.READ_LEADS))]
LeadCreator = Annotated[ApiKey, Depends(lead_intake)]
Scoring = Annotated[ApiKey, Depends(require(Permission.SCORE))]
QueueReader = Annotated[ApiKey, Depends(require(Permission.READ_QUEUE))]
Claimer = Annotated[ApiKey, Depends(require(Permission.CLAIM))]
Qualifier = Annotated[ApiKey, Depends(require(Permission.QUALIFY))]
StatusChanger = Annotated[ApiKey, Depends(require(Permission.CHANGE_STATUS))]
MetricsReader = Annotated[ApiKey, Depends(require(Permission.READ_METRICS))]
ReportReader = Annotated[ApiKey, Depends(require(Permission.READ_REPORTS))]
Admin = Annotated[ApiKey, Depends(require(Permission.ADMIN))]
OptionalCaller = Annotated[ApiKey | None, Depends(optional_caller)]
