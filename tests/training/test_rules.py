"""The BANT/source points rule (the fallback scorer and the training baseline)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from features.spec import load_spec
from training.reasons import Wording
from training.rules import (
    CHANNEL_POINTS,
    POINTS_AT_HALF,
    budget_rub,
    explain_rule,
    points_to_probability,
    rule_points,
    rule_probability,
    top_rule_points,
)

STRONG_ARRIVAL = {
    "channel": "Referral",
    "email": "anna@acme-industries.ru",
    "phone": "+7 495 000 00 00",
    "contact_type": "call",
    "message": "Срочно нужна стоимость SEO",
    "company_size": "201-1000",
}


def test_arrival_only_record_uses_source_fields() -> None:
    points, lines = rule_points(STRONG_ARRIVAL)
    phrases = {line.phrase: line.contribution for line in lines}
    assert phrases == {
        "channel = referral": 25,
        "corporate e-mail address": 10,
        "phone number given": 5,
        "called in": 5,
        "company size 201-1000": 10,
        "message sounds urgent": 10,
        "message asks about price": 5,
    }
    assert points == 70.0
    assert all(line.field in STRONG_ARRIVAL for line in lines)


def test_missing_fields_are_skipped_not_guessed() -> None:
    points, lines = rule_points({})
    assert {line.phrase for line in lines} == {"no usable e-mail address", "no message"}
    assert points == -10.0
    assert rule_points({"channel": None, "email": float("nan"), "message": "  "})[0] == -10.0


def test_bant_answers_add_points_also_as_text() -> None:
    answers = {
        "budget_bracket": "1m_3m",
        "is_decision_maker": "да",
        "need_fit": "strong",
        "timeframe": "now",
    }
    _, lines = rule_points(answers)
    phrases = {line.phrase: line.contribution for line in lines}
    assert phrases["budget ≈ 1.8m RUB"] == 25
    assert phrases["talking to a decision maker"] == 15
    assert phrases["need fit = strong"] == 20
    assert phrases["timeframe = now"] == 15
    weak = rule_points({"is_decision_maker": False, "need_fit": "none", "timeframe": "gt_6m"})[1]
    assert {line.contribution for line in weak} >= {-10, -40}


@pytest.mark.parametrize(
    ("record", "rub"),
    [
        ({"budget_amount": "1 000", "budget_currency": "USD"}, 90_000),
        ({"budget_amount": 5000, "budget_currency": "eur"}, 490_000),
        ({"budget_amount": 5000, "budget_currency": "XYZ", "budget_bracket": "lt_100k"}, 60_000),
        ({"budget_amount": 5000}, None),
        ({}, None),
    ],
)
def test_budget_in_rub(record: dict[str, object], rub: float | None) -> None:
    assert budget_rub(record) == rub


def test_job_seekers_sink() -> None:
    job = {**STRONG_ARRIVAL, "message": "Ищу вакансию маркетолога, резюме во вложении"}
    assert rule_points(job)[0] == rule_points(STRONG_ARRIVAL)[0] - 15 - 30
    assert rule_probability([job])[0] < rule_probability([STRONG_ARRIVAL])[0]


def test_probability_curve_is_fixed_and_monotone() -> None:
    assert points_to_probability(POINTS_AT_HALF) == pytest.approx(0.5)
    grid = points_to_probability(np.arange(-100, 200, 10))
    assert np.all(np.diff(grid) > 0)
    assert 0 < grid.min() < grid.max() < 1
    records = [STRONG_ARRIVAL, {"channel": "display"}, {}]
    probabilities = rule_probability(records)
    assert probabilities.dtype == np.float64
    assert probabilities.shape == (3,)
    assert probabilities[0] > probabilities[2] > probabilities[1]
    assert rule_probability([]).shape == (0,)


def test_channel_table_normalises_names() -> None:
    paid = rule_points({"channel": "Paid Search"})[1][0]
    assert paid.contribution == CHANNEL_POINTS["paid_search"]
    assert rule_points({"channel": "organic-search"})[1][0].contribution == 10
    assert not any(line.field == "channel" for line in rule_points({"channel": "tiktok"})[1])


def test_top_points_keep_strongest_of_each_sign() -> None:
    _, lines = rule_points({**STRONG_ARRIVAL, "need_fit": "none", "timeframe": "gt_6m"})
    top = top_rule_points(lines, 2)
    assert [line.contribution for line in top] == [25, 10, -40, -10]
    assert math.isclose(sum(line.contribution for line in top), -15)


def test_the_rule_converts_budgets_with_the_demo_specs_dated_rates() -> None:
    money = next(f for f in load_spec("demo").features if f.column == "budget_amount")
    assert money.rates is not None
    for currency, rate in money.rates.items():
        record = {"budget_amount": 1000, "budget_currency": currency.lower()}
        assert budget_rub(record) == pytest.approx(1000 * rate)
    assert budget_rub({"budget_amount": 1000, "budget_currency": "GBP"}) is None


def test_the_budget_is_said_in_the_display_currency_with_the_rates_date() -> None:
    record = {**STRONG_ARRIVAL, "budget_amount": 5000, "budget_currency": "USD"}

    def budget(**wording: Any) -> str:
        reasons = explain_rule(record, Wording(top_k=10, threshold_pp=0.0, **wording))
        return next(r.phrase for r in reasons if r.field == "budget_amount")

    assert budget(currency="USD") == "Budget: $5,000"  # as the lead gave it: no conversion
    assert budget(currency="EUR") == "Budget: ≈ €4,592 at the rates of 30 Nov 2026"
    assert budget() == "Budget: ≈ RUB\u00a0450,000 at the rates of 30 Nov 2026"
    assert budget(locale="ru", currency="EUR") == (
        "Бюджет: ≈ 4\u00a0592\u00a0€ по курсу на 30 ноября 2026"
    )
