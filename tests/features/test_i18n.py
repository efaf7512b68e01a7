"""The catalogs and the phrase grammar: every message the code asks for is translated in
both languages (with the same placeholders), locales resolve from tags and headers, and the
grammar says yes/no, plurals, money, brackets and times of day per language."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import extract_from_file

from features.demo import generate_leads
from features.i18n import LOCALES, Phrasebook, resolve_locale, translator
from features.i18n.catalogs import read_catalog
from features.i18n.fields import describe_field
from features.pipeline import LeadFeaturizer
from features.spec import load_spec

ROOT = Path(__file__).parents[2]
#: Every module that asks the catalogs for words.
SOURCES = [ROOT / "features" / "i18n" / "phrases.py", ROOT / "features" / "funnel.py"]
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "N_": None}


def _asked() -> list[str | tuple[str, ...]]:
    found: list[str | tuple[str, ...]] = []
    for path in SOURCES:
        found += [message[1] for message in extract_from_file("python", path, KEYWORDS)]
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_sources_ask_for_messages() -> None:
    assert len(_asked()) >= 20


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_translates_every_message(locale: str) -> None:
    catalog = read_catalog(locale)
    plurals = catalog.num_plurals
    missing = []
    for asked in _asked():
        msgid = asked if isinstance(asked, str) else asked[0]
        message = catalog.get(msgid)
        if message is None or message.fuzzy:
            missing.append(msgid)
            continue
        wanted = _fields(msgid)
        texts = [message.string] if isinstance(message.string, str) else list(message.string or [])
        if isinstance(asked, tuple):
            assert message.pluralizable, msgid
            assert len(texts) == plurals, msgid
        for text in texts:
            if not text:
                missing.append(msgid)
            else:
                assert _fields(text) == wanted, (locale, msgid, text)
    assert missing == [], f"{locale} catalog misses: {missing}"


def test_catalogs_hold_nothing_the_code_does_not_ask_for() -> None:
    asked = {a if isinstance(a, str) else a[0] for a in _asked()}
    for locale in LOCALES:
        held = {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_catalog(locale)
            if message.id
        }
        assert held == asked, locale


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("ru_KZ", "ru"),
        ("EN-gb", "en"),
        ("de-DE,ru;q=0.8,en;q=0.5", "ru"),
        ("en;q=0.3, ru;q=0.9", "ru"),
        ("fr, de", "en"),
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("not a tag!!", "en"),
    ],
)
def test_resolve_locale(tag: str | None, locale: str) -> None:
    assert resolve_locale(tag) == locale


def test_translator_falls_back_to_the_default_language() -> None:
    assert translator("de").locale == "en"
    assert translator("ru-RU").gettext("{label}: yes") == "{label}: да"


def test_russian_plurals() -> None:
    book = Phrasebook("ru")
    said = {n: book.days("Первый визит", n) for n in (1, 2, 5, 11, 21, 22)}
    assert said[1] == "Первый визит: за 1 день до заявки"
    assert said[2] == "Первый визит: за 2 дня до заявки"
    assert said[5] == "Первый визит: за 5 дней до заявки"
    assert said[11] == "Первый визит: за 11 дней до заявки"
    assert said[21] == "Первый визит: за 21 день до заявки"
    assert said[22] == "Первый визит: за 22 дня до заявки"
    assert Phrasebook("en").days("First visit", -1) == "First visit: 1 day after"
    assert Phrasebook("en").days("First visit", 0.2) == "First visit: the same day"


def test_money_per_language() -> None:
    assert Phrasebook("ru").money(300_000, "RUB") == "300\u00a0тыс.\u00a0₽"
    assert Phrasebook("en").money(50_000, "USD") == "$50,000"
    assert Phrasebook("en").money(4_500_000, "RUB") == "RUB\u00a04,500,000"
    assert Phrasebook("ru").amount("Бюджет", 1_800_000, "RUB", bracket=True) == (
        "Бюджет: около 1,8\u00a0млн\u00a0₽ (диапазон)"
    )
    assert Phrasebook("en").amount("Budget", 50_000, "USD", bracket=False) == "Budget: $50,000"


def test_time_of_day_in_the_installations_time_zone() -> None:
    micros = int(datetime(2026, 12, 1, 20, 0, tzinfo=UTC).timestamp() * 1e6)
    parts = ["hour", "weekday", "month"]
    assert Phrasebook("en").moment("Arrived", micros, parts) == "Arrived: 20:00, Tuesday, December"
    moscow = Phrasebook("ru", "Europe/Moscow").moment("Заявка пришла", micros, parts)
    assert moscow == "Заявка пришла: 23:00, вторник, декабрь"
    almaty = Phrasebook("en", "Asia/Almaty").moment("Arrived", micros, parts)
    assert almaty == "Arrived: 01:00, Wednesday, December"
    with pytest.raises(Exception, match="Mars"):
        Phrasebook("en", "Mars/Olympus")


def test_yes_no_and_actions() -> None:
    assert Phrasebook("ru").yes_no("Принимает решение", True) == "Принимает решение: да"
    assert Phrasebook("en").yes_no("Decision maker", False) == "Decision maker: no"
    assert Phrasebook("en").not_asked("Budget") == "Budget: not asked yet"
    assert Phrasebook("ru").phone(False) == "нет телефона: попросите номер"


@pytest.fixture(scope="module")
def fitted() -> tuple[LeadFeaturizer, pd.DataFrame]:
    frame, _truth = generate_leads(n=600, seed=5)
    return LeadFeaturizer(load_spec("demo"), "qualified").fit(frame), frame


def _said(
    featurizer: LeadFeaturizer, record: dict[str, object], field: str, locale: str
) -> tuple[str, bool]:
    row = featurizer.transform([record])[0]
    outputs = {
        name: float(row[j])
        for j, name in enumerate(featurizer.feature_names_)
        if featurizer.feature_sources_[j] == field
    }
    feature = next(f for f in featurizer.spec.features if f.column == field)
    return describe_field(
        feature, outputs, record, featurizer.categories_, Phrasebook(locale, "Europe/Moscow")
    )


def test_fields_in_words_from_the_spec_labels(fitted: tuple[LeadFeaturizer, pd.DataFrame]) -> None:
    featurizer, frame = fitted
    record = {str(k): v for k, v in frame.iloc[0].to_dict().items()}
    record.update(
        {
            "channel": "referral",
            "is_decision_maker": True,
            "timeframe": "lt_3m",
            "budget_amount": 50_000,
            "budget_currency": "USD",
            "message": "Срочно нужен тендер",
            "arrived_at": "2026-12-01T20:00:00Z",
            "q_site_age_years": 3,
            "company_size": "51-200",
        }
    )
    ru = {f: _said(featurizer, record, f, "ru")[0] for f in featurizer.feature_sources_}
    en = {f: _said(featurizer, record, f, "en")[0] for f in featurizer.feature_sources_}
    assert ru["channel"] == "Канал: рекомендация"
    assert en["is_decision_maker"] == "Decision maker: yes"
    assert ru["timeframe"] == "Срок старта: в ближайшие 3 мес."
    # 50,000 USD at 90 RUB, converted with the spec's dated rates
    assert en["budget_amount"] == "Budget: ≈ RUB\u00a04,500,000 at the rates of 30 Nov 2026"
    assert ru["message"] == "Сообщение: упоминает срочность и тендер"
    assert ru["arrived_at"] == "Заявка пришла: 23:00, вторник, декабрь"
    assert en["q_site_age_years"] == "Site age: 3 years"
    assert en["company_size"] == "Company size: 51-200"
    columns = [c for c in frame.columns if "_" in c]
    for phrase in [*ru.values(), *en.values()]:
        assert not any(re.search(rf"\b{c}\b", phrase) for c in columns), phrase


def test_missing_answers_read_as_actions(fitted: tuple[LeadFeaturizer, pd.DataFrame]) -> None:
    featurizer, _frame = fitted
    empty: dict[str, object] = {c: None for c in featurizer.input_columns_}
    said = {f: _said(featurizer, empty, f, "en") for f in featurizer.feature_sources_}
    assert said["budget_amount"] == ("Budget: not asked yet", True)
    assert said["need_fit"] == ("Need fit: not asked yet", True)
    assert said["utm_campaign"] == ("no campaign tag", True)  # the spec's own words
    assert said["region"] == ("Region: not given, ask on the call", True)
    assert said["email"] == ("no e-mail: ask for a work address", True)
    assert all(missing for _phrase, missing in said.values())
    ru = _said(featurizer, empty, "timeframe", "ru")
    assert ru == ("Срок старта: ещё не спросили", True)
