"""Which supported language a language tag or an ``Accept-Language`` header means."""

from __future__ import annotations

from babel.core import Locale, UnknownLocaleError

from features.labels import LANGUAGES

#: The supported languages, and the one used when nothing better matches.
LOCALES: tuple[str, ...] = LANGUAGES
DEFAULT_LOCALE = "en"


def _weighted(header: str) -> list[tuple[float, int, str]]:
    """(-quality, position, tag) of each entry of an Accept-Language style list."""
    found: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag.strip() and quality > 0:
            found.append((-quality, position, tag.strip()))
    return sorted(found)


def _language(tag: str) -> str | None:
    if tag == "*":
        return None
    try:
        return Locale.parse(tag.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None


def resolve_locale(tag: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The supported language of ``tag`` (``ru``, ``ru-RU``, ``en_GB``, or a whole
    ``Accept-Language`` value such as ``"de-DE,ru;q=0.8,en;q=0.5"``); else ``default``."""
    if not tag:
        return default
    for _quality, _position, one in _weighted(tag):
        language = _language(one)
        if language in LOCALES:
            return language
    return default
