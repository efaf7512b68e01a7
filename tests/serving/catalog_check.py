"""What the serving catalog (serving/catalogs/serving.<locale>.po) is checked against: every
message id serving's sources ask for, extracted with Babel exactly as
serving/catalogs/babel.cfg says (the pages' templates and Python, the API's Python, the
commands' ``say(...)`` and ``N_`` texts), and the catalog's entries that miss or change
them."""

from __future__ import annotations

import re
import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from features.i18n.catalogs import read_catalog
from serving.api.texts import DOMAIN, PACKAGE

SERVING = Path(__file__).parents[2] / "serving"
BABEL_CFG = SERVING / "catalogs" / "babel.cfg"


def serving_catalog(locale: str) -> Catalog:
    return read_catalog(locale, domain=DOMAIN, package=PACKAGE)


def asked() -> dict[str, str]:
    """Every message id serving's sources ask for, with where it is first asked
    (``serving/<path>:<line>``)."""
    with BABEL_CFG.open(encoding="utf-8") as config:
        methods, options = parse_mapping_cfg(config)
    inside = {pattern: pattern.removeprefix("serving/") for pattern, _ in methods}
    method_map = [(inside[pattern], method) for pattern, method in methods]
    options_map = {inside[pattern]: option for pattern, option in options.items()}
    found: dict[str, str] = {}
    for filename, lineno, message, _c, _ctx in extract_from_dir(SERVING, method_map, options_map):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, f"serving/{filename}:{lineno}")
    return found


def placeholders(text: str) -> set[str]:
    """The ``{name}`` and ``%(name)s`` placeholders of a text."""
    brace = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return brace | set(re.findall(r"%\((\w+)\)s", text))


def untranslated(locale: str, wanted: dict[str, str]) -> tuple[list[str], list[str]]:
    """The ids of ``wanted`` (id -> where) the catalog of ``locale`` misses (or has fuzzy
    or empty), as ``where: id``, and those whose translation changes the placeholders."""
    catalog = serving_catalog(locale)
    missing, wrong = [], []
    for msgid, where in wanted.items():
        message = catalog.get(msgid)
        if message is None or message.fuzzy or not message.string:
            missing.append(f"{where}: {msgid}")
        elif placeholders(str(message.string)) != placeholders(msgid):
            wrong.append(msgid)
    return missing, wrong
