"""Security headers on every response, and CORS when configured.

* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  ``X-Frame-Options: DENY`` and a default ``Content-Security-Policy`` (:data:`DEFAULT_CSP`:
  only the service's own scripts, styles and images, plus ``data:`` images) on every
  response the app makes. A header a route set itself wins: the channel report page sends
  its own CSP for its inline styles and images.
* CORS (Starlette's middleware) only when LEADSCORE_CORS_ORIGINS lists origins; without it
  no CORS header is sent and browsers keep to the same origin.

The ``Server`` header is uvicorn's to send: `leadscore serve` turns it off
(``server_header=False``).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.api.middleware import HttpMiddleware
from serving.settings import ServingSettings

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", DEFAULT_CSP),
)

#: What a browser may send cross-origin when CORS is on.
CORS_METHODS = ("GET", "POST", "PUT")
CORS_HEADERS = ("X-API-Key", "Authorization", "Content-Type")


class SecurityHeaders(HttpMiddleware):
    """Adds :data:`SECURITY_HEADERS` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: tuple[tuple[str, str], ...] = SECURITY_HEADERS):
        super().__init__(app)
        self.headers = headers

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in present:
                        present.append(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def install_security(app: FastAPI, settings: ServingSettings) -> None:
    """Security headers always; CORS for the configured origins only."""
    origins = settings.cors_origin_list
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_HEADERS),
            expose_headers=["Retry-After"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
