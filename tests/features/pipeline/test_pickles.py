"""Fitted featurizers survive pickling: round trips, and pickles written by older versions."""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np

import features.pipeline
from features.pipeline import LeadFeaturizer
from features.spec import DatasetSpec
from tests.features.pipeline.sample import frame_of

#: A qualified ``LeadFeaturizer`` fitted on the ``records`` fixture by the single-module
#: pipeline (before it became a package), pickled with plain ``pickle`` and gzipped.
OLD_PICKLE = Path(__file__).parents[1] / "data" / "featurizer_before_split.pickle.gz"
#: Every class the single-module pipeline defined: a pickle may name any of them there.
OLD_CLASSES = (
    "Column",
    "Encoder",
    "CategoricalEncoder",
    "NumericEncoder",
    "BooleanEncoder",
    "OrdinalEncoder",
    "MoneyEncoder",
    "DatetimeEncoder",
    "SinceEncoder",
    "EmailEncoder",
    "PhoneEncoder",
    "TextEncoder",
    "LeadFeaturizer",
)


class _NamesRecorded(pickle.Unpickler):
    """An unpickler noting every (module, name) the stream asks for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.names: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.names.add((module, name))
        return super().find_class(module, name)


# ----------------------------------------------------------------------------- round trip


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


# ----------------------------------------------------------------------------- older versions


def test_every_class_of_the_single_module_pipeline_is_importable_from_the_package() -> None:
    for name in OLD_CLASSES:
        assert isinstance(getattr(features.pipeline, name), type), name


def _undated(dump: dict[str, Any]) -> dict[str, Any]:
    """A spec's dump without where its rates came from (same rates, same features)."""
    features = [
        {key: value for key, value in feature.items() if key not in ("rates_file", "rates_date")}
        for feature in dump["features"]
    ]
    return {**dump, "features": features}


def test_a_featurizer_pickled_before_the_package_split_still_loads(
    spec: DatasetSpec, records: list[dict[str, Any]]
) -> None:
    unpickler = _NamesRecorded(gzip.decompress(OLD_PICKLE.read_bytes()))
    restored = unpickler.load()
    named = {name for module, name in unpickler.names if module == "features.pipeline"}
    # the stream names the featurizer and all ten encoders at their old place
    assert named == set(OLD_CLASSES) - {"Column", "Encoder"}
    assert not any(module.startswith("features.pipeline.") for module, _ in unpickler.names)
    fresh = LeadFeaturizer(spec, "qualified").fit(records)
    assert isinstance(restored, LeadFeaturizer)
    assert restored.known_at == "qualified"
    # its file path aside, and the rates' source: the old pickle predates the dated rates file
    assert _undated(restored.spec.model_dump()) == _undated(spec.model_dump())
    assert restored.feature_names_ == fresh.feature_names_
    assert restored.categories_ == fresh.categories_
    np.testing.assert_array_equal(restored.transform(records), fresh.transform(records))
    frame = frame_of(records, fresh.input_columns_)
    np.testing.assert_array_equal(restored.transform(frame), fresh.transform(frame))
    for column in dict.fromkeys(fresh.feature_sources_):
        for record in records[:8]:
            assert restored.describe(column, record) == fresh.describe(column, record)
