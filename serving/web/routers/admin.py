"""The admin page: models in service (registry facts, runs), promote and rollback with a
confirmation step, the last retrain decisions with their gates and drift, the CRM outbox
(write-backs pending or dead-lettered, retried from the page), keys in use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from features.i18n import N_
from serving.web.administration import (
    ModelLine,
    key_holders,
    move_alias,
    outbox_view,
    read_model_lines,
    read_retrains,
    registry_uri,
    ui_address,
)
from serving.web.deps import AdminAction, Administering, PageServices
from serving.web.errors import PageError
from serving.web.state import pages_of
from serving.web.templating import render
from serving.web.words import page_words

router = APIRouter(prefix="/app/admin", include_in_schema=False)

VersionText = Annotated[str, Query(min_length=1, max_length=20, pattern=r"^\d+$")]


def _ui_url(request: Request, services: PageServices) -> str | None:
    uri = registry_uri(services)
    return None if uri is None else ui_address(pages_of(request).settings.mlflow_ui_url, uri)


def _line(request: Request, services: PageServices, name: str) -> ModelLine:
    """The model ``name`` among those the service expects (404 page otherwise); moves need a
    registry (409 page otherwise)."""
    if registry_uri(services) is None:
        raise PageError(
            409,
            N_("No model registry"),
            N_(
                "This service loads its models from memory, not from an MLflow registry: "
                "there is nothing to promote or roll back."
            ),
        )
    for line in read_model_lines(services, _ui_url(request, services)):
        if line.name == name:
            return line
    raise PageError(404, N_("Not found"), N_("The service has no model '{name}'."), name=name[:80])


@router.get("")
def admin_page(
    request: Request,
    session: Administering,
    services: PageServices,
    changed: Annotated[str | None, Query(max_length=200)] = None,
    retried: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    ui_url = _ui_url(request, services)
    lines = read_model_lines(services, ui_url)
    assert services.models is not None
    context = {
        "title": page_words(request).gettext(N_("Admin")),
        "lines": lines,
        "changed": next((line for line in lines if line.name == changed), None),
        "has_registry": registry_uri(services) is not None,
        "ui_url": ui_url,
        "loaded_at": services.models.current.loaded_at,
        "registry_problem": services.models.current.registry_problem,
        "retrains": read_retrains(services, [line.name for line in lines], ui_url),
        "holders": key_holders(services.keys),
        "outbox": outbox_view(services),
        "retried": retried,
    }
    return render(request, "admin.html", context)


@router.post("/outbox/retry")
def post_outbox_retry(session: AdminAction, services: PageServices) -> Response:
    """Every dead-lettered write-back due again now (as `leadscore outbox retry`)."""
    from serving.store.outbox import retry_deliveries

    assert services.store is not None
    count = retry_deliveries(services.store, services.clock())
    return RedirectResponse(f"/app/admin?retried={count}#outbox", status_code=303)


def _confirm(
    request: Request, line: ModelLine, action: str, version: str | None, target: str | None
) -> Response:
    title = N_("Roll back {name}") if action == "rollback" else N_("Promote {name}")
    context = {
        "title": page_words(request).gettext(title).format(name=line.name),
        "line": line,
        "action": action,
        "version": version,
        "target": target,
    }
    return render(request, "admin_confirm.html", context)


@router.get("/models/{name}/rollback")
def confirm_rollback(
    request: Request, name: str, session: Administering, services: PageServices
) -> Response:
    line = _line(request, services, name)
    return _confirm(request, line, "rollback", None, line.previous)


@router.get("/models/{name}/promote")
def confirm_promote(
    request: Request,
    name: str,
    session: Administering,
    services: PageServices,
    version: VersionText,
) -> Response:
    line = _line(request, services, name)
    if version not in {v.version for v in line.versions}:
        raise PageError(
            404, N_("Not found"), N_("{name} has no version {version}."), name=name, version=version
        )
    return _confirm(request, line, "promote", version, version)


def _moved(services: PageServices, name: str, version: str | None) -> Response:
    from training.registry import PromotionError

    try:
        move_alias(services, name, version)
    except PromotionError as error:
        raise PageError(409, N_("Refused"), str(error)) from error
    return RedirectResponse(f"/app/admin?changed={name}#model-{name}", status_code=303)


@router.post("/models/{name}/rollback")
def post_rollback(
    request: Request, name: str, session: AdminAction, services: PageServices
) -> Response:
    _line(request, services, name)
    return _moved(services, name, None)


@router.post("/models/{name}/promote")
def post_promote(
    request: Request,
    name: str,
    session: AdminAction,
    services: PageServices,
    version: Annotated[str, Form(min_length=1, max_length=20, pattern=r"^\d+$")],
) -> Response:
    _line(request, services, name)
    return _moved(services, name, version)
