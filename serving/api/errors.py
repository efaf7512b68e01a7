"""Every error the service returns is JSON with a ``detail`` that says what was expected.

* 422: ``{"detail": "...", "errors": [{"field": "source.email", "location": "body",
  "type": "missing", "message": ..., "input": ...}]}`` for bad input (the field path
  without its location; ``type`` is pydantic's error type or the service's own short id);
* 409 for refused state changes (with ``current`` and ``allowed`` for funnel moves);
* 413 for bodies above the limit (checked on Content-Length and while streaming);
* 503 with ``Retry-After`` when the lead store cannot be reached (an outage, a lock held
  too long): nothing was changed, the same request can be sent again;
* 500 with a generic message (the error itself is logged, never sent) and
  ``Connection: close``, so that a client's pool never reuses the connection.

Human texts (``detail``, each ``message``) are in the request's language (Accept-Language,
else ``LEADSCORE_LOCALE``; see :mod:`serving.api.texts`); machine values (status codes,
``field``, ``location``, ``type``, statuses) are the same in every language.

Inputs echoed in a 422 are JSON-safe: short text, finite numbers (a non-finite one is
echoed as its name, ``NaN``/``Infinity``), integers of at most 30 digits.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.funnel import TransitionError
from serving.api import texts
from serving.api.middleware import HttpMiddleware
from serving.api.schemas import ErrorOut, InvalidRequestOut
from serving.api.texts import error_locale, locale_of, pydantic_message, text_type, translate
from serving.store.leads import LeadNotFoundError, StoreError

log = logging.getLogger(__name__)

_LOCATIONS = ("body", "query", "path", "header", "cookie")
_MAX_INPUT_CHARS = 200
_MAX_DETAIL_ERRORS = 5
_MAX_INPUT_DIGITS = 30
#: Seconds a client is asked to wait (``Retry-After``) when the lead store is unreachable.
STORE_RETRY_SECONDS = 5


class ApiError(Exception):
    """An error answer: status code, a message, and extra JSON fields."""

    def __init__(self, status_code: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.extra = extra


def invalid(
    field: str,
    message: str,
    value: Any = None,
    location: str = "body",
    error_type: str | None = None,
) -> ApiError:
    """A 422 naming one field, in the same shape as request validation errors
    (``error_type``: the entry's ``type``; by default the one of the message's template)."""
    error = {"field": field, "location": location, "message": message, "input": value}
    return invalid_many([error if error_type is None else {**error, "type": error_type}])


def invalid_many(errors: Sequence[dict[str, Any]]) -> ApiError:
    return ApiError(422, _summary(errors), errors=[_safe_error(e) for e in errors])


def _summary(errors: Sequence[dict[str, Any]], locale: str = texts.DEFAULT_LOCALE) -> str:
    words = texts.serving_words(locale)
    parts = [
        f"{e.get('location', 'body')}.{e['field']}: {e['message']}"
        for e in errors[:_MAX_DETAIL_ERRORS]
    ]
    more = len(errors) - _MAX_DETAIL_ERRORS
    suffix = " " + words.gettext(texts.AND_MORE).format(more=more) if more > 0 else ""
    return words.gettext(texts.INVALID_REQUEST).format(problems="; ".join(parts) + suffix)


def _safe_input(value: Any) -> Any:
    """The offending value when it is small and JSON-safe; long text is shortened."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_INPUT_CHARS else value[:_MAX_INPUT_CHARS] + "…"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else json.dumps(value)  # NaN, Infinity
    if isinstance(value, int):
        if abs(value) < 10**_MAX_INPUT_DIGITS:
            return value
        return f"an integer of more than {_MAX_INPUT_DIGITS} digits"
    return None


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    """The entry as answered: ``type`` after ``location`` (the message's template's, else
    ``value_error``), the input made JSON-safe."""
    kind = error.get("type") or text_type(str(error.get("message", ""))) or "value_error"
    safe = {k: v for k, v in error.items() if k not in ("type", "message", "input")}
    return {
        **safe,
        "type": kind,
        "message": error.get("message"),
        "input": _safe_input(error.get("input")),
    }


def _message(error: dict[str, Any], locale: str) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        where = error.get("loc", ())[1:]
        if not reason:
            return translate(texts.NOT_JSON_BARE, locale)
        template = texts.NOT_JSON_AT if where else texts.NOT_JSON
        reason = translate(str(reason), locale)
        position = where[0] if where else None
        return (
            texts.serving_words(locale).gettext(template).format(reason=reason, position=position)
        )
    ctx = error.get("ctx") or {}
    return pydantic_message(str(error.get("type")), ctx, message, locale)


