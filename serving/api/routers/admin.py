"""Administration: the models in service."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.deps import Admin, ServicesDep
from serving.api.inputs import CheckedRoute
from serving.api.schemas import ModelsOut
from serving.api.workflows import fallback_names
from serving.modelset import load_model_set

router = APIRouter(prefix="/admin", tags=["admin"], route_class=CheckedRoute)


def _models_out(services: ServicesDep) -> ModelsOut:
    assert services.models is not None
    current = services.models.current
    return ModelsOut(
        models=current.versions(),
        fallback=fallback_names(current, services.scorer.queue_target),
        loaded_at=current.loaded_at,
    )


@router.get("/models", summary="The models in service")
def get_models(services: ServicesDep, caller: Admin) -> ModelsOut:
    return _models_out(services)


@router.post("/models/reload", summary="Load the champion of every model now")
def reload_models(services: ServicesDep, caller: Admin) -> ModelsOut:
    """Requests in flight finish on the models they started with; a model whose load
    fails keeps serving its previous version; a model without a champion is dropped
    (the fallback rule scores in its place)."""
    assert services.models is not None
    dataset = services.settings.dataset
    services.models.update(
        lambda current: load_model_set(services.loader, dataset, previous=current)
    )
    return _models_out(services)
