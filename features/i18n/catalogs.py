"""The gettext catalogs: one ``.po`` file per language under ``catalogs/``, read with Babel.

The catalogs are read at first use (``babel.messages.pofile.read_po``) and compiled in
memory, so a fresh ``pip install -e .`` needs no build step; ``translator(locale)`` caches
one ``Translator`` per language. The message ids are the English texts with
``{placeholders}``; a phrase is ``translator(locale).gettext(id).format(...)``.
"""

from __future__ import annotations

import gettext as gettext_module
from functools import lru_cache
from importlib import resources
from io import BytesIO

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from features.i18n.locales import LOCALES, resolve_locale

#: The gettext domain: ``catalogs/<domain>.<locale>.po``.
DOMAIN = "leadscore"


def catalog_text(locale: str) -> str:
    """The ``.po`` source of one language's catalog."""
    path = resources.files("features.i18n") / "catalogs" / f"{DOMAIN}.{locale}.po"
    return path.read_text(encoding="utf-8")


def read_catalog(locale: str) -> Catalog:
    """One language's catalog as Babel reads it."""
    return read_po(BytesIO(catalog_text(locale).encode("utf-8")), locale=locale, domain=DOMAIN)


class Translator:
    """``gettext`` and ``ngettext`` in one language (falling back to the message id)."""

    def __init__(self, locale: str, catalog: Catalog) -> None:
        self.locale = locale
        compiled = BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        self._translations = gettext_module.GNUTranslations(compiled)

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._translations.ngettext(singular, plural, n)


@lru_cache(maxsize=len(LOCALES))
def _translator(locale: str) -> Translator:
    return Translator(locale, read_catalog(locale))


def translator(locale: str | None) -> Translator:
    """The translator of the supported language ``locale`` resolves to."""
    return _translator(resolve_locale(locale))
