"""One source field's value in words: the feature pipeline's outputs of a lead, read back
through the spec's labels and a ``Phrasebook``.

``describe_field`` gets the feature's spec, its output columns for one lead (name ->
value, as ``LeadFeaturizer`` wrote them), the raw record and the categories the
featurizer fixed in ``fit``. Money is said in the ``Phrasebook``'s currency, converted with
the rates the model was trained with (the feature's ``rates``, ``rates_date``). A missing
answer is said as the action it calls for: "not
asked yet" for a qualification answer, "not given, ask on the call" on arrival, or the
spec's own ``missing`` words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from features.coerce import datetime_us_of
from features.i18n.phrases import Phrasebook
from features.labels import field_label, missing_of, unit_of, value_label
from features.pipeline.encoders import EMAIL_KINDS, MONEY_GIVEN, OTHER, TEXT_LANGUAGES
from features.spec import FeatureSpec, FeatureType, KnownAt

#: Output columns of one feature for one lead, in the featurizer's order.
Outputs = Mapping[str, float]


def _missing(feature: FeatureSpec, book: Phrasebook) -> str:
    label = field_label(feature, feature.column, book.locale)
    own = missing_of(feature, book.locale)
    if own is not None:
        return own
    if feature.known_at is KnownAt.QUALIFIED:
        return book.not_asked(label)
    return book.not_given(label)


def _first(outputs: Outputs) -> float:
    return next(iter(outputs.values()))


def _raw_text(value: Any) -> str:
    return str(value).strip()


def _categorical(
    feature: FeatureSpec, outputs: Outputs, record: Mapping[str, Any], categories: Sequence[str]
) -> tuple[str, str] | None:
    """(kind, value text): kind 'value' or 'rare'; None when missing."""
    code = _first(outputs)
    name = categories[int(code)] if not math.isnan(code) and int(code) < len(categories) else None
    if name is None or name == "missing":
        return None
    if name == OTHER:
        return "rare", _raw_text(record.get(feature.column))
    return "value", name


def describe_field(
    feature: FeatureSpec,
    outputs: Outputs,
    record: Mapping[str, Any],
    categories: Mapping[str, list[str]],
    book: Phrasebook,
    time_format: str | None = None,
) -> tuple[str, bool]:
    """(phrase, missing): the field's value for one lead in ``book``'s language."""
    lang = book.locale
    label = field_label(feature, feature.column, lang)
    kind = feature.type
    first = _first(outputs)
    if kind is FeatureType.CATEGORICAL:
        found = _categorical(feature, outputs, record, categories.get(feature.column, []))
        if found is None:
            return _missing(feature, book), True
        shown = value_label(feature, found[1], lang)
        if found[0] == "rare":
            return book.rare_value(label, shown), False
        return book.value(label, shown), False
    if kind is FeatureType.EMAIL:
        email = EMAIL_KINDS[int(first)]
        return book.email(email), email == "missing"
    if kind is FeatureType.PHONE:
        return book.phone(first == 1.0), first != 1.0
    if math.isnan(first) and kind in (FeatureType.NUMERIC, FeatureType.BOOLEAN):
        return _missing(feature, book), True
    if kind is FeatureType.NUMERIC:
        return book.quantity(label, first, unit_of(feature, lang)), False
    if kind is FeatureType.BOOLEAN:
        return book.yes_no(label, first == 1.0), False
    if kind is FeatureType.ORDINAL:
        if math.isnan(first):
            return _missing(feature, book), True
        order = feature.order or []
        return book.value(label, value_label(feature, order[int(first)], lang)), False
    if kind is FeatureType.MONEY:
        return _money(feature, outputs, record, book, label)
    if kind is FeatureType.DATETIME:
        micros = datetime_us_of(record.get(feature.column), time_format)
        if micros is None or math.isnan(first):
            return _missing(feature, book), True
        return book.moment(label, micros, feature.parts), False
    if kind is FeatureType.SINCE:
        if math.isnan(first):
            return _missing(feature, book), True
        return book.days(label, first), False
    return _text(feature, outputs, book, label)


def _money(
    feature: FeatureSpec,
    outputs: Outputs,
    record: Mapping[str, Any],
    book: Phrasebook,
    label: str,
) -> tuple[str, bool]:
    values = list(outputs.values())
    amount = values[0]
    given = MONEY_GIVEN[int(values[1])] if len(values) > 1 else "amount"
    if not math.isnan(amount):
        return money_phrase(feature, amount, record, book, label, given == "bracket"), False
    raw = record.get(feature.column)
    if raw is not None and _raw_text(raw) and not (isinstance(raw, float) and math.isnan(raw)):
        return book.unknown_currency(label), False
    return _missing(feature, book), True


def display_currency(feature: FeatureSpec, wanted: str | None) -> str:
    """The currency a money field is shown in: ``wanted`` (the installation's) when the
    model's rates can convert into it, else the base currency the model learned in."""
    base = feature.base_currency
    if wanted is None or wanted == base or wanted not in (feature.rates or {}):
        return base
    return wanted


def _given_currency(feature: FeatureSpec, record: Mapping[str, Any]) -> str:
    """The currency the lead gave its amount in (the base when the spec has no column)."""
    if feature.currency_column is None:
        return feature.base_currency
    return _raw_text(record.get(feature.currency_column)).upper()


def money_phrase(
    feature: FeatureSpec,
    base_amount: float,
    record: Mapping[str, Any],
    book: Phrasebook,
    label: str,
    bracket: bool,
) -> str:
    """An amount the model holds in its base currency, said in the display currency: as
    given when the lead gave it in that currency, else converted with the model's rates
    and their date ("≈ $50,000 at the rates of 30 Nov 2026")."""
    shown = display_currency(feature, book.currency)
    rate = 1.0 if shown == feature.base_currency else (feature.rates or {})[shown]
    amount = base_amount / rate
    same = shown == feature.base_currency if bracket else _given_currency(feature, record) == shown
    if same:
        return book.amount(label, amount, shown, bracket)
    return book.converted(label, amount, shown, feature.rates_date, bracket)


def _text(feature: FeatureSpec, outputs: Outputs, book: Phrasebook, label: str) -> tuple[str, bool]:
    column = feature.column
    lang_code = outputs.get(f"{column}_lang", math.nan)
    language = TEXT_LANGUAGES[int(lang_code)] if not math.isnan(lang_code) else "missing"
    if language == "missing":
        return _missing(feature, book), True
    prefix = f"{column}_kw_"
    mentioned = [
        value_label(feature, name.removeprefix(prefix), book.locale)
        for name, flag in outputs.items()
        if name.startswith(prefix) and flag == 1.0
    ]
    if mentioned:
        return book.mentions(label, mentioned), False
    words = outputs.get(f"{column}_words", 0.0)
    return book.words(label, int(words), language), False
