"""A funnel move sent by a page's form: the form as the API's ``StatusRequest`` body (pure),
and the move itself through the API's ``change_status``, its refusals as a message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from features.funnel import Status
from serving.api.auth import ApiKey
from serving.api.deps import Services
from serving.api.errors import ApiError, validation_errors
from serving.api.schemas import StatusRequest
from serving.api.workflows import change_status
from serving.store.leads import Store
from serving.web.errors import lead_number, refusals_as_pages

CURRENCIES = ("RUB", "USD", "EUR", "KZT")


def text_fields(form: Any) -> dict[str, str]:
    """A submitted form's text fields (files left out)."""
    return {key: value for key, value in form.items() if isinstance(value, str)}


def status_body(submitted: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields as the body of ``POST /leads/{id}/status``: the deal value only
    for ``won`` (an empty amount is sent as missing, so the API names it)."""
    body: dict[str, Any] = {"status": submitted.get("status", "")}
    note = submitted.get("note", "").strip()
    if note:
        body["note"] = note
    if submitted.get("status") == Status.WON.value:
        amount = submitted.get("deal_amount", "").strip()
        body["deal_value"] = {"amount": amount or None, "currency": submitted.get("deal_currency")}
    return body


async def move_from_form(
    request: Request, services: Services, store: Store, lead_id: str, caller: ApiKey
) -> tuple[int, str | None]:
    """The lead the path names and the move its submitted form asks for: the lead's number,
    and None when the move is done, else why not (nothing changed)."""
    number = lead_number(lead_id)
    submitted = text_fields(await request.form())
    return number, move_lead(services, store, number, submitted, caller)


def move_lead(
    services: Services, store: Store, lead_id: int, submitted: Mapping[str, str], caller: ApiKey
) -> str | None:
    """Move the lead as the form asks; None when done, else why not (nothing changed).
    A missing lead or a move the funnel refuses raises the 404/409 page."""
    try:
        request_model = StatusRequest.model_validate(status_body(submitted))
        with refusals_as_pages():
            change_status(services, store, lead_id, request_model, caller)
    except ValidationError as error:
        return "; ".join(f"{e['field']}: {e['message']}" for e in validation_errors(error.errors()))
    except ApiError as error:
        return error.detail
    return None
