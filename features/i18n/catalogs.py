"""The gettext catalogs: one ``.po`` file per language and domain, read with Babel.

The catalogs are read at first use (``babel.messages.pofile.read_po``) and compiled in
memory, so a fresh ``pip install -e .`` needs no build step; ``translator(locale)`` caches
one ``Translator`` per language. The message ids are the English texts with
``{placeholders}``; a phrase is ``translator(locale).gettext(id).format(...)``.

A domain lives in ``<package>/catalogs/<domain>.<locale>.po``: by default the features'
``leadscore`` domain (``features/i18n/catalogs/``); another layer names its own, e.g.
``translator(locale, domain="serving", package="serving")`` for the pages' words.
"""

from __future__ import annotations

import gettext as gettext_module
from functools import lru_cache
from importlib import resources
from io import BytesIO

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from features.i18n.locales import resolve_locale

#: The features' gettext domain: ``catalogs/<domain>.<locale>.po``.
DOMAIN = "leadscore"
#: The package whose ``catalogs/`` folder holds the features' domain.
PACKAGE = "features.i18n"


def catalog_text(locale: str, domain: str = DOMAIN, package: str = PACKAGE) -> str:
    """The ``.po`` source of one language's catalog of ``domain``."""
    path = resources.files(package) / "catalogs" / f"{domain}.{locale}.po"
    return path.read_text(encoding="utf-8")


def read_catalog(locale: str, domain: str = DOMAIN, package: str = PACKAGE) -> Catalog:
    """One language's catalog of ``domain`` as Babel reads it."""
    text = catalog_text(locale, domain, package)
    return read_po(BytesIO(text.encode("utf-8")), locale=locale, domain=domain)


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name for a marker)
    """Marks ``message`` for the catalogs (Babel extracts it); it is translated where it is
    shown, once the language is known."""
    return message


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


@lru_cache(maxsize=16)
def _translator(locale: str, domain: str, package: str) -> Translator:
    return Translator(locale, read_catalog(locale, domain, package))


def translator(locale: str | None, domain: str = DOMAIN, package: str = PACKAGE) -> Translator:
    """The translator of ``domain`` in the supported language ``locale`` resolves to."""
    return _translator(resolve_locale(locale), domain, package)
