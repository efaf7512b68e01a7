"""The per-feature encoders: categories, markers, money, e-mail, phone, text, ordinal and
datetime outputs, and the plain words of ``describe``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec
from tests.features.pipeline.sample import (
    T0,
    category_code,
    output_column,
    spec_of,
)

# ----------------------------------------------------------------------------- categoricals


def test_rare_and_unseen_categories_get_other_and_missing_gets_missing(spec: DatasetSpec) -> None:
    rows = [{"region": "Moscow"}] * 25 + [{"region": "Tver"}] * 3 + [{"region": None}] * 2
    featurizer = LeadFeaturizer(spec).fit(rows)  # region: min_count 20 (the default)
    assert featurizer.categories_["region"] == ["Moscow", "other", "missing"]
    test = [{"region": "Moscow"}, {"region": "Tver"}, {"region": "Omsk"}, {"region": ""}, {}]
    codes = output_column(featurizer, test, "region")
    other = category_code(featurizer, "region", "other")
    missing = category_code(featurizer, "region", "missing")
    assert list(codes) == [0.0, other, other, missing, missing]


def test_max_categories_keeps_the_most_frequent() -> None:
    spec = spec_of([{"column": "src", "type": "categorical", "min_count": 1, "max_categories": 2}])
    rows = [{"src": "a"}] * 5 + [{"src": "b"}] * 4 + [{"src": "c"}] * 3
    featurizer = LeadFeaturizer(spec).fit(rows)
    assert featurizer.categories_["src"] == ["a", "b", "other", "missing"]
    assert list(output_column(featurizer, [{"src": "c"}, {"src": " b "}], "src")) == [2.0, 1.0]


def test_missing_value_markers_are_missing() -> None:
    spec = spec_of(
        [
            {"column": "city", "type": "categorical", "min_count": 1},
            {"column": "visits", "type": "numeric"},
            {"column": "opt_in", "type": "boolean"},
        ],
        missing_values=["", "Select"],
    )
    rows = [{"city": "Pune", "visits": "1,5", "opt_in": "Yes"}, {"city": "Select"}]
    featurizer = LeadFeaturizer(spec).fit(rows)
    assert featurizer.categories_["city"] == ["Pune", "other", "missing"]
    test = [{"city": " Select ", "visits": "Select", "opt_in": "Select"}, rows[0]]
    matrix = featurizer.transform(test)
    np.testing.assert_array_equal(matrix[0], [2.0, np.nan, np.nan])
    np.testing.assert_array_equal(matrix[1], [0.0, 1.5, 1.0])


# ----------------------------------------------------------------------------- types


def test_money_is_normalised_across_currencies_and_brackets(qualified: LeadFeaturizer) -> None:
    rows = [
        {"budget_amount": 1000, "budget_currency": "USD"},
        {"budget_amount": 90000, "budget_currency": "RUB"},
        {"budget_amount": "1000", "budget_currency": "usd"},
        {"budget_bracket": "300k_1m"},
        {"budget_amount": 100, "budget_currency": "RUB", "budget_bracket": "gt_3m"},
        {"budget_amount": 100, "budget_currency": "XXX", "budget_bracket": "lt_100k"},
        {"budget_amount": 100},  # no currency: not usable
        {},
    ]
    rub = output_column(qualified, rows, "budget_amount_rub")
    assert rub[0] == rub[1] == rub[2] == 90000.0
    assert rub[3] == 600000.0  # the bracket's representative amount
    assert rub[4] == 100.0  # an amount beats the bracket
    assert rub[5] == 60000.0  # unknown currency: the bracket
    assert np.isnan(rub[6])
    assert np.isnan(rub[7])
    given = output_column(qualified, rows, "budget_amount_given")
    labels = [qualified.categories_["budget_amount_given"][int(c)] for c in given]
    assert labels == ["amount"] * 3 + ["bracket", "amount", "bracket", "missing", "missing"]


@pytest.mark.parametrize(
    ("email", "kind"),
    [
        ("ivan@acme.ru", "corporate"),
        ("Ivan.Petrov@Sub.Company.COM", "corporate"),
        ("someone@gmail.com", "free_mail"),
        ("someone@MAIL.RU", "free_mail"),
        ("x@yandex.kz", "free_mail"),
        ("x@gmx.de", "free_mail"),
        ("x@yahoo.co.uk", "free_mail"),
        ("x@mail.acme.ru", "corporate"),
        ("not an email", "invalid"),
        ("a@b", "invalid"),
        ("a@@acme.ru", "invalid"),
        ("", "missing"),
        (None, "missing"),
    ],
)
def test_email_kinds(qualified: LeadFeaturizer, email: str | None, kind: str) -> None:
    code = output_column(qualified, [{"email": email}], "email_kind")[0]
    assert qualified.categories_["email_kind"][int(code)] == kind


def test_phone_is_only_present_or_not(qualified: LeadFeaturizer) -> None:
    rows = [{"phone": "+7 (999) 123-45-67"}, {"phone": "n/a"}, {"phone": None}, {}]
    assert list(output_column(qualified, rows, "phone_given")) == [1.0, 0.0, 0.0, 0.0]


def test_text_length_language_and_keywords(qualified: LeadFeaturizer) -> None:
    rows = [
        {"message": "Срочно нужна стоимость продвижения"},
        {"message": "Please send a QUOTE, asap"},
        {"message": "Нужен аудит сайта, SEO audit please"},
        {"message": "12345 !!!"},
        {"message": "Ищу работу: вакансии, резюме"},
        {"message": "Bigjobs at lowcost, prices later"},  # keywords start words only
        {"message": "   "},
    ]
    matrix = qualified.transform(rows)
    col = {name: matrix[:, i] for i, name in enumerate(qualified.feature_names_)}
    langs = [qualified.categories_["message_lang"][int(c)] for c in col["message_lang"]]
    assert langs == ["ru", "en", "mixed", "other", "ru", "en", "missing"]
    assert list(col["message_kw_urgent"]) == [1, 1, 0, 0, 0, 0, 0]
    assert list(col["message_kw_price"]) == [1, 1, 0, 0, 0, 1, 0]  # "prices": a prefix match
    assert list(col["message_kw_job"]) == [0, 0, 0, 0, 1, 0, 0]
    assert list(col["message_kw_tender"]) == [0] * 7
    assert col["message_chars"][1] == len("Please send a QUOTE, asap")
    assert col["message_words"][1] == 5
    assert np.isnan(col["message_chars"][6])
    assert np.isnan(col["message_words"][6])


def test_hashed_tokens() -> None:
    spec = spec_of([{"column": "note", "type": "text", "hash_features": 8}])
    featurizer = LeadFeaturizer(spec).fit([{"note": "a"}])
    hashed = [n for n in featurizer.feature_names_ if n.startswith("note_hash_")]
    assert len(hashed) == 8
    matrix = featurizer.transform([{"note": "Цена цена price"}, {"note": "price цена Цена"}])
    first = matrix[0, [featurizer.feature_names_.index(n) for n in hashed]]
    assert first.sum() == 3
    assert first.max() >= 2
    np.testing.assert_array_equal(matrix[0], matrix[1])


def test_ordinal_ranks_and_unknown_is_nan(qualified: LeadFeaturizer) -> None:
    rows = [
        {"timeframe": "now", "need_fit": "Strong", "company_size": "201-1000"},
        {"timeframe": "unknown", "need_fit": "none", "company_size": "1-10"},
        {"timeframe": "soon", "need_fit": None, "company_size": ""},
    ]
    matrix = qualified.transform(rows)
    get = {name: matrix[:, i] for i, name in enumerate(qualified.feature_names_)}
    np.testing.assert_array_equal(get["timeframe"], [3.0, np.nan, np.nan])
    np.testing.assert_array_equal(get["need_fit"], [2.0, 0.0, np.nan])
    np.testing.assert_array_equal(get["company_size"], [3.0, 0.0, np.nan])


def test_datetime_parts_and_days_since(qualified: LeadFeaturizer) -> None:
    forms = [
        T0,
        pd.Timestamp(T0),
        "2024-03-05T14:20:00Z",
        "2024-03-05 17:20:00+03:00",
        np.datetime64("2024-03-05T14:20"),
        datetime(2024, 3, 5, 14, 20),  # naive: taken as UTC
    ]
    rows = [{"arrived_at": at, "first_touch_at": "2024-02-24T02:20:00Z"} for at in forms]
    matrix = qualified.transform(rows)
    get = {name: matrix[:, i] for i, name in enumerate(qualified.feature_names_)}
    assert set(get["arrived_at_hour"]) == {14.0}
    assert set(get["arrived_at_weekday"]) == {1.0}  # Tuesday, Monday = 0
    assert set(get["arrived_at_month"]) == {3.0}
    assert set(get["first_touch_at_days_before"]) == {10.5}
    missing = qualified.transform([{"arrived_at": None, "first_touch_at": T0}, {}])
    assert np.isnan(missing[:, qualified.feature_names_.index("arrived_at_hour")]).all()
    assert np.isnan(missing[:, qualified.feature_names_.index("first_touch_at_days_before")]).all()


def test_day_of_year_part() -> None:
    spec = spec_of([{"column": "at", "type": "datetime", "parts": ["dayofyear", "hour"]}])
    featurizer = LeadFeaturizer(spec).fit([{"at": T0}])
    assert featurizer.feature_names_ == ["at_dayofyear", "at_hour"]
    np.testing.assert_array_equal(featurizer.transform([{"at": T0}]), [[65.0, 14.0]])


# ----------------------------------------------------------------------------- describe


def test_describe_phrases(qualified: LeadFeaturizer, spec: DatasetSpec) -> None:
    record: dict[str, Any] = {
        "arrived_at": T0,
        "channel": "referral",
        "utm_source": "some-rare-source",
        "company_size": "201-1000",
        "email": "ivan@acme.ru",
        "phone": None,
        "message": "Нужна цена, срочно!",
        "first_touch_at": T0 - timedelta(days=12),
        "budget_bracket": "300k_1m",
        "is_decision_maker": False,
        "need_fit": "strong",
        "timeframe": "now",
        "q_site_age_years": 3,
    }
    say = qualified.describe
    assert say("channel", record) == "channel = referral"
    assert say("utm_source", record) == "utm_source = some-rare-source (rare value)"
    assert say("region", record) == "region not given"
    assert say("company_size", record) == "company size 201-1000"
    assert say("email", record) == "corporate e-mail"
    assert say("email", {"email": "a@gmail.com"}) == "free-mail address"
    assert say("phone", record) == "no phone"
    assert say("phone", {"phone": "+7 999 000 11 22"}) == "phone given"
    assert say("message", record) == "message mentions urgent, price"
    assert say("message", {"message": "Call me"}) == "message: 2 words, English"
    assert say("message", {}) == "no message"
    assert say("arrived_at", record) == "arrived 14:00 UTC, Tue, Mar"
    assert say("first_touch_at", record) == "first touch 12 days before"
    assert say("budget_amount", record) == "budget ≈ 600k RUB (bracket)"
    assert say("budget_amount", {"budget_amount": 1000, "budget_currency": "USD"}) == (
        "budget ≈ 90k RUB"
    )
    assert say("budget_amount", {}) == "budget not given"
    assert say("is_decision_maker", record) == "decision maker: no"
    assert say("is_decision_maker", {}) == "decision maker: unknown"
    assert say("need_fit", record) == "need fit: strong"
    assert say("timeframe", record) == "timeframe: now"
    assert say("timeframe", {}) == "timeframe not given"
    assert say("q_site_age_years", record) == "q_site_age_years = 3"
    assert say("q_has_analytics", record) == "has analytics: unknown"
    with pytest.raises(ValueError, match="not a source field"):
        say("budget_currency", record)
    arrival = LeadFeaturizer(spec, "arrival").fit([record])
    with pytest.raises(ValueError, match="not a source field"):
        arrival.describe("budget_amount", record)
