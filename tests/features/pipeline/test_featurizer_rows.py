"""Fitting the feature pipeline encoder by encoder, and on row positions of a frame: the
same matrix and the same learned lists as fitting on the frame of only those rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.pipeline.featurizer import LeadFeaturizer
from features.spec import KnownAt, load_spec


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    leads, _ = generate_leads(n=1200, seed=17)
    return prepare_frame(load_spec("demo"), leads).frame


def _learned(featurizer: LeadFeaturizer) -> tuple[object, ...]:
    return (
        featurizer.input_columns_,
        featurizer.feature_names_,
        featurizer.categorical_indices_,
        featurizer.feature_sources_,
        featurizer.monotone_constraints_,
        featurizer.categories_,
    )


@pytest.mark.parametrize("known_at", list(KnownAt))
def test_rows_of_a_frame_featurize_as_the_frame_of_those_rows(
    frame: pd.DataFrame, known_at: KnownAt
) -> None:
    spec = load_spec("demo")
    rows = np.flatnonzero(np.arange(len(frame)) % 6 != 4)
    by_rows = LeadFeaturizer(spec=spec, known_at=known_at.value)
    copied = LeadFeaturizer(spec=spec, known_at=known_at.value)
    matrix = by_rows.fit_transform_rows(frame, rows)
    np.testing.assert_array_equal(matrix, copied.fit_transform(frame.iloc[rows]))
    assert _learned(by_rows) == _learned(copied)
    # the encoder-by-encoder fit gives what fitting first and transforming after gives
    np.testing.assert_array_equal(matrix, copied.transform(frame.iloc[rows]))
    records = frame.iloc[rows].to_dict(orient="records")
    from_records = LeadFeaturizer(spec=spec, known_at=known_at.value)
    np.testing.assert_array_equal(from_records.fit_transform(records), matrix)


def test_no_rows_and_absent_columns_are_refused_as_before(frame: pd.DataFrame) -> None:
    featurizer = LeadFeaturizer(spec=load_spec("demo"), known_at="arrival")
    with pytest.raises(ValueError, match="no rows"):
        featurizer.fit_transform_rows(frame, np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="the data has no column 'channel'"):
        featurizer.fit_transform(frame.drop(columns=["channel"]))
