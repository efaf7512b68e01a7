"""Coercion: long columns (computed once per distinct value) equal the per-element path, and
the fast datetime parser agrees with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.coerce import (
    PER_VALUE_MIN_ROWS,
    bool_of,
    datetime_us_of,
    is_missing,
    number_of,
    to_bool,
    to_datetime64_utc,
    to_datetime_utc,
    to_number,
)

MIXED = [None, float("nan"), 1, "1", True, False, 0, "", " ", "Select", " 3,5 ", 2.0, "yes", "x"]


def _long(values: list[object]) -> np.ndarray:
    repeats = PER_VALUE_MIN_ROWS // len(values) + 2
    return np.array(values * repeats, dtype=object)


def test_long_columns_coerce_like_each_value_alone() -> None:
    column = _long(MIXED)
    assert len(column) >= PER_VALUE_MIN_ROWS
    assert np.array_equal(
        to_number(column), np.array([number_of(v) for v in column]), equal_nan=True
    )
    assert np.array_equal(to_bool(column), np.array([bool_of(v) for v in column]), equal_nan=True)
    expected = [
        v is None or v != v or (isinstance(v, str) and v.strip() in {"", "Select"}) for v in column
    ]
    assert is_missing(column, ["", "Select"]).tolist() == expected


def test_unhashable_values_still_coerce() -> None:
    column = _long([[1], "2", None])
    assert np.array_equal(
        to_number(column), np.array([number_of(v) for v in column]), equal_nan=True
    )
    assert is_missing(column).tolist() == [v is None for v in column]


def test_short_columns_coerce_like_long_ones() -> None:
    """A served lead (a few values) takes the per-element path: same results."""
    short, long = np.array(MIXED, dtype=object), _long(MIXED)
    assert len(short) < PER_VALUE_MIN_ROWS <= len(long)
    n = len(short)
    assert np.array_equal(to_number(short), to_number(long)[:n], equal_nan=True)
    assert np.array_equal(to_bool(short), to_bool(long)[:n], equal_nan=True)
    assert (
        is_missing(short, ["", "Select"]).tolist() == is_missing(long, ["", "Select"]).tolist()[:n]
    )


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


def test_an_integer_beyond_any_float_is_a_missing_number() -> None:
    """A stored 400-digit answer reads as missing, in short and long columns alike."""
    huge = 10**400
    assert np.isnan(number_of(huge))
    assert np.isnan(number_of(-huge))
    assert number_of(10**300) == 1e300
    for column in (np.array([huge, 3], dtype=object), _long([huge, 3])):
        numbers = to_number(column)
        assert np.isnan(numbers[0])
        assert numbers[1] == 3.0