def validation_errors(
    raw: Sequence[Any], locale: str = texts.DEFAULT_LOCALE
) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as ``{"field", "location", "type", "message", "input"}``,
    the messages in ``locale``."""
    errors: list[dict[str, Any]] = []
    for error in raw:
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc and loc[0] in _LOCATIONS else "body"
        path = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        if error.get("type") == "json_invalid":
            path = []  # the location is a character position, named in the message
        errors.append(
            {
                "field": ".".join(path) or "(whole body)",
                "location": location,
                "type": str(error.get("type", "value_error")),
                "message": _message(error, locale),
                "input": error.get("input"),
            }
        )
    return errors


def _json(
    status: int, content: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=content, headers=headers)


def _translated_errors(errors: Sequence[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    return [{**e, "message": translate(str(e.get("message", "")), locale)} for e in errors]


def _answer(detail: str, extra: dict[str, Any], locale: str) -> dict[str, Any]:
    """``detail`` and ``extra`` (its ``errors`` entries) in ``locale``; a 422's summary is
    made again from the translated entries."""
    errors = extra.get("errors")
    if not isinstance(errors, list) or not errors:
        return {"detail": translate(detail, locale), **extra}
    translated = _translated_errors(errors, locale)
    if detail == _summary(errors):
        detail = _summary(translated, locale)
    else:
        detail = translate(detail, locale)
    return {"detail": detail, **extra, "errors": translated}


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "ApiKey"} if exc.status_code == 401 else None
    return _json(exc.status_code, _answer(exc.detail, exc.extra, error_locale(request)), headers)


def store_status(error: StoreError) -> int:
    """The HTTP status of a store refusal: 404 for a missing lead, else 409 (conflict)."""
    return 404 if isinstance(error, LeadNotFoundError) else 409


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    return _json(store_status(exc), _answer(exc.detail, exc.extra, error_locale(request)))


async def _transition_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TransitionError)
    return _json(
        409,
        {
            "detail": translate(str(exc), error_locale(request)),
            "current": exc.current.value,
            "allowed": [status.value for status in exc.allowed],
        },
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    locale = error_locale(request)
    errors = validation_errors(exc.errors(), locale)
    return _json(
        422, {"detail": _summary(errors, locale), "errors": [_safe_error(e) for e in errors]}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    detail = translate(detail, error_locale(request))
    return _json(exc.status_code, {"detail": detail}, dict(exc.headers or {}) or None)


def is_outage(error: Exception) -> bool:
    """Whether a database error means the store cannot be reached (or is locked), rather
    than that the request or the code is wrong."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_outage(exc):
        return await _unexpected(request, exc)
    log.warning(
        "lead store unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    detail = texts.STORE_UNAVAILABLE.format(seconds=STORE_RETRY_SECONDS)
    return _json(
        503,
        {"detail": translate(detail, error_locale(request))},
        {"Retry-After": str(STORE_RETRY_SECONDS)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    detail = translate(texts.INTERNAL, error_locale(request))
    return _json(500, {"detail": detail}, {"Connection": "close"})


_REF = "#/components/schemas/{model}"


def _component(schema: dict[str, Any], model: type[ErrorOut | InvalidRequestOut]) -> str:
    """Add ``model`` (and the models it uses) to the schema's components; its reference."""
    found = model.model_json_schema(ref_template=_REF)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(found.pop("$defs", {}))
    components[model.__name__] = found
    return _REF.format(model=model.__name__)


def _json_response(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema with the error answers as the service gives them: 422 is
    ``InvalidRequestOut`` (not FastAPI's default), any other 4xx and the 503 ``ErrorOut``."""
    invalid_ref = _component(schema, InvalidRequestOut)
    error_ref = _component(schema, ErrorOut)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _json_response("invalid request", invalid_ref)
            responses.setdefault(
                "4XX", _json_response("refused (unauthorised, not found, conflict...)", error_ref)
            )
            responses.setdefault("503", _json_response("starting, or store unavailable", error_ref))
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def _with_documented_errors(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """The error answers of the app, and their description in its OpenAPI schema."""
    _with_documented_errors(app)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(TransitionError, _transition_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(Exception, _unexpected)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, texts.TOO_LARGE.format(limit=limit))


class BodySizeLimit(HttpMiddleware):
    """Refuse bodies above ``limit`` bytes with 413: by Content-Length up front, and by
    counting while the body streams in (chunked uploads have no Content-Length)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        super().__init__(app)
        self.limit = limit

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        locale = locale_of(_header(scope, b"accept-language"), scope.get("app"))
        detail = translate(texts.TOO_LARGE.format(limit=self.limit), locale)
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


def _content_length(scope: Scope) -> int | None:
    declared = _header(scope, b"content-length")
    if declared is None:
        return None
    try:
        return int(declared)
    except ValueError:
        return None
