"""The pages' words: the ``serving`` gettext domain, the language of a page, and the marker
for texts translated later.

A page is in the language of the ``lang`` cookie (set by the switch in the page header),
else the browser's ``Accept-Language``, else the installation's ``LEADSCORE_LOCALE``.
Texts are English message ids in ``serving/catalogs/serving.<locale>.po``; templates ask
for them through Jinja's i18n extension (``{% trans %}``, ``_()``: ``%(name)s``
placeholders), Python through a ``Translator`` (``{name}`` placeholders, ``.format``).
Texts defined before a request's language is known are marked with :func:`N_` and
translated where they are shown.
"""

from __future__ import annotations

from fastapi import Request

from features.i18n import LOCALES, Translator
from serving.api.texts import locale_of, serving_words

#: The cookie the language switch sets, and how long it is kept.
LANG_COOKIE = "lang"
LANG_COOKIE_SECONDS = 365 * 24 * 60 * 60
#: Each language as the switch names it (in itself).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "ru": "Русский"}


def page_locale(request: Request) -> str:
    """The language of this request's page: the ``lang`` cookie, else Accept-Language,
    else the installation's (kept on ``request.state.lang``)."""
    known: str | None = getattr(request.state, "lang", None)
    if known is not None:
        return known
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen not in LOCALES:
        chosen = locale_of(request.headers.get("accept-language"), request.app)
    request.state.lang = chosen
    return chosen


def page_words(request: Request) -> Translator:
    """The translator of this request's page."""
    return serving_words(page_locale(request))
