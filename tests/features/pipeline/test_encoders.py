"""The feature pipeline: one code path for DataFrames (training) and dict records (serving)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from features.coerce import datetime_us_of, to_datetime64_utc, to_datetime_utc
from features.lead import Lead, SourceData, lead_to_record
from features.pipeline import DIRECT_MAX, LeadFeaturizer
from features.spec import DatasetSpec, KnownAt, load_spec

T0 = datetime(2024, 3, 5, 14, 20, tzinfo=UTC)  # a Tuesday

CHANNELS = ["paid_search", "referral", "social", "events"]
MESSAGES = [
    "Здравствуйте! Срочно нужна цена на продвижение сайта",
    "Hi, please send a quote for SEO asap",
    "Ищу работу, вот резюме",
    "Объявлен тендер на SMM",
    "Call me back",
    None,
]


def _record(i: int) -> dict[str, Any]:
    """A demo-like record; every column takes missing forms (absent key, None, NaN, "")."""
    rng = np.random.default_rng(i)
    record: dict[str, Any] = {
        "external_id": f"L{i}",
        "arrived_at": T0 + timedelta(hours=int(rng.integers(0, 24 * 60))),
        "channel": CHANNELS[i % len(CHANNELS)],
        "utm_source": ["google", "yandex", None, ""][i % 4],
        "utm_campaign": f"camp{i % 7}",
        "landing_page": "/seo" if i % 3 else float("nan"),
        "contact_type": ["form", "chat", "call"][i % 3],
        "region": ["Moscow", "Kazan", "Almaty"][i % 3],
        "company_industry": ["retail", "it", None][i % 3],
        "company_size": ["1-10", "51-200", "201-1000", None][i % 4],
        "email": ["ivan@acme.ru", "x@gmail.com", "broken@", None][i % 4],
        "phone": ["+7 999 123-45-67", None, "n/a"][i % 3],
        "message": MESSAGES[i % len(MESSAGES)],
        "first_touch_at": (T0 - timedelta(days=int(rng.integers(0, 40)))) if i % 2 else None,
        "budget_amount": [1000.0, None, 250000.0, float("nan")][i % 4],
        "budget_currency": ["USD", None, "RUB", None][i % 4],
        "budget_bracket": [None, "300k_1m", None, None][i % 4],
        "authority_role": ["CEO", "marketer", None][i % 3],
        "is_decision_maker": [True, False, None][i % 3],
        "need_service": ["seo", "ppc", "web"][i % 3],
        "need_fit": ["strong", "partial", "none", None][i % 4],
        "timeframe": ["now", "lt_3m", "unknown", None][i % 4],
        "q_project_type": ["new", "existing", None][i % 3],
        "q_promotion_region": "local",
        "q_site_age_years": [3, None, 2.5][i % 3],
        "q_has_analytics": [True, None, False][i % 3],
        "q_monthly_ad_spend": None,
        "q_ad_platform": ["yandex", None][i % 2],
        "q_followers_k": 1.5,
        "q_has_content_team": None,
        "q_pages_count": [10, None][i % 2],
        "q_has_design": [False, None][i % 2],
    }
    for key in ("utm_campaign", "q_monthly_ad_spend", "q_ad_platform")[: i % 4]:
        del record[key]  # absent keys are missing values (serving)
    return record


def _frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """The same rows as a DataFrame (pandas 3 gives text columns the ``str`` dtype)."""
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in records], columns=columns)


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    return load_spec("demo")


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return [_record(i) for i in range(60)]


@pytest.fixture(scope="module")
def qualified(spec: DatasetSpec, records: list[dict[str, Any]]) -> LeadFeaturizer:
    return LeadFeaturizer(spec, "qualified").fit(records)


def _spec(features: list[dict[str, Any]], **extra: Any) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "t",
            "id_column": "id",
            "time_column": "arrived_at",
            "channel_column": "channel",
            "targets": {"won": {"kind": "binary", "column": "won"}},
            "features": features,
            **extra,
        }
    )


def _column(featurizer: LeadFeaturizer, rows: Any, name: str) -> np.ndarray:
    matrix = featurizer.transform(rows)
    return matrix[:, featurizer.feature_names_.index(name)]


def _code(featurizer: LeadFeaturizer, name: str, label: str) -> float:
    return float(featurizer.categories_[name].index(label))


# ----------------------------------------------------------------------------- shape, names


def test_fit_transform_shape_names_and_metadata(
    qualified: LeadFeaturizer, records: list[dict[str, Any]]
) -> None:
    matrix = qualified.transform(records)
    names = qualified.feature_names_
    assert matrix.dtype == np.float64
    assert matrix.shape == (len(records), len(names))
    assert list(qualified.get_feature_names_out()) == names
    assert len(qualified.feature_sources_) == len(names)
    assert len(qualified.monotone_constraints_) == len(names)
    expected = {
        "channel",
        "company_size",
        "email_kind",
        "phone_given",
        "message_chars",
        "message_words",
        "message_lang",
        "message_kw_price",
        "arrived_at_hour",
        "arrived_at_weekday",
        "arrived_at_month",
        "first_touch_at_days_before",
        "budget_amount_rub",
        "budget_amount_given",
        "need_fit",
    }
    assert expected <= set(names)
    assert "email" not in names
    assert "message" not in names
    assert "phone" not in names
    categorical = {names[i] for i in qualified.categorical_indices_}
    assert categorical == set(qualified.categories_)
    assert {"channel", "email_kind", "message_lang", "budget_amount_given"} <= categorical
    assert "budget_amount_rub" not in categorical
    # integer codes within the category list
    for i in qualified.categorical_indices_:
        codes = matrix[:, i]
        assert np.all(codes == np.round(codes))
        assert codes.min() >= 0
        assert codes.max() < len(qualified.categories_[names[i]])
    monotone = dict(zip(names, qualified.monotone_constraints_, strict=True))
    assert monotone["budget_amount_rub"] == 1
    assert monotone["need_fit"] == 1
    assert monotone["channel"] == 0
    sources = dict(zip(names, qualified.feature_sources_, strict=True))
    assert sources["budget_amount_given"] == "budget_amount"
    assert sources["message_kw_job"] == "message"
    assert sources["first_touch_at_days_before"] == "first_touch_at"


def test_input_columns_are_the_stage_features(spec: DatasetSpec, qualified: LeadFeaturizer) -> None:
    expected = {c for f in spec.features for c in f.input_columns}
    assert set(qualified.input_columns_) == expected | {"arrived_at"}
    assert "external_id" not in qualified.input_columns_


# ----------------------------------------------------------------------------- parity


def test_dict_and_frame_paths_give_identical_matrices(
    qualified: LeadFeaturizer, records: list[dict[str, Any]]
) -> None:
    frame = _frame(records, qualified.input_columns_)
    assert frame["channel"].dtype == "str"  # pandas 3 text columns
    from_frame = qualified.transform(frame)
    from_records = qualified.transform(records)
    np.testing.assert_array_equal(from_frame, from_records)
    # fitting on the frame learns the same categories
    refit = LeadFeaturizer(qualified.spec, "qualified").fit(frame)
    assert refit.categories_ == qualified.categories_
    np.testing.assert_array_equal(refit.transform(records), from_records)


def test_large_batches_equal_one_record_at_a_time(qualified: LeadFeaturizer) -> None:
    """Large inputs are mapped per distinct value; the result must not depend on batching."""
    records = [_record(i) for i in range(DIRECT_MAX + 100)]
    one_by_one = np.vstack([qualified.transform([r]) for r in records])
    np.testing.assert_array_equal(qualified.transform(records), one_by_one)
    frame = _frame(records, qualified.input_columns_)
    np.testing.assert_array_equal(qualified.transform(frame), one_by_one)


def test_string_csv_values_match_python_values(
    qualified: LeadFeaturizer, records: list[dict[str, Any]]
) -> None:
    """A CSV export (every value text) gives the same matrix as typed Python values."""

    def as_csv_text(value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    text_records = [{k: as_csv_text(v) for k, v in r.items()} for r in records]
    frame = _frame(text_records, qualified.input_columns_).astype("str")
    np.testing.assert_array_equal(qualified.transform(frame), qualified.transform(records))


def test_mixed_booleans_and_numbers_are_not_merged() -> None:
    """pandas groups True with 1 (and Decimal 1 with 1.0); their texts must stay apart."""
    spec = _spec([{"column": "flag", "type": "categorical", "min_count": 1}])
    values = [True, 1, 1.0, "1", "true", Decimal("1.0"), None]
    rows = [{"flag": v} for v in values] * 60
    featurizer = LeadFeaturizer(spec).fit(rows)
    assert featurizer.categories_["flag"][:3] == ["1", "true", "1.0"]
    batch = featurizer.transform(rows)
    one_by_one = np.vstack([featurizer.transform([r]) for r in rows[: len(values)]])
    np.testing.assert_array_equal(batch[: len(values)], one_by_one)
    assert list(batch[: len(values), 0]) == [1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 4.0]


def test_pickle_round_trip_behaves_identically(
    qualified: LeadFeaturizer, records: list[dict[str, Any]]
) -> None:
    expected = qualified.transform(records)
    for restored in (
        cloudpickle.loads(cloudpickle.dumps(qualified)),
        pickle.loads(pickle.dumps(qualified)),
    ):
        np.testing.assert_array_equal(restored.transform(records), expected)
        assert restored.categories_ == qualified.categories_
        assert restored.describe("budget_amount", records[0]) == qualified.describe(
            "budget_amount", records[0]
        )


def test_a_featurizer_pickled_under_the_old_name_of_known_at_still_loads(
    spec: DatasetSpec, records: list[dict[str, Any]]
) -> None:
    fitted = LeadFeaturizer(spec, "qualified").fit(records)
    old = pickle.dumps(fitted)
    # a featurizer pickled before the rename carried the moment in its `stage` attribute
    state = pickle.loads(old).__getstate__()
    state["stage"] = state.pop("known_at")
    restored = LeadFeaturizer.__new__(LeadFeaturizer)
    restored.__setstate__(state)
    assert restored.known_at == "qualified"
    assert not hasattr(restored, "stage")
    np.testing.assert_array_equal(restored.transform(records), fitted.transform(records))


def test_clone_and_params(spec: DatasetSpec, records: list[dict[str, Any]]) -> None:
    featurizer = LeadFeaturizer(spec, "qualified")
    assert featurizer.get_params() == {"spec": spec, "known_at": "qualified"}
    fitted = featurizer.fit(records)
    fresh = clone(fitted)
    assert fresh.get_params()["known_at"] == "qualified"
    assert fresh.get_params()["spec"] == spec
    assert not hasattr(fresh, "feature_names_")
    with pytest.raises(NotFittedError):
        fresh.transform(records)
    np.testing.assert_array_equal(fresh.fit(records).transform(records), fitted.transform(records))


# ----------------------------------------------------------------------------- categoricals


def test_rare_and_unseen_categories_get_other_and_missing_gets_missing(spec: DatasetSpec) -> None:
    rows = [{"region": "Moscow"}] * 25 + [{"region": "Tver"}] * 3 + [{"region": None}] * 2
    featurizer = LeadFeaturizer(spec).fit(rows)  # region: min_count 20 (the default)
    assert featurizer.categories_["region"] == ["Moscow", "other", "missing"]
    test = [{"region": "Moscow"}, {"region": "Tver"}, {"region": "Omsk"}, {"region": ""}, {}]
    codes = _column(featurizer, test, "region")
    other, missing = _code(featurizer, "region", "other"), _code(featurizer, "region", "missing")
    assert list(codes) == [0.0, other, other, missing, missing]


def test_max_categories_keeps_the_most_frequent() -> None:
    spec = _spec([{"column": "src", "type": "categorical", "min_count": 1, "max_categories": 2}])
    rows = [{"src": "a"}] * 5 + [{"src": "b"}] * 4 + [{"src": "c"}] * 3
    featurizer = LeadFeaturizer(spec).fit(rows)
    assert featurizer.categories_["src"] == ["a", "b", "other", "missing"]
    assert list(_column(featurizer, [{"src": "c"}, {"src": " b "}], "src")) == [2.0, 1.0]


def test_missing_value_markers_are_missing() -> None:
    spec = _spec(
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


# ----------------------------------------------------------------------------- stages


def test_all_missing_bant_transforms_at_the_qualified_stage(qualified: LeadFeaturizer) -> None:
    lead = Lead(external_id="new-1", arrived_at=T0, source=SourceData(channel="referral"))
    record = lead_to_record(lead)
    row = dict(zip(qualified.feature_names_, qualified.transform([record])[0], strict=True))
    for name in ("budget_amount_rub", "is_decision_maker", "need_fit", "timeframe"):
        assert np.isnan(row[name]), name
    for name in ("q_site_age_years", "q_has_analytics", "q_pages_count"):
        assert np.isnan(row[name]), name
    for name in ("authority_role", "need_service", "q_project_type", "budget_amount_given"):
        assert row[name] == _code(qualified, name, "missing"), name
    arrival_only = {"arrived_at": T0, "channel": "referral", "contact_type": "form"}
    np.testing.assert_array_equal(qualified.transform([arrival_only]), [list(row.values())])


def test_arrival_stage_reads_no_qualified_column(
    spec: DatasetSpec, records: list[dict[str, Any]]
) -> None:
    arrival = LeadFeaturizer(spec, "arrival").fit(records)
    qualified_columns = {
        column
        for feature in spec.features
        if feature.known_at is KnownAt.QUALIFIED
        for column in feature.input_columns
    }
    assert qualified_columns  # the demo spec has BANT features
    assert not qualified_columns & set(arrival.input_columns_)
    assert not qualified_columns & set(arrival.feature_sources_)
    changed = [
        {**r, **{c: "changed" for c in qualified_columns}, "budget_amount": 1e9, "need_fit": "none"}
        for r in records
    ]
    np.testing.assert_array_equal(arrival.transform(changed), arrival.transform(records))
    assert (
        arrival.transform(records).shape[1]
        < LeadFeaturizer(spec, "qualified").fit(records).transform(records).shape[1]
    )


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
    rub = _column(qualified, rows, "budget_amount_rub")
    assert rub[0] == rub[1] == rub[2] == 90000.0
    assert rub[3] == 600000.0  # the bracket's representative amount
    assert rub[4] == 100.0  # an amount beats the bracket
    assert rub[5] == 60000.0  # unknown currency: the bracket
    assert np.isnan(rub[6])
    assert np.isnan(rub[7])
    given = _column(qualified, rows, "budget_amount_given")
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
    code = _column(qualified, [{"email": email}], "email_kind")[0]
    assert qualified.categories_["email_kind"][int(code)] == kind


def test_phone_is_only_present_or_not(qualified: LeadFeaturizer) -> None:
    rows = [{"phone": "+7 (999) 123-45-67"}, {"phone": "n/a"}, {"phone": None}, {}]
    assert list(_column(qualified, rows, "phone_given")) == [1.0, 0.0, 0.0, 0.0]


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
    spec = _spec([{"column": "note", "type": "text", "hash_features": 8}])
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
    spec = _spec([{"column": "at", "type": "datetime", "parts": ["dayofyear", "hour"]}])
    featurizer = LeadFeaturizer(spec).fit([{"at": T0}])
    assert featurizer.feature_names_ == ["at_dayofyear", "at_hour"]
    np.testing.assert_array_equal(featurizer.transform([{"at": T0}]), [[65.0, 14.0]])


def test_coerce_datetime_fast_path_agrees_with_pandas() -> None:
    values = np.array(
        ["2024-03-05T14:20:00Z", "2024-03-05 17:20:00.5+03:00", "2024-03-05", "05.03.2024", None],
        dtype=object,
    )
    fast = to_datetime64_utc(values)
    slow = to_datetime_utc(values).tz_localize(None).to_numpy().astype("datetime64[us]")
    np.testing.assert_array_equal(fast, slow)
    assert datetime_us_of(pd.NaT) is None
    assert datetime_us_of("garbage") is None
    typed = pd.to_datetime(values[:3], utc=True, format="ISO8601").tz_convert(None).to_numpy()
    frame_path = to_datetime64_utc(typed)
    np.testing.assert_array_equal(frame_path, fast[:3])


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


# ----------------------------------------------------------------------------- errors


def test_bad_input_gets_clear_errors(spec: DatasetSpec, records: list[dict[str, Any]]) -> None:
    frame = _frame(records, LeadFeaturizer(spec, "qualified").fit(records).input_columns_)
    with pytest.raises(ValueError, match="'need_fit'"):
        LeadFeaturizer(spec, "qualified").fit(frame.drop(columns=["need_fit"]))
    fitted = LeadFeaturizer(spec, "qualified").fit(frame)
    with pytest.raises(ValueError, match="'budget_currency'"):
        fitted.transform(frame.drop(columns=["budget_currency"]))
    with pytest.raises(ValueError, match="known_at must be one of"):
        LeadFeaturizer(spec, "won").fit(records)
    with pytest.raises(TypeError, match="single record"):
        fitted.transform(records[0])
    with pytest.raises(TypeError, match="record 1"):
        fitted.transform([records[0], ["not", "a", "mapping"]])
    with pytest.raises(ValueError, match="no rows"):
        LeadFeaturizer(spec).fit([])
    bad = _spec([{"column": "src", "type": "categorical", "monotone": 1}])
    with pytest.raises(ValueError, match="monotone"):
        LeadFeaturizer(bad).fit([{"src": "a"}])
