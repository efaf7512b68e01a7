"""LeadFeaturizer: output names and metadata, the columns a known_at reads, estimator rules
(params, clone) and errors on bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from features.lead import Lead, SourceData, lead_to_record
from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec, KnownAt
from tests.features.pipeline.sample import (
    T0,
    category_code,
    frame_of,
    spec_of,
)

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


def test_input_columns_are_those_of_the_known_at_features(
    spec: DatasetSpec, qualified: LeadFeaturizer
) -> None:
    expected = {c for f in spec.features for c in f.input_columns}
    assert set(qualified.input_columns_) == expected | {"arrived_at"}
    assert "external_id" not in qualified.input_columns_


# ----------------------------------------------------------------------------- known_at


def test_all_missing_bant_transforms_when_known_at_is_qualified(qualified: LeadFeaturizer) -> None:
    lead = Lead(external_id="new-1", arrived_at=T0, source=SourceData(channel="referral"))
    record = lead_to_record(lead)
    row = dict(zip(qualified.feature_names_, qualified.transform([record])[0], strict=True))
    for name in ("budget_amount_rub", "is_decision_maker", "need_fit", "timeframe"):
        assert np.isnan(row[name]), name
    for name in ("q_site_age_years", "q_has_analytics", "q_pages_count"):
        assert np.isnan(row[name]), name
    for name in ("authority_role", "need_service", "q_project_type", "budget_amount_given"):
        assert row[name] == category_code(qualified, name, "missing"), name
    arrival_only = {"arrived_at": T0, "channel": "referral", "contact_type": "form"}
    np.testing.assert_array_equal(qualified.transform([arrival_only]), [list(row.values())])


def test_an_arrival_featurizer_reads_no_qualified_column(
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


# ----------------------------------------------------------------------------- estimator


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


# ----------------------------------------------------------------------------- errors


def test_bad_input_gets_clear_errors(spec: DatasetSpec, records: list[dict[str, Any]]) -> None:
    frame = frame_of(records, LeadFeaturizer(spec, "qualified").fit(records).input_columns_)
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
    bad = spec_of([{"column": "src", "type": "categorical", "monotone": 1}])
    with pytest.raises(ValueError, match="monotone"):
        LeadFeaturizer(bad).fit([{"src": "a"}])
