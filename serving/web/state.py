"""What the installed pages hold (``app.state.pages``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.templating import Jinja2Templates

from serving.web.sessions import SessionKeeper
from serving.web.settings import WebSettings


@dataclass
class Pages:
    settings: WebSettings
    templates: Jinja2Templates
    sessions: SessionKeeper


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages
