"""``install_pages``: the web pages on an app, next to the JSON API.

Adds the page routers, the static files (``/static``: CSS, JS, the vendored htmx, Swagger
UI and ReDoc) and the page error handlers, and keeps what they share on
``app.state.pages``. The session secret is read or created on first use.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from serving.api.deps import Services
from serving.web.errors import install_page_errors
from serving.web.routers import admin, channels, docs, language, leads, queue, sales, signin
from serving.web.sessions import SessionKeeper
from serving.web.settings import WebSettings
from serving.web.state import Pages
from serving.web.templating import TEMPLATES, make_templates

STATIC = TEMPLATES.parent / "static"


def install_pages(app: FastAPI, services: Services, settings: WebSettings | None = None) -> Pages:
    settings = settings or WebSettings()
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    keeper = SessionKeeper(
        services.keys, secret, services.settings.data_dir, settings.session_minutes
    )
    pages = Pages(
        settings=settings, templates=make_templates(services.settings.likely_soon), sessions=keeper
    )
    app.state.pages = pages
    for router in (
        signin.router,
        queue.router,
        sales.router,
        channels.router,
        leads.router,
        admin.router,
        docs.router,
        language.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_page_errors(app)
    return pages
