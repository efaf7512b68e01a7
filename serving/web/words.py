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

from features.i18n import DEFAULT_LOCALE, LOCALES, Translator, resolve_locale, translator

#: The serving layer's gettext domain and the package holding ``catalogs/<domain>.<locale>.po``.
DOMAIN = "serving"
PACKAGE = "serving"
#: The cookie the language switch sets, and how long it is kept.
LANG_COOKIE = "lang"
LANG_COOKIE_SECONDS = 365 * 24 * 60 * 60
#: Each language as the switch names it (in itself).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "ru": "Русский"}


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name for a marker)
    """Marks ``message`` for the catalogs; it is translated where it is shown."""
    return message


def words(locale: str | None) -> Translator:
    """The pages' translator in ``locale`` (a supported language; else English)."""
    return translator(locale, domain=DOMAIN, package=PACKAGE)


def installation_locale(request: Request) -> str:
    """``LEADSCORE_LOCALE`` of the running service (English before it has started)."""
    services = getattr(request.app.state, "services", None)
    settings = getattr(services, "settings", None)
    locale = getattr(settings, "locale", None)
    return locale if locale in LOCALES else DEFAULT_LOCALE


def page_locale(request: Request) -> str:
    """The language of this request's page: the ``lang`` cookie, else Accept-Language,
    else the installation's (kept on ``request.state.lang``)."""
    known: str | None = getattr(request.state, "lang", None)
    if known is not None:
        return known
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen not in LOCALES:
        chosen = resolve_locale(
            request.headers.get("accept-language"), installation_locale(request)
        )
    request.state.lang = chosen
    return chosen


def page_words(request: Request) -> Translator:
    """The translator of this request's page."""
    return words(page_locale(request))
