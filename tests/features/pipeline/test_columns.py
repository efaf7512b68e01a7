"""Raw input paths: DataFrames and dict records, one record or a large batch, text or typed
values, all give the same matrix."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from features.pipeline import DIRECT_MAX, LeadFeaturizer
from tests.features.pipeline.sample import (
    demo_record,
    frame_of,
    spec_of,
)

# ----------------------------------------------------------------------------- parity


def test_dict_and_frame_paths_give_identical_matrices(
    qualified: LeadFeaturizer, records: list[dict[str, Any]]
) -> None:
    frame = frame_of(records, qualified.input_columns_)
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
    records = [demo_record(i) for i in range(DIRECT_MAX + 100)]
    one_by_one = np.vstack([qualified.transform([r]) for r in records])
    np.testing.assert_array_equal(qualified.transform(records), one_by_one)
    frame = frame_of(records, qualified.input_columns_)
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
    frame = frame_of(text_records, qualified.input_columns_).astype("str")
    np.testing.assert_array_equal(qualified.transform(frame), qualified.transform(records))


def test_mixed_booleans_and_numbers_are_not_merged() -> None:
    """pandas groups True with 1 (and Decimal 1 with 1.0); their texts must stay apart."""
    spec = spec_of([{"column": "flag", "type": "categorical", "min_count": 1}])
    values = [True, 1, 1.0, "1", "true", Decimal("1.0"), None]
    rows = [{"flag": v} for v in values] * 60
    featurizer = LeadFeaturizer(spec).fit(rows)
    assert featurizer.categories_["flag"][:3] == ["1", "true", "1.0"]
    batch = featurizer.transform(rows)
    one_by_one = np.vstack([featurizer.transform([r]) for r in rows[: len(values)]])
    np.testing.assert_array_equal(batch[: len(values)], one_by_one)
    assert list(batch[: len(values), 0]) == [1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 4.0]
