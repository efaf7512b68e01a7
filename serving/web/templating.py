"""The Jinja2 templates of the pages, their filters, and ``render``.

Every page extends ``base.html``, which shows the signed-in person, the links their role
may use (``nav.py``), the language switch, and carries the CSRF token for htmx requests.
The templates' words go through Jinja's i18n extension (newstyle gettext): ``_()`` and
``{% trans %}`` ask the translator ``render`` puts in the context (``words``), in the
page's language (``words.py``); without one they stay English.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from features.i18n import N_, Translator
from serving.api.texts import serving_words
from serving.settings import LIKELY_SOON
from serving.web.nav import links_for
from serving.web.sessions import WebSession
from serving.web.state import pages_of
from serving.web.views import CLAIM_ENDS
from serving.web.words import LANGUAGE_NAMES, page_locale

TEMPLATES = Path(__file__).parent / "templates"


def words_of(context: Context) -> Translator:
    """The translator a render put in the template's context (English otherwise)."""
    found = context.get("words")
    return found if isinstance(found, Translator) else serving_words(None)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return words_of(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return words_of(context).ngettext(singular, plural, n)


def percent(probability: float | None, translate: Translator | None = None) -> str:
    if probability is None:
        return (translate or serving_words(None)).gettext(N_("not scored"))
    return f"{probability:.0%}"


@pass_context
def _percent(context: Context, probability: float | None) -> str:
    return percent(probability, words_of(context))


def when(moment: datetime | None) -> str:
    """A UTC moment as people read it: 2026-10-14 09:05 UTC."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


def make_templates(likely_soon: float = LIKELY_SOON) -> Jinja2Templates:
    """The pages' templates; ``likely_soon``: the installation's ``likely_soon`` setting, which
    the "likely to convert within 7 days" badge's hint names."""
    templates = Jinja2Templates(directory=TEMPLATES)
    env = templates.env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(percent=_percent, when=when, iso=iso)
    env.globals["claim_ends"] = CLAIM_ENDS
    env.globals["likely_soon_at"] = likely_soon
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def session_of(request: Request) -> WebSession | None:
    session: WebSession | None = getattr(request.state, "web_session", None)
    return session


def back_to(request: Request) -> str:
    """Where the language switch returns: this page (a GET), else the page the form was
    sent from (same-origin Referer), else the home page."""
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(origin + "/"):
        return referer[len(origin) :]
    return "/"


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    session = session_of(request)
    lang = page_locale(request)
    base = {
        "session": session,
        "nav": links_for(session.role) if session else [],
        "csrf_token": session.csrf if session else "",
        "current_path": request.url.path,
        "lang": lang,
        "words": serving_words(lang),
        "languages": LANGUAGE_NAMES,
        "back_to": back_to(request),
    }
    templates = pages_of(request).templates
    response = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Language", lang)
    return response
