"""Turning raw column values (CSV text, JSON, Python objects) into typed numpy arrays.

Used by the dataset loader (to report values that do not parse, with their rows) and by
the feature pipeline (so training and serving coerce in exactly the same way). Each
function maps a value it cannot parse to missing (NaN / NaT); ``unparsed`` tells which
present values were lost that way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

_TRUE = frozenset({"true", "t", "yes", "y", "1", "да", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "нет", "off"})


def as_object_array(values: Sequence[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """A 1-d object array with pandas' missing values (NA, NaT, NaN) turned into None."""
    if isinstance(values, pd.Series):
        array = values.to_numpy(dtype=object, na_value=None)
    else:
        array = np.asarray(values, dtype=object)
        if array.ndim == 0:
            array = array.reshape(1)
    missing = pd.isna(array)
    if missing.any():
        array = array.copy()
        array[missing] = None
    return array


PER_VALUE_MIN_ROWS = 512


def per_value(values: np.ndarray, fn: Callable[[Any], Any], dtype: Any) -> np.ndarray:
    """``fn`` of each element, computed once per distinct value (columns repeat a lot).

    Values that compare equal (1, 1.0, True) share one result, so ``fn`` must give equal
    values equal results. Unhashable values fall back to one call per element, and so do
    short arrays (a served lead), where hashing would cost more than it saves.
    """
    if len(values) < PER_VALUE_MIN_ROWS:
        return np.fromiter(map(fn, values), dtype=dtype, count=len(values))
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    except TypeError:
        return np.fromiter(map(fn, values), dtype=dtype, count=len(values))
    mapped = np.fromiter(map(fn, uniques), dtype=dtype, count=len(uniques))
    return mapped[codes]


def is_missing(values: np.ndarray, markers: Iterable[str] = ("",)) -> np.ndarray:
    """True where a value is None/NaN or equals one of the missing-value markers."""
    out = pd.isna(values)
    marker_set = {m for m in markers}
    if marker_set and len(values):
        out = out | per_value(
            values, lambda v: isinstance(v, str) and v.strip() in marker_set, bool
        )
    return np.asarray(out, dtype=bool)


def to_number(values: np.ndarray) -> np.ndarray:
    """float64; booleans become 0/1, strings are parsed (comma decimals accepted)."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    return per_value(values, number_of, np.float64)


def number_of(value: Any) -> float:
    """One value as ``to_number`` reads it (NaN when missing or not a number)."""
    if isinstance(value, str):
        text = value.strip().replace(" ", "").replace(",", ".")
        try:
            return float(text)
        except ValueError:
            return np.nan
    if isinstance(value, bool | np.bool_ | int | float | np.integer | np.floating):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: not a usable number
            return np.nan
    return np.nan


def to_bool(values: np.ndarray) -> np.ndarray:
    """float64 with 1.0 / 0.0 / NaN, so that 'unknown' stays distinct from 'no'."""
    if values.dtype.kind in "biuf":
        out = values.astype(np.float64)
        out[(out != 0) & ~np.isnan(out)] = 1.0
        return out
    return per_value(values, bool_of, np.float64)


def bool_of(value: Any) -> float:
    """One value as ``to_bool`` reads it: 1.0 / 0.0 / NaN."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return 1.0
        if text in _FALSE:
            return 0.0
        return np.nan
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return 1.0 if value else 0.0
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return np.nan
        return 1.0 if value else 0.0
    return np.nan


def to_datetime_utc(values: np.ndarray | pd.Series, fmt: str | None = None) -> pd.DatetimeIndex:
    """UTC timestamps; naive values are taken as UTC, unparsable ones become NaT."""
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), errors="coerce", utc=True, format=fmt or "mixed"
    )
    return pd.DatetimeIndex(parsed)


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_US_PER_DAY = 86_400_000_000
_NAT_INT = int(np.iinfo(np.int64).min)  # NaT as int64


def is_na(value: Any) -> bool:
    """Whether one value is missing as pandas sees it (None, NaN, NA, NaT)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(value != value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    return False


def datetime_us_of(value: Any, fmt: str | None = None) -> int | None:
    """One timestamp as microseconds since the epoch, UTC (naive values are taken as UTC).

    Accepts datetime/Timestamp/date/numpy datetime64 objects and strings (``fmt`` (strptime)
    when given and it matches, else ISO 8601, else whatever ``to_datetime_utc`` parses).
    None when missing or unparsable; numbers are not read as timestamps.
    """
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return int(value.value // 1000)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return (value - _EPOCH) // _ONE_US
        return (value - _EPOCH_UTC) // _ONE_US
    if isinstance(value, date):
        return (value - _EPOCH.date()).days * _US_PER_DAY
    if isinstance(value, str):
        return _parse_us(value.strip(), fmt)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else int(value.astype("datetime64[us]").astype(np.int64))
    return None


def _parse_us(text: str, fmt: str | None) -> int | None:
    """``fmt`` first (if given), then ISO 8601, then pandas' mixed-format parser."""
    if not text:
        return None
    if fmt:
        try:
            return datetime_us_of(datetime.strptime(text, fmt))
        except ValueError:
            pass
    try:
        return datetime_us_of(datetime.fromisoformat(text))
    except ValueError:
        fallback = to_datetime_utc(np.array([text], dtype=object))[0]
        return None if fallback is pd.NaT else int(fallback.value // 1000)


def to_datetime64_utc(values: np.ndarray, fmt: str | None = None) -> np.ndarray:
    """``datetime64[us]`` (naive, UTC) with NaT where missing; ``datetime_us_of`` per element.

    A fast path for arrays that are already datetime64 (e.g. a Parquet column); tz-aware
    pandas columns should be converted to UTC and made naive before calling this.
    """
    if values.dtype.kind == "M":
        return values.astype("datetime64[us]")
    micros = (datetime_us_of(value, fmt) for value in values)
    return np.fromiter(
        (_NAT_INT if us is None else us for us in micros), dtype=np.int64, count=len(values)
    ).view("datetime64[us]")


def to_text(values: np.ndarray) -> np.ndarray:
    """Object array of stripped strings, None where missing."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = text_of(value)
    return out


def text_of(value: Any) -> str | None:
    """One value as ``to_text`` reads it (None stays None; NaN is not special-cased here)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip() or None


def unparsed(raw: np.ndarray, parsed: np.ndarray, markers: Iterable[str] = ("",)) -> np.ndarray:
    """Row positions where a present raw value did not survive parsing."""
    present = ~is_missing(raw, markers)
    lost = pd.isna(parsed)
    return np.flatnonzero(present & np.asarray(lost, dtype=bool))
