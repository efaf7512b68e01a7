"""Turning raw column values (CSV text, JSON, Python objects) into typed numpy arrays.

Used by the dataset loader (to report values that do not parse, with their rows) and by
the feature pipeline (so training and serving coerce in exactly the same way). Each
function maps a value it cannot parse to missing (NaN / NaT); ``unparsed`` tells which
present values were lost that way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def is_missing(values: np.ndarray, markers: Iterable[str] = ("",)) -> np.ndarray:
    """True where a value is None/NaN or equals one of the missing-value markers."""
    out = pd.isna(values)
    marker_set = {m for m in markers}
    if marker_set:
        out = out | np.fromiter(
            (isinstance(v, str) and v.strip() in marker_set for v in values),
            dtype=bool,
            count=len(values),
        )
    return np.asarray(out, dtype=bool)


def to_number(values: np.ndarray) -> np.ndarray:
    """float64; booleans become 0/1, strings are parsed (comma decimals accepted)."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, bool | np.bool_ | int | float | np.integer | np.floating):
            out[i] = float(value)
        elif isinstance(value, str):
            text = value.strip().replace(" ", "").replace(",", ".")
            try:
                out[i] = float(text)
            except ValueError:
                continue
    return out


def to_bool(values: np.ndarray) -> np.ndarray:
    """float64 with 1.0 / 0.0 / NaN, so that 'unknown' stays distinct from 'no'."""
    if values.dtype.kind in "biuf":
        out = values.astype(np.float64)
        out[(out != 0) & ~np.isnan(out)] = 1.0
        return out
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, bool | np.bool_ | int | np.integer):
            out[i] = 1.0 if value else 0.0
        elif isinstance(value, float | np.floating):
            if not np.isnan(value):
                out[i] = 1.0 if value else 0.0
        elif isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                out[i] = 1.0
            elif text in _FALSE:
                out[i] = 0.0
    return out


def to_datetime_utc(values: np.ndarray | pd.Series, fmt: str | None = None) -> pd.DatetimeIndex:
    """UTC timestamps; naive values are taken as UTC, unparsable ones become NaT."""
    parsed = pd.to_datetime(
        pd.Series(values, dtype=object), errors="coerce", utc=True, format=fmt or "mixed"
    )
    return pd.DatetimeIndex(parsed)


def to_text(values: np.ndarray) -> np.ndarray:
    """Object array of stripped strings, None where missing."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if value is None:
            out[i] = None
        elif isinstance(value, bool | np.bool_):
            out[i] = "true" if value else "false"
        elif isinstance(value, float | np.floating) and float(value).is_integer():
            out[i] = str(int(value))
        else:
            text = str(value).strip()
            out[i] = text or None
    return out


def unparsed(raw: np.ndarray, parsed: np.ndarray, markers: Iterable[str] = ("",)) -> np.ndarray:
    """Row positions where a present raw value did not survive parsing."""
    present = ~is_missing(raw, markers)
    lost = pd.isna(parsed)
    return np.flatnonzero(present & np.asarray(lost, dtype=bool))
