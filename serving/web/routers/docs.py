"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from the vendored files: they work offline
and under the service's CSP (the init scripts are static files too)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from features.i18n import N_
from serving.web.templating import render
from serving.web.words import page_words

router = APIRouter(include_in_schema=False)

#: ReDoc styles itself by writing <style> elements (styled-components), which the service's
#: default CSP refuses; this page alone allows inline styles (never inline scripts) and the
#: search worker ReDoc starts from a blob: URL.
REDOC_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _openapi_url(request: Request) -> str:
    return str(request.app.openapi_url or "/openapi.json")


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    title = page_words(request).gettext(N_("API docs"))
    return render(request, "swagger.html", {"title": title, "spec": _openapi_url(request)})


@router.get("/redoc")
def redoc(request: Request) -> Response:
    title = page_words(request).gettext(N_("API reference"))
    page = render(request, "redoc.html", {"title": title, "spec": _openapi_url(request)})
    page.headers["Content-Security-Policy"] = REDOC_CSP
    return page
