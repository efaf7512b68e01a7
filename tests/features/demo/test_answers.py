"""Qualification answers: budgets, and questionnaires only for the lead's own service."""

from __future__ import annotations

import pandas as pd

from features.funnel import Stage
from features.questionnaire import load_catalog
from tests.features.demo.conftest import stage_ranks


def test_budget_is_an_amount_or_a_bracket_or_missing(frame: pd.DataFrame) -> None:
    amount = frame["budget_amount"].notna()
    bracket = frame["budget_bracket"].notna()
    assert not (amount & bracket).any()
    assert (frame["budget_currency"].notna() == amount).all()
    currencies = frame["budget_currency"].value_counts(normalize=True)
    assert currencies.index[0] == "RUB"
    assert currencies["RUB"] > 0.8
    assert set(currencies.index) == {"RUB", "USD", "EUR", "KZT"}
    assert 0.15 < (~amount & ~bracket).mean() < 0.5
    assert (frame["budget_amount"].dropna() > 0).all()


def test_missing_budget_lowers_conversion_in_paid_search(frame: pd.DataFrame) -> None:
    paid = frame[frame["channel"] == "paid_search"]
    missing = (paid["budget_amount"].isna() & paid["budget_bracket"].isna()).to_numpy()
    sql = stage_ranks(paid) >= Stage.SQL.rank
    assert sql[missing].mean() < 0.5 * sql[~missing].mean()


def test_questionnaire_answers_only_for_the_leads_service(frame: pd.DataFrame) -> None:
    catalog = load_catalog()
    for service, questions in catalog.services.items():
        for question in questions:
            answered = frame["q_" + question.key].notna()
            assert answered.any(), question.key
            assert (frame.loc[answered, "need_service"] == service).all(), question.key
    common = frame["q_project_type"].notna()
    assert frame.loc[common, "need_service"].notna().all()
    assert set(frame["q_ad_platform"].dropna()) <= {"yandex", "google", "vk", "none"}
