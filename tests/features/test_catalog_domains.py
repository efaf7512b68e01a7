"""Catalogs of other domains and packages: ``translator(locale, domain=, package=)`` reads
``<package>/catalogs/<domain>.<locale>.po`` (here a package made for the test), keeps each
domain apart, and the features' own calls are unchanged."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.i18n import translator
from features.i18n.catalogs import DOMAIN, PACKAGE, read_catalog

PO = """msgid ""
msgstr ""
"Language: ru\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
"(n%100<10 || n%100>=20) ? 1 : 2);\\n"

msgid "New"
msgstr "Свежая"

msgid "{n} lead"
msgid_plural "{n} leads"
msgstr[0] "{n} лид"
msgstr[1] "{n} лида"
msgstr[2] "{n} лидов"
"""


@pytest.fixture
def package(tmp_path: Path) -> Iterator[str]:
    name = f"domain_probe_{tmp_path.name.replace('-', '_')}"
    folder = tmp_path / name
    (folder / "catalogs").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "catalogs" / "probe.ru.po").write_text(PO, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_another_domain_is_read_from_its_package(package: str) -> None:
    probe = translator("ru-RU", domain="probe", package=package)
    assert probe.locale == "ru"
    assert probe.gettext("New") == "Свежая"
    assert [probe.ngettext("{n} lead", "{n} leads", n) for n in (1, 3, 7)] == [
        "{n} лид",
        "{n} лида",
        "{n} лидов",
    ]
    assert probe.gettext("Not in it") == "Not in it"
    assert read_catalog("ru", "probe", package).get("New") is not None


def test_domains_stay_apart_and_the_default_is_the_features_catalog(package: str) -> None:
    translator("ru", domain="probe", package=package)
    features = translator("ru")
    assert features is translator("ru", DOMAIN, PACKAGE)
    assert features.gettext("New") == "Новая"  # the funnel's status, not the probe's word


def test_a_missing_catalog_says_so() -> None:
    with pytest.raises(FileNotFoundError):
        translator("ru", domain="no_such_domain")
