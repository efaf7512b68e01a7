"""Languages for the words people read: locale resolution, gettext catalogs, the phrase
grammar of reasons.

``locales`` turns a language tag (``ru-RU``, an ``Accept-Language`` header) into one of
the supported languages; ``catalogs`` loads the ``.po`` catalogs under ``catalogs/`` with
Babel at first use (no build step) and hands out ``gettext``/``ngettext`` per language;
``phrases`` is the small grammar per language (yes/no, brackets, money, time of day in the
installation's time zone); ``fields`` puts one source field's encoded value into those
phrases, from the spec's labels and never from column names.
"""

from features.i18n.catalogs import N_, Translator, translator
from features.i18n.locales import DEFAULT_LOCALE, LOCALES, resolve_locale
from features.i18n.phrases import Phrasebook

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "N_",
    "Phrasebook",
    "Translator",
    "resolve_locale",
    "translator",
]
