"""The Jinja2 templates of the pages, their filters, and ``render``.

Every page extends ``base.html``, which shows the signed-in person, the links their role
may use (``nav.py``) and carries the CSRF token for htmx requests.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from serving.web.nav import links_for
from serving.web.sessions import WebSession
from serving.web.state import pages_of

TEMPLATES = Path(__file__).parent / "templates"


def percent(probability: float | None) -> str:
    return "not scored" if probability is None else f"{probability:.0%}"


def when(moment: datetime | None) -> str:
    """A UTC moment as people read it: 2026-10-14 09:05 UTC."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters.update(percent=percent, when=when, iso=iso)
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    return templates


def session_of(request: Request) -> WebSession | None:
    session: WebSession | None = getattr(request.state, "web_session", None)
    return session


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    session = session_of(request)
    base = {
        "session": session,
        "nav": links_for(session.role) if session else [],
        "csrf_token": session.csrf if session else "",
        "current_path": request.url.path,
    }
    templates = pages_of(request).templates
    response = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    response.headers.setdefault("Cache-Control", "no-store")
    return response
