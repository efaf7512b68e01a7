"""What endpoints depend on: the running services, a model snapshot, the caller's key.

Endpoints declare them with the ``Annotated`` aliases below, e.g.
``def get_lead(lead_id: int, store: StoreDep, caller: LeadReader) -> LeadDetail``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from features.questionnaire import QuestionCatalog
from serving.api.auth import PERMISSIONS, ApiKey, KeyRing, Permission
from serving.api.errors import ApiError
from serving.api.metrics import ServiceMetrics
from serving.api.records import RecordSchema
from serving.modelset import ModelHolder, ModelLoader, ModelSet
from serving.scoring import Scorer
from serving.settings import ServingSettings
from serving.store.leads import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a running app holds (``app.state.services``, set up by the lifespan)."""

    settings: ServingSettings
    keys: KeyRing
    metrics: ServiceMetrics
    catalog: QuestionCatalog
    record_schema: RecordSchema
    scorer: Scorer
    loader: ModelLoader
    clock: Callable[[], datetime] = utc_now
    store: Store | None = None
    models: ModelHolder | None = None


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None or services.store is None or services.models is None:
        raise ApiError(503, "the service is starting or stopping; try again shortly")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_store(services: ServicesDep) -> Store:
    assert services.store is not None
    return services.store


def get_models(services: ServicesDep) -> ModelSet:
    """The model snapshot this request uses from start to end, whatever reloads happen."""
    assert services.models is not None
    return services.models.current


StoreDep = Annotated[Store, Depends(get_store)]
ModelsDep = Annotated[ModelSet, Depends(get_models)]

_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key (roles: see docs/serving.md)"
)
_bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")


def require(action: Permission) -> Callable[..., ApiKey]:
    """A dependency that lets through callers whose role may do ``action``."""
    allowed = ", ".join(sorted(role.value for role in PERMISSIONS[action]))

    def check(
        request: Request,
        header_key: Annotated[str | None, Security(_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> ApiKey:
        services: Services | None = getattr(request.app.state, "services", None)
        if services is None:
            raise ApiError(503, "the service is starting or stopping; try again shortly")
        presented = header_key or (bearer.credentials if bearer is not None else None)
        if not presented:
            raise ApiError(
                401,
                "missing API key: send it in the X-API-Key header "
                "(or as 'Authorization: Bearer <key>')",
            )
        caller = services.keys.identify(presented)
        if caller is None:
            raise ApiError(401, "unknown API key")
        if not caller.may(action):
            raise ApiError(
                403,
                f"role '{caller.role.value}' may not {action.value}; needs one of: {allowed}",
                role=caller.role.value,
                needs=sorted(role.value for role in PERMISSIONS[action]),
            )
        return caller

    return check


LeadReader = Annotated[ApiKey, Depends(require(Permission.READ_LEADS))]
LeadCreator = Annotated[ApiKey, Depends(require(Permission.CREATE_LEADS))]
Scoring = Annotated[ApiKey, Depends(require(Permission.SCORE))]
QueueReader = Annotated[ApiKey, Depends(require(Permission.READ_QUEUE))]
Claimer = Annotated[ApiKey, Depends(require(Permission.CLAIM))]
Qualifier = Annotated[ApiKey, Depends(require(Permission.QUALIFY))]
StatusChanger = Annotated[ApiKey, Depends(require(Permission.CHANGE_STATUS))]
MetricsReader = Annotated[ApiKey, Depends(require(Permission.READ_METRICS))]
ReportReader = Annotated[ApiKey, Depends(require(Permission.READ_REPORTS))]
Admin = Annotated[ApiKey, Depends(require(Permission.ADMIN))]
