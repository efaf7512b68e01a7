"""The rules every request's input meets before an endpoint sees it (docs/serving.md,
"Input rules").

* JSON bodies are read strictly (:func:`read_json`): a key given twice in one object, text
  with a NUL character, a number that is not finite (``NaN``, ``Infinity``, ``1e309``) and
  nesting deeper than :data:`MAX_JSON_DEPTH` are a 422 naming the field;
* path and query parameters never carry a NUL character (422 naming the parameter);
* lead ids in paths are 1 .. 2^63 - 1 (:data:`LeadId`), the range the store's ids have;
* event times (arrival, first touch, status changes) lie in the :class:`EventWindow` the
  settings give: not before 1 January of ``earliest_event_year``, not after now plus
  ``event_ahead_minutes``.

:class:`CheckedRoute` applies the first two to every route of a router that uses it
(``APIRouter(route_class=CheckedRoute)``); the OpenAPI schema is FastAPI's, unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from features.lead import Lead
from serving.api.deps import ServicesDep
from serving.api.errors import ApiError, invalid, invalid_many
from serving.settings import ServingSettings

#: Objects and lists nest at most this deep in a request body.
MAX_JSON_DEPTH = 32
#: The largest lead id (the store's ids are signed 64-bit integers).
MAX_LEAD_ID = 2**63 - 1
NUL = "\x00"
_NUL_MESSAGE = "text must not contain the NUL character (\\u0000)"

LeadId = Annotated[
    int, Path(ge=1, le=MAX_LEAD_ID, description="the lead's id in leadscore (1 .. 2^63 - 1)")
]


# ------------------------------------------------------------------------------ JSON bodies


class _DuplicateKeys(dict[str, Any]):
    """An object in which ``key`` was given more than once (reported with its path)."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            return _DuplicateKeys(pairs, key)
        seen.add(key)
    return dict(pairs)


@dataclass(frozen=True)
class BodyProblem:
    path: tuple[str | int, ...]
    message: str
    value: Any = None

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path) or "(whole body)"


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, list):
        yield from enumerate(value)


def body_problems(document: Any, max_depth: int = MAX_JSON_DEPTH) -> list[BodyProblem]:
    """What breaks the body rules in a parsed JSON document, each with its path (no
    recursion: a deep document costs a loop, not the stack)."""
    problems: list[BodyProblem] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                problems.append(BodyProblem(path, _NUL_MESSAGE, value))
        elif isinstance(value, float):
            if not math.isfinite(value):
                problems.append(BodyProblem(path, "expected a finite number", value))
        elif isinstance(value, dict | list):
            if len(path) >= max_depth:
                problems.append(BodyProblem(path, f"nested too deeply: at most {max_depth} levels"))
                continue
            if isinstance(value, _DuplicateKeys):
                problems.append(BodyProblem(path, f"the key '{value.key}' is given more than once"))
            for key, item in _children(value):
                if isinstance(key, str) and NUL in key:
                    problems.append(BodyProblem((*path, key), "a key " + _NUL_MESSAGE, key))
                stack.append(((*path, key), item))
    return sorted(problems, key=lambda problem: problem.field)


def _whole_body(message: str) -> ApiError:
    return invalid("(whole body)", message)


def read_json(body: bytes) -> Any:
    """The parsed body; ApiError (422) when it breaks a body rule. Syntax errors are left to
    FastAPI (``json.JSONDecodeError``: a 422 saying where the JSON is broken)."""
    try:
        document = json.loads(body, object_pairs_hook=_object)
    except RecursionError:
        raise _whole_body(f"nested too deeply: at most {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # an integer of more digits than Python converts
        raise _whole_body(f"a number is too long to read ({error})") from None
    problems = body_problems(document)
    if problems:
        raise invalid_many(
            [
                {"field": p.field, "location": "body", "message": p.message, "input": p.value}
                for p in problems
            ]
        )
    return document


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class CheckedRequest(Request):
    """A request whose JSON body is read by :func:`read_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


def parameter_problems(request: Request) -> list[dict[str, Any]]:
    """Path and query parameters holding a NUL character, in the API's error shape."""
    found = [
        ("path", name, value)
        for name, value in request.path_params.items()
        if isinstance(value, str) and NUL in value
    ]
    found += [
        ("query", name, value)
        for name, value in request.query_params.multi_items()
        if NUL in value or NUL in name
    ]
    return [
        {"field": name, "location": location, "message": _NUL_MESSAGE, "input": value}
        for location, name, value in found
    ]


def _syntax_error(error: json.JSONDecodeError) -> RequestValidationError:
    """Broken JSON, in the shape FastAPI gives it (a 422 saying where)."""
    return RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", error.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": error.msg},
            }
        ]
    )


class CheckedRoute(APIRoute):
    """A route whose parameters and JSON body meet the input rules before FastAPI reads
    them; a breach is a 422 from the app's error handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            request = CheckedRequest(request.scope, request.receive)
            problems = parameter_problems(request)
            if problems:
                raise invalid_many(problems)
            if _is_json(request) and await request.body():
                try:
                    await request.json()
                except json.JSONDecodeError as error:
                    raise _syntax_error(error) from error
            return await handler(request)

        return checked


# ------------------------------------------------------------------------------ event times


@dataclass(frozen=True)
class EventWindow:
    """When an event of a lead may be dated: ``earliest`` .. ``latest`` (inclusive)."""

    earliest: datetime
    latest: datetime

    def problem(self, at: datetime | None) -> str | None:
        """What is wrong with ``at`` (None: fine, or not given)."""
        if at is None:
            return None
        if at.tzinfo is None:
            return "give a timezone, e.g. 2026-03-02T10:00:00Z"
        if at < self.earliest:
            return f"expected a time from {self.earliest.isoformat()} on"
        if at > self.latest:
            return (
                f"expected a time no later than {self.latest.isoformat()} "
                "(now plus the allowed clock skew)"
            )
        return None


def event_window(settings: ServingSettings, now: datetime) -> EventWindow:
    earliest = datetime(settings.earliest_event_year, 1, 1, tzinfo=UTC)
    return EventWindow(earliest, now + timedelta(minutes=settings.event_ahead_minutes))


async def _event_window(services: ServicesDep) -> EventWindow:
    return event_window(services.settings, services.clock())


EventWindowDep = Annotated[EventWindow, Depends(_event_window)]


def lead_time_errors(window: EventWindow, lead: Lead, prefix: str = "") -> list[dict[str, Any]]:
    """The lead's event times outside ``window``, in the API's error shape. An arrival
    the sender left out is "now" and so always inside."""
    times: list[tuple[str, datetime | None]] = [
        ("arrived_at", lead.arrived_at),
        ("source.first_touch_at", lead.source.first_touch_at),
        *((f"status_history.{i}.at", c.at) for i, c in enumerate(lead.status_history)),
    ]
    errors = []
    for field, at in times:
        message = window.problem(at)
        if message is not None:
            errors.append(
                {
                    "field": prefix + field,
                    "location": "body",
                    "message": message,
                    "input": at.isoformat() if at else None,
                }
            )
    return errors


def check_lead_times(window: EventWindow, leads: list[Lead], prefix: str = "") -> None:
    """Raise a 422 naming every event time outside ``window`` (``prefix`` for batches)."""
    errors = [
        error
        for i, lead in enumerate(leads)
        for error in lead_time_errors(window, lead, prefix.format(i=i))
    ]
    if errors:
        raise invalid_many(errors)
