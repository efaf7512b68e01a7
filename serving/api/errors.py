"""Every error the service returns is JSON with a ``detail`` that says what was expected.

* 422: ``{"detail": "...", "errors": [{"field": "source.email", "location": "body",
  "message": ..., "input": ...}]}`` for bad input (the field path without its location);
* 409 for refused state changes (with ``current`` and ``allowed`` for funnel moves);
* 413 for bodies above the limit (checked on Content-Length and while streaming);
* 500 with a generic message (the error itself is logged, never sent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.funnel import TransitionError
from serving.api.middleware import HttpMiddleware
from serving.store.leads import LeadNotFoundError, StoreError

log = logging.getLogger(__name__)

_LOCATIONS = ("body", "query", "path", "header", "cookie")
_MAX_INPUT_CHARS = 200
_MAX_DETAIL_ERRORS = 5


class ApiError(Exception):
    """An error answer: status code, a message, and extra JSON fields."""

    def __init__(self, status_code: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.extra = extra


def invalid(field: str, message: str, value: Any = None, location: str = "body") -> ApiError:
    """A 422 naming one field, in the same shape as request validation errors."""
    return invalid_many(
        [{"field": field, "location": location, "message": message, "input": value}]
    )


def invalid_many(errors: Sequence[dict[str, Any]]) -> ApiError:
    return ApiError(422, _summary(errors), errors=[_safe_error(e) for e in errors])


def _summary(errors: Sequence[dict[str, Any]]) -> str:
    parts = [
        f"{e.get('location', 'body')}.{e['field']}: {e['message']}"
        for e in errors[:_MAX_DETAIL_ERRORS]
    ]
    more = len(errors) - _MAX_DETAIL_ERRORS
    suffix = f" (and {more} more)" if more > 0 else ""
    return "invalid request: " + "; ".join(parts) + suffix


def _safe_input(value: Any) -> Any:
    """The offending value when it is small and JSON-safe; long text is shortened."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_INPUT_CHARS else value[:_MAX_INPUT_CHARS] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    return None


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    safe = {key: value for key, value in error.items() if key != "input"}
    safe["input"] = _safe_input(error.get("input"))
    return safe


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        message = f"the body is not valid JSON ({reason})" if reason else "not valid JSON"
    return message


def validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as ``{"field", "location", "message", "input"}``."""
    errors: list[dict[str, Any]] = []
    for error in raw:
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc and loc[0] in _LOCATIONS else "body"
        path = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        errors.append(
            {
                "field": ".".join(path) or "(whole body)",
                "location": location,
                "message": _message(error),
                "input": error.get("input"),
            }
        )
    return errors


def _json(
    status: int, content: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=content, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "ApiKey"} if exc.status_code == 401 else None
    return _json(exc.status_code, {"detail": exc.detail, **exc.extra}, headers)


def store_status(error: StoreError) -> int:
    """The HTTP status of a store refusal: 404 for a missing lead, else 409 (conflict)."""
    return 404 if isinstance(error, LeadNotFoundError) else 409


async def _store_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    return _json(store_status(exc), {"detail": exc.detail, **exc.extra})


async def _transition_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TransitionError)
    return _json(
        409,
        {
            "detail": str(exc),
            "current": exc.current.value,
            "allowed": [status.value for status in exc.allowed],
        },
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    return _json(422, {"detail": _summary(errors), "errors": [_safe_error(e) for e in errors]})


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return _json(exc.status_code, {"detail": detail}, dict(exc.headers or {}) or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(500, {"detail": "internal error; the service logged the details"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(TransitionError, _transition_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {limit} bytes")


class BodySizeLimit(HttpMiddleware):
    """Refuse bodies above ``limit`` bytes with 413: by Content-Length up front, and by
    counting while the body streams in (chunked uploads have no Content-Length)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        super().__init__(app)
        self.limit = limit

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
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
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"request body too large: the limit is {self.limit} bytes"}
        ).encode()
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


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
