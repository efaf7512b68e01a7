"""What the `leadscore` commands say, in the installation's language (``LEADSCORE_LOCALE``).

The messages are English ids of the serving catalog (``serving/catalogs/serving.<locale>.po``,
the API's and the pages' domain), written where they are said: ``say("backup failed:
{reason}", reason=error)`` puts one into the installation's language and fills its
``{placeholders}``. ``say`` is a keyword of the extraction (serving/catalogs/babel.cfg), so
a literal first argument needs no other mark; an id kept in a constant or a table (table
headers) is marked with ``N_``. A ``say`` inside an f-string is not extracted: say it first.
A text made by another layer (a spec's, the store's or the channel report's refusal) is
put into that language by the template it was made from (:func:`in_language`, the API's
``translate``), else shown as it is. ``--help`` texts stay English.

The catalog and the settings are imported at first use, so that `leadscore --help` starts
fast.
"""

from __future__ import annotations

import os
from typing import Any


def cli_locale() -> str:
    """``LEADSCORE_LOCALE`` of this installation (its environment and ``.env``); English
    when the settings cannot be read (their error is the command's to report)."""
    from pydantic import ValidationError

    from features.i18n import resolve_locale
    from serving.settings import ServingSettings

    try:
        return ServingSettings().locale
    except ValidationError:
        return resolve_locale(os.environ.get("LEADSCORE_LOCALE"))


def say(message: str, /, **values: Any) -> str:
    """``message`` (an ``N_`` id of the serving catalog) in the installation's language,
    its placeholders filled with ``values``."""
    from serving.api.texts import serving_words

    return serving_words(cli_locale()).gettext(message).format(**values)


def in_language(text: str) -> str:
    """A text of another layer in the installation's language when its template is known
    (the API's error templates); else as it is."""
    from serving.api.texts import translate

    return translate(text, cli_locale())
