"""The lead model's validation, its flat record, and questionnaire checks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from features.funnel import Stage, Status
from features.lead import (
    BANT_COLUMNS,
    MAX_AMOUNT,
    QUESTION_PREFIX,
    RECORD_COLUMNS,
    SOURCE_COLUMNS,
    Lead,
    lead_to_record,
)
from features.questionnaire import (
    QuestionnaireAnswers,
    QuestionnaireError,
    load_catalog,
    validate_answers,
)

ARRIVED = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "external_id": "crm-1",
        "arrived_at": ARRIVED.isoformat(),
        "source": {"channel": "paid_search", "email": "Ivan@Company.ru"},
    }
    payload.update(overrides)
    return payload


def _errors(payload: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        Lead.model_validate(payload)
    return [(tuple(err["loc"]), err["msg"]) for err in caught.value.errors()]


def test_a_minimal_lead_is_valid_and_new() -> None:
    lead = Lead.model_validate(_payload())
    assert lead.status is Status.NEW
    assert lead.stage_reached is Stage.LEAD
    assert lead.source.email == "ivan@company.ru"


def test_naive_times_are_taken_as_utc_and_aware_ones_converted() -> None:
    naive = Lead.model_validate(_payload(arrived_at="2024-03-04T09:30:00"))
    assert naive.arrived_at == ARRIVED
    moscow = timezone(timedelta(hours=3))
    aware = Lead.model_validate(_payload(arrived_at=datetime(2024, 3, 4, 12, 30, tzinfo=moscow)))
    assert aware.arrived_at == ARRIVED
    assert aware.arrived_at.tzinfo == UTC


def test_bad_email_names_the_field() -> None:
    errors = _errors(_payload(source={"channel": "seo", "email": "not-an-address"}))
    assert errors[0][0] == ("source", "email")
    assert "e-mail" in errors[0][1]


def test_budget_amount_without_currency_names_budget() -> None:
    errors = _errors(_payload(bant={"budget": {"amount": 100000}}))
    assert errors[0][0] == ("bant", "budget")
    assert "budget.currency" in errors[0][1]


def test_empty_budget_is_refused() -> None:
    errors = _errors(_payload(bant={"budget": {}}))
    assert errors[0][0] == ("bant", "budget")
    assert "bracket" in errors[0][1]


def test_negative_amount_names_the_amount() -> None:
    errors = _errors(_payload(bant={"budget": {"amount": -5, "currency": "RUB"}}))
    assert errors[0][0] == ("bant", "budget", "amount")


@pytest.mark.parametrize("amount", [math.nan, math.inf, 1e309, 1e16, 10**400])
def test_an_amount_that_is_not_finite_or_above_the_maximum_names_the_amount(
    amount: float,
) -> None:
    won = [{"status": "won", "at": ARRIVED.isoformat()}]
    deal = _errors(_payload(status_history=won, deal_value={"amount": amount, "currency": "RUB"}))
    assert deal[0][0] == ("deal_value", "amount")
    budget = _errors(_payload(bant={"budget": {"amount": amount, "currency": "RUB"}}))
    assert budget[0][0] == ("bant", "budget", "amount")


def test_amounts_are_kept_to_the_cent_up_to_the_maximum() -> None:
    won = [{"status": "won", "at": ARRIVED.isoformat()}]
    deal = {"amount": MAX_AMOUNT - 0.004, "currency": "RUB"}
    lead = Lead.model_validate(_payload(status_history=won, deal_value=deal))
    assert lead.deal_value is not None
    assert lead.deal_value.amount == MAX_AMOUNT
    small = Lead.model_validate(
        _payload(status_history=won, deal_value={"amount": 1234.5678, "currency": "RUB"})
    )
    assert small.deal_value is not None
    assert small.deal_value.amount == 1234.57


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:30:00-01:00"])
def test_a_time_outside_utc_is_refused_by_name(at: str) -> None:
    errors = _errors(_payload(arrived_at=at))
    assert errors[0][0] == ("arrived_at",)
    assert "out of range" in errors[0][1]
    history = _errors(_payload(status_history=[{"status": "new", "at": at}]))
    assert history[0][0] == ("status_history", 0, "at")


def test_bad_currency_code_names_the_currency() -> None:
    errors = _errors(_payload(bant={"budget": {"amount": 5, "currency": "rubles"}}))
    assert errors[0][0] == ("bant", "budget", "currency")


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"source": {"channel": "seo", "contact_type": "pigeon"}}, ("source", "contact_type")),
        ({"source": {"channel": "seo", "company_size": "huge"}}, ("source", "company_size")),
        ({"bant": {"timeframe": "yesterday"}}, ("bant", "timeframe")),
        ({"bant": {"need_fit": "maybe"}}, ("bant", "need_fit")),
        ({"bant": {"budget": {"bracket": "lots"}}}, ("bant", "budget", "bracket")),
        (
            {"status_history": [{"status": "sold", "at": ARRIVED.isoformat()}]},
            ("status_history", 0, "status"),
        ),
    ],
)
def test_unknown_enum_value_names_the_field(overrides: dict[str, Any], loc: tuple[Any]) -> None:
    errors = _errors(_payload(**overrides))
    assert errors[0][0] == loc
    assert "Input should be" in errors[0][1]


def test_unknown_field_is_refused_by_name() -> None:
    errors = _errors(_payload(source={"channel": "seo", "fax": "123"}))
    assert errors[0][0] == ("source", "fax")


def test_missing_channel_is_named() -> None:
    errors = _errors(_payload(source={}))
    assert errors[0][0] == ("source", "channel")


def test_deal_value_on_a_lead_that_is_not_won_is_refused() -> None:
    history = [{"status": "new", "at": ARRIVED.isoformat()}]
    errors = _errors(
        _payload(status_history=history, deal_value={"amount": 5e5, "currency": "RUB"})
    )
    assert "deal_value" in errors[0][1]


def test_deal_value_on_a_won_lead_is_kept() -> None:
    history = [{"status": "new", "at": ARRIVED}, {"status": "won", "at": ARRIVED}]
    lead = Lead.model_validate(
        _payload(status_history=history, deal_value={"amount": 5e5, "currency": "RUB"})
    )
    assert lead.status is Status.WON
    assert lead.deal_value is not None
    assert lead.deal_value.amount == 5e5


def test_unordered_history_is_refused() -> None:
    later = ARRIVED + timedelta(days=1)
    history = [{"status": "discussing", "at": later}, {"status": "lost", "at": ARRIVED}]
    errors = _errors(_payload(status_history=history))
    assert "status_history" in errors[0][1]
    assert "time order" in errors[0][1]


def test_stage_reached_comes_from_the_history() -> None:
    history = [
        {"status": "new", "at": ARRIVED},
        {"status": "discussing", "at": ARRIVED + timedelta(hours=1)},
        {"status": "lost", "at": ARRIVED + timedelta(days=3)},
    ]
    lead = Lead.model_validate(_payload(status_history=history))
    assert lead.status is Status.LOST
    assert lead.stage_reached is Stage.SQL


def test_lead_to_record_has_every_column_and_flattens_values() -> None:
    lead = Lead.model_validate(
        _payload(
            source={
                "channel": "seo",
                "contact_type": "chat",
                "company_size": "51-200",
                "company_name": "ООО Ромашка",
                "contact_name": "Иван",
            },
            bant={
                "budget": {"amount": 300, "currency": "USD", "bracket": "100k_300k"},
                "is_decision_maker": True,
                "need_fit": "strong",
                "timeframe": "now",
            },
            questionnaire={"service": "seo", "answers": {"site_age_years": 3}},
        )
    )
    record = lead_to_record(lead)
    assert list(record)[: len(RECORD_COLUMNS)] == list(RECORD_COLUMNS)
    assert set(record) == {*RECORD_COLUMNS, QUESTION_PREFIX + "site_age_years"}
    assert "company_name" not in record
    assert "contact_name" not in record
    assert record["external_id"] == "crm-1"
    assert record["arrived_at"] == ARRIVED
    assert record["contact_type"] == "chat"
    assert record["company_size"] == "51-200"
    assert record["budget_amount"] == 300
    assert record["budget_currency"] == "USD"
    assert record["budget_bracket"] == "100k_300k"
    assert record["need_fit"] == "strong"
    assert record["timeframe"] == "now"
    assert record["q_site_age_years"] == 3
    assert all(not isinstance(v, Status | Stage) for v in record.values())


def test_lead_to_record_without_bant_leaves_bant_columns_empty() -> None:
    record = lead_to_record(Lead.model_validate(_payload()))
    assert set(record) == set(RECORD_COLUMNS)
    assert all(record[column] is None for column in BANT_COLUMNS)
    assert {c for c in SOURCE_COLUMNS if record[c] is not None} == {
        "channel",
        "contact_type",
        "email",
    }


# ------------------------------------------------------------------ questionnaire

CATALOG = load_catalog()


def _problems(service: str, answers: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(QuestionnaireError) as caught:
        validate_answers(CATALOG, QuestionnaireAnswers(service=service, answers=answers))
    return caught.value.problems


def test_valid_answers_pass() -> None:
    filled = QuestionnaireAnswers(
        service="ppc",
        answers={
            "project_type": "new",
            "monthly_ad_spend": 150000,
            "ad_platform": "yandex",
            "promotion_region": None,
        },
    )
    validate_answers(CATALOG, filled)


def test_unknown_service_lists_the_known_ones() -> None:
    problems = _problems("telepathy", {})
    assert list(problems) == ["questionnaire.service"]
    assert "seo" in problems["questionnaire.service"]


def test_question_of_another_service_is_unknown() -> None:
    problems = _problems("seo", {"followers_k": 3})
    assert "questionnaire.answers.followers_k" in problems
    assert "site_age_years" in problems["questionnaire.answers.followers_k"]


@pytest.mark.parametrize(
    ("service", "key", "answer", "message"),
    [
        ("seo", "site_age_years", "three", "expected a number"),
        ("seo", "site_age_years", True, "expected a number"),
        ("seo", "has_analytics", "yes", "expected true or false"),
        ("seo", "site_age_years", -1, "expected a number >= 0"),
        ("seo", "site_age_years", 41, "expected a number <= 40"),
        ("web", "pages_count", 0, "expected a number >= 1"),
        ("ppc", "ad_platform", "tiktok", "expected one of: yandex, google, vk, none"),
        ("smm", "project_type", 1, "expected text"),
        # bounded by the question's type: finite, within +-NUMBER_LIMIT when it sets none
        ("seo", "site_age_years", math.nan, "expected a finite number"),
        ("ppc", "monthly_ad_spend", math.inf, "expected a finite number"),
        ("ppc", "monthly_ad_spend", 10**400, "expected a number <= 1e+12"),
        ("smm", "followers_k", 2e12, "expected a number <= 1e+12"),
        ("seo", "project_type", "x" * 2001, "expected at most 2000 characters"),
    ],
)
def test_bad_answer_names_its_question(service: str, key: str, answer: Any, message: str) -> None:
    problems = _problems(service, {key: answer})
    assert problems == {f"questionnaire.answers.{key}": message}


def test_every_bad_answer_is_reported_at_once() -> None:
    problems = _problems("smm", {"followers_k": -2, "has_content_team": 1, "nope": 1})
    assert set(problems) == {
        "questionnaire.answers.followers_k",
        "questionnaire.answers.has_content_team",
        "questionnaire.answers.nope",
    }
    assert "questionnaire.answers.nope" in str(QuestionnaireError(problems))
