"""Money in the installation's currency: the dated rates file, conversion and wording.

The rates file is read when the spec is loaded, so a fitted featurizer (and the model
around it) keeps the rates and the date it was trained with; the display currency only
changes how an amount is said, converted with those same rates, never the feature.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.demo import generate_leads
from features.i18n import Phrasebook
from features.i18n.fields import describe_field, display_currency
from features.pipeline import LeadFeaturizer
from features.rates import Rates, RatesError, read_rates
from features.spec import DatasetSpec, FeatureSpec, SpecError, load_spec

NBSP = "\u00a0"
USD_50K = {"budget_amount": 50_000, "budget_currency": "USD"}

SPEC = """\
name: money
id_column: id
targets:
  won: {kind: binary, column: won}
features:
  - {column: channel, type: categorical, min_count: 1}
  - column: budget
    label: {en: Budget, ru: Бюджет}
    type: money
    currency_column: currency
    rates_file: rates.yaml
"""


def _write(folder: Path, rates: str, spec: str = SPEC) -> Path:
    (folder / "rates.yaml").write_text(rates, encoding="utf-8")
    path = folder / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    return path


def _rates(folder: Path, text: str) -> Rates:
    path = folder / "rates.yaml"
    path.write_text(text, encoding="utf-8")
    return read_rates(path)


def _budget(spec: DatasetSpec, column: str = "budget_amount") -> FeatureSpec:
    return next(f for f in spec.features if f.column == column)


# ------------------------------------------------------------------------- the rates file


def test_a_rates_file_reads_into_a_dated_table(tmp_path: Path) -> None:
    rates = _rates(tmp_path, "date: 2026-11-30\nbase: rub\nrates: {USD: 92.4, eur: 99.1}\n")
    assert rates.date == date(2026, 11, 30)
    assert rates.base == "RUB"
    assert rates.table() == {"RUB": 1.0, "USD": 92.4, "EUR": 99.1}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("base: RUB\nrates: {USD: 92.4}\n", "date: Field required"),
        (
            "date: 2026-11-30\nbase: RUB\nrates: {USD: -92.4}\n",
            "rates.USD: Input should be greater than 0",
        ),
        (
            "date: 2026-11-30\nbase: RUB\nrates: {USD: }\n",
            "rates.USD: Input should be a valid number",
        ),
        (
            "date: 2026-11-30\nbase: RUB\nrates: {USD: .nan}\n",
            "rates.USD: Input should be a finite number",
        ),
        (
            "date: 2026-11-30\nbase: XYZ\nrates: {USD: 92.4}\n",
            "base: Value error, 'XYZ' is not an ISO 4217",
        ),
        ("date: 2026-11-30\nbase: RUB\nrates: {DOLLAR: 92.4}\n", "'DOLLAR' is not an ISO 4217"),
        (
            "date: 2026-11-30\nbase: RUB\nrates: {RUB: 2, USD: 92.4}\n",
            "rates.RUB: the base currency's own rate must be 1",
        ),
        (
            "date: 2026-11-30\nbase: RUB\nrates: {}\n",
            "rates: Dictionary should have at least 1 item",
        ),
        (
            "date: 2026-11-30\nbase: RUB\nrate: {USD: 92.4}\n",
            "rate: Extra inputs are not permitted",
        ),
        ("- 1\n- 2\n", "expected a mapping {date, base, rates}"),
    ],
)
def test_a_bad_rates_file_is_refused_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(RatesError, match=r"rates\.yaml") as error:
        _rates(tmp_path, text)
    assert named in str(error.value)


def test_a_spec_names_the_rates_file_and_its_bad_key_with_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "date: 2026-11-30\nbase: RUB\nrates: {USD: -1}\n")
    with pytest.raises(SpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert f"{path}:11: features.1.rates_file:" in message  # the line of `rates_file:`
    assert "rates.USD: Input should be greater than 0" in message


def test_a_spec_refuses_a_missing_rates_file_and_rates_given_twice(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    with pytest.raises(SpecError, match=r"rates_file: .*rates\.yaml: cannot read the rates file"):
        load_spec(tmp_path / "spec.yaml")
    both = SPEC.replace("    rates_file:", "    rates: {USD: 90}\n    rates_file:")
    path = _write(tmp_path, "date: 2026-11-30\nbase: RUB\nrates: {USD: 90}\n", both)
    with pytest.raises(SpecError, match="give rates or rates_file, not both"):
        load_spec(path)


def test_the_rates_file_sets_the_base_unless_the_spec_says_another(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, "date: 2026-11-30\nbase: USD\nrates: {EUR: 1.08}\n"))
    budget = _budget(spec, "budget")
    assert (budget.base_currency, budget.rates, budget.rates_date) == (
        "USD",
        {"USD": 1.0, "EUR": 1.08},
        date(2026, 11, 30),
    )
    clash = SPEC.replace("    rates_file:", "    base_currency: RUB\n    rates_file:")
    path = _write(tmp_path, "date: 2026-11-30\nbase: USD\nrates: {EUR: 1.08}\n", clash)
    with pytest.raises(SpecError, match=r"base_currency is RUB but rates\.yaml has base USD"):
        load_spec(path)


def test_inline_rates_are_checked_like_the_file() -> None:
    with pytest.raises(ValueError, match=r"rates\.USD"):
        FeatureSpec.model_validate(
            {"column": "b", "type": "money", "currency_column": "c", "rates": {"USD": 0}}
        )


def test_the_demo_spec_reads_its_rates_file_with_the_numbers_it_always_had() -> None:
    budget = _budget(load_spec("demo"))
    assert budget.rates_file == "rates.yaml"
    assert budget.rates == {"RUB": 1.0, "USD": 90.0, "EUR": 98.0, "KZT": 0.19}
    assert budget.base_currency == "RUB"
    assert budget.rates_date == date(2026, 11, 30)


def test_an_unread_rates_file_is_a_clear_error_not_missing_amounts() -> None:
    raw = {"column": "b", "type": "money", "currency_column": "c", "rates_file": "r.yaml"}
    spec = DatasetSpec.model_validate(
        {"name": "x", "targets": {"won": {"kind": "binary", "column": "won"}}, "features": [raw]}
    )
    with pytest.raises(ValueError, match=r"rates_file 'r\.yaml' has not been read"):
        LeadFeaturizer(spec).fit(pd.DataFrame({"b": [1.0], "c": ["USD"]}))


# -------------------------------------------------------------- conversion and wording


@pytest.fixture(scope="module")
def demo_featurizer() -> LeadFeaturizer:
    frame, _truth = generate_leads(n=300, seed=3)
    return LeadFeaturizer(load_spec("demo"), "qualified").fit(frame)


def _say(
    featurizer: LeadFeaturizer, record: dict[str, Any], locale: str, currency: str | None
) -> str:
    matrix = featurizer.transform([record])
    outputs = {
        name: float(matrix[0][j])
        for j, name in enumerate(featurizer.feature_names_)
        if featurizer.feature_sources_[j] == "budget_amount"
    }
    book = Phrasebook(locale, "UTC", currency)
    feature = _budget(featurizer.spec)
    phrase, missing = describe_field(feature, outputs, record, featurizer.categories_, book)
    assert missing is False
    return phrase


@pytest.mark.parametrize(
    ("record", "locale", "currency", "expected"),
    [
        # a USD budget in a USD installation: as given, no rates involved
        (USD_50K, "en", "USD", "Budget: $50,000"),
        (USD_50K, "ru", "USD", f"Бюджет: 50{NBSP}тыс.{NBSP}$"),
        # ... in a RUB one (the demo's base): converted, with the rates' date
        (USD_50K, "en", None, f"Budget: ≈ RUB{NBSP}4,500,000 at the rates of 30 Nov 2026"),
        (USD_50K, "ru", "RUB", f"Бюджет: ≈ 4,5{NBSP}млн{NBSP}₽ по курсу на 30 ноября 2026"),
        # ... in a EUR one: through the base, 50,000 x 90 / 98
        (USD_50K, "en", "EUR", "Budget: ≈ €45,918 at the rates of 30 Nov 2026"),
        # a RUB budget in a USD installation
        (
            {"budget_amount": 300_000, "budget_currency": "RUB"},
            "ru",
            "USD",
            f"Бюджет: ≈ 3{NBSP}333{NBSP}$ по курсу на 30 ноября 2026",
        ),
        (
            {"budget_amount": 300_000, "budget_currency": "RUB"},
            "ru",
            None,
            f"Бюджет: 300{NBSP}тыс.{NBSP}₽",
        ),
        # a bracket (its amounts are in the base currency)
        (
            {"budget_bracket": "1m_3m"},
            "en",
            "USD",
            "Budget: about $20,000 (bracket) at the rates of 30 Nov 2026",
        ),
        ({"budget_bracket": "1m_3m"}, "en", None, f"Budget: about RUB{NBSP}1,800,000 (bracket)"),
        # an installation currency the model has no rate for: said in the base, never invented
        (USD_50K, "en", "CHF", f"Budget: ≈ RUB{NBSP}4,500,000 at the rates of 30 Nov 2026"),
        # a currency the rates do not know: said so, whatever the installation's
        (
            {"budget_amount": 50_000, "budget_currency": "GBP"},
            "en",
            "USD",
            "Budget: amount in an unknown currency",
        ),
        (
            {"budget_amount": 50_000, "budget_currency": "GBP"},
            "ru",
            None,
            "Бюджет: сумма в неизвестной валюте",
        ),
    ],
)
def test_money_is_said_in_the_installation_currency(
    demo_featurizer: LeadFeaturizer,
    record: dict[str, Any],
    locale: str,
    currency: str | None,
    expected: str,
) -> None:
    assert _say(demo_featurizer, record, locale, currency) == expected


def test_a_usd_budget_never_reads_as_millions_of_roubles_in_a_usd_installation(
    demo_featurizer: LeadFeaturizer,
) -> None:
    for locale in ("en", "ru"):
        phrase = _say(demo_featurizer, USD_50K, locale, "USD")
        assert "RUB" not in phrase
        assert "₽" not in phrase
        assert "4,5" not in phrase


def test_inline_rates_without_a_date_convert_without_naming_one() -> None:
    feature = FeatureSpec.model_validate(
        {
            "column": "b",
            "label": "Budget",
            "type": "money",
            "currency_column": "c",
            "rates": {"USD": 90.0},
        }
    )
    assert feature.rates_date is None
    phrase = describe_field(
        feature, {"b_rub": 4_500_000.0}, {"b": 50_000, "c": "USD"}, {}, Phrasebook("en")
    )
    assert phrase == (f"Budget: ≈ RUB{NBSP}4,500,000", False)
    assert display_currency(feature, "USD") == "USD"
    assert display_currency(feature, "EUR") == "RUB"  # no rate for EUR: the base


def test_a_phrasebook_refuses_a_currency_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="'usd' is not an ISO 4217"):
        Phrasebook("en", "UTC", "usd")
    assert Phrasebook("ru").money(3333, "USD") == f"3{NBSP}333{NBSP}$"  # Babel's ru order
