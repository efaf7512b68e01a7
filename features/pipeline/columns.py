"""Raw input as the encoders read it: one :class:`Column` per raw column.

Owns reading a DataFrame or a list of dict records into columns (typed arrays kept as they
are, large columns grouped once by distinct value), cleaning one raw value (missing-value
markers, text, number, flag) and mapping a per-value function over a column, so a value gives
the same output whichever path and batch it arrives in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from itertools import chain
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from features.coerce import bool_of, is_na, number_of, text_of, to_datetime64_utc

#: Inputs up to this length are mapped value by value; longer ones through their distinct
#: values (same function, so the same result, just computed once per distinct value).
DIRECT_MAX = 256

Records: TypeAlias = Sequence[Mapping[str, Any]]
Inputs: TypeAlias = pd.DataFrame | Records

# --------------------------------------------------------------------------- one value


def clean_text(value: Any, markers: frozenset[str]) -> str | None:
    """Stripped text of a present value; None for missing values and missing-value markers."""
    if isinstance(value, str):
        text = value.strip()
        return None if not text or text in markers else text
    if is_na(value):
        return None
    return text_of(value)


def marked_number(value: Any, markers: frozenset[str]) -> float:
    """The value as a number; NaN when missing, a missing-value marker or not a number."""
    if isinstance(value, str) and value.strip() in markers:
        return np.nan
    return number_of(value)


def marked_bool(value: Any, markers: frozenset[str]) -> float:
    """The value as 1/0; NaN when missing, a missing-value marker or not a yes/no."""
    if isinstance(value, str) and value.strip() in markers:
        return np.nan
    return bool_of(value)


# --------------------------------------------------------------------------- grouping

#: pandas' inferred kinds of object arrays whose values all map alike when grouped.
_SAFE_INFERRED = frozenset(
    {"string", "empty", "boolean", "integer", "floating", "mixed-integer-float", "bytes"}
    | {"datetime", "datetime64", "date"}
)
_NONE = np.array([None], dtype=object)


def _family(kind: type) -> str | None:
    """Types whose equal values map to the same output; None: not known to be safe."""
    if issubclass(kind, str):
        return "str"
    if issubclass(kind, bool | np.bool_):
        return "bool"
    if issubclass(kind, int | float | np.integer | np.floating):
        return "number"
    if issubclass(kind, date):
        return "datetime"
    return None


def _groupable(values: np.ndarray) -> bool:
    """Whether grouping equal values is exact for every encoder function.

    pandas groups equal values, and in Python 1 == 1.0 == True and Decimal("1") ==
    Decimal("1.0"): booleans mixed with numbers would share one text ("true" vs "1").
    """
    if values.dtype != object or pd.api.types.infer_dtype(values) in _SAFE_INFERRED:
        return True
    families = {_family(kind) for kind in set(map(type, values)) - {type(None)}}
    return None not in families and len(families - {"str"}) <= 1


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, distinct values) when the array is large and grouping is exact, else None."""
    if len(values) <= DIRECT_MAX or not _groupable(values):
        return None
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists, dicts)
        return None
    return codes, np.asarray(uniques, dtype=object)


class Column:
    """One raw input column: a 1-d array of values, or codes into its distinct values.

    Encoders map values with one function per value; a large column is grouped once (pandas
    factorize) so that function runs once per distinct value and the result is broadcast.
    ``typed`` is the array when it is already numeric/boolean/datetime64 (vectorised paths).
    """

    __slots__ = ("_grouped", "_grouping_known", "_stamps", "values")

    def __init__(
        self,
        values: np.ndarray | None,
        grouped: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if values is None and grouped is None:
            raise ValueError("a column needs its values or its grouping")
        self.values = values
        self._grouped = grouped
        self._grouping_known = grouped is not None
        self._stamps: dict[str | None, np.ndarray] = {}

    def __len__(self) -> int:
        if self.values is not None:
            return len(self.values)
        assert self._grouped is not None
        return len(self._grouped[0])

    @property
    def typed(self) -> np.ndarray | None:
        values = self.values
        return values if values is not None and values.dtype.kind in "fiubM" else None

    def grouped(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(codes, distinct values; code -1 = missing), or None: map the values directly."""
        if not self._grouping_known:
            self._grouped = _distinct(self.raw())
            self._grouping_known = True
        return self._grouped

    def raw(self) -> np.ndarray:
        """The values themselves (always there when ``grouped`` is None)."""
        assert self.values is not None
        return self.values

    def datetimes(self, fmt: str | None) -> np.ndarray:
        """datetime64[us] (UTC, naive), NaT where missing; parsed once per column."""
        stamps = self._stamps.get(fmt)
        if stamps is None:
            stamps = self._stamps[fmt] = _parse_datetimes(self, fmt)
        return stamps


# --------------------------------------------------------------------------- mapping


def map_float(column: Column, fn: Callable[[Any], float]) -> np.ndarray:
    """``fn`` applied to every value, as float64 (missing values as None)."""
    grouped = column.grouped()
    if grouped is None:
        values = column.raw()
        return np.fromiter(map(fn, values), dtype=np.float64, count=len(values))
    codes, uniques = grouped
    table = np.fromiter(map(fn, uniques), dtype=np.float64, count=len(uniques))
    return np.append(table, fn(None))[codes]  # code -1 (missing) picks fn(None)


def map_scalar(
    column: Column, fn: Callable[[Any], float], typed_fn: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``fn`` applied to every value; an already numeric or boolean column through
    ``typed_fn`` at once (a datetime64 column is mapped value by value)."""
    typed = column.typed
    if typed is not None and typed.dtype.kind != "M":
        return typed_fn(typed)
    return map_float(column, fn)


def as_float(values: np.ndarray) -> np.ndarray:
    """A numeric or boolean array as float64 (no copy when it already is)."""
    return values.astype(np.float64, copy=False)


def map_rows(column: Column, fn: Callable[[Any], list[float]], width: int) -> np.ndarray:
    """``fn`` (value -> ``width`` floats) applied to every value: an (n, width) matrix."""
    grouped = column.grouped()
    values = column.raw() if grouped is None else np.append(grouped[1], _NONE)
    flat = np.fromiter(chain.from_iterable(map(fn, values)), np.float64, len(values) * width)
    table = flat.reshape(len(values), width)
    return table if grouped is None else table[grouped[0]]


def value_counts(column: Column) -> Iterable[tuple[Any, int]]:
    """(value, how many rows hold it) over the column; missing values are left out when
    grouped, passed as they are otherwise."""
    grouped = column.grouped()
    if grouped is None:
        return ((v, 1) for v in column.raw())
    codes, uniques = grouped
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return zip(uniques, counts.tolist(), strict=True)


def _parse_datetimes(column: Column, fmt: str | None) -> np.ndarray:
    typed = column.typed
    if typed is not None:
        return to_datetime64_utc(typed) if typed.dtype.kind == "M" else _all_nat(len(typed))
    grouped = column.grouped()
    if grouped is None:
        return to_datetime64_utc(column.raw(), fmt)
    codes, uniques = grouped
    return to_datetime64_utc(np.append(uniques, _NONE), fmt)[codes]


def _all_nat(n: int) -> np.ndarray:
    return np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")


def singletons(values: Sequence[Any]) -> list[Column]:
    """One length-1 column per value (whatever the value is, even a list)."""
    columns = []
    for value in values:
        array = np.empty(1, dtype=object)
        array[0] = value
        columns.append(Column(array))
    return columns


# --------------------------------------------------------------------------- raw input


def _series_column(series: pd.Series) -> Column:
    """A DataFrame column as encoders take it: typed when already typed; a large text column
    grouped by pandas directly (its distinct values are the same Python strings)."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return Column(series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
    if isinstance(dtype, np.dtype) and dtype.kind in "fiubM":
        return Column(series.to_numpy())
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return Column(series.to_numpy(dtype=np.float64, na_value=np.nan))  # Int64/Float64
    if isinstance(dtype, pd.StringDtype) and len(series) > DIRECT_MAX:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return Column(None, (codes, np.asarray(uniques, dtype=object)))
    return Column(series.to_numpy(dtype=object, na_value=None))


def check_frame(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """A ValueError when ``frame`` lacks one of ``columns`` or has one of them twice."""
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(
            f"the data has no column {', '.join(repr(c) for c in absent)}; the feature "
            f"pipeline reads {', '.join(repr(c) for c in columns)}"
        )
    repeated = sorted(set(frame.columns[frame.columns.duplicated()]).intersection(columns))
    if repeated:
        raise ValueError(f"the data has more than one column named {', '.join(repeated)}")


def _frame_columns(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, Column]:
    check_frame(frame, columns)
    return {column: _series_column(frame[column]) for column in columns}


def frame_columns(
    frame: pd.DataFrame, columns: Sequence[str], rows: np.ndarray | None = None
) -> list[Column]:
    """One :class:`Column` per name in ``columns`` (checked by :func:`check_frame`) of
    ``frame``'s ``rows`` (positions; None: every row), read column by column: the column of
    the rows is what the frame of only those rows would give."""
    if rows is None:
        return [_series_column(frame[column]) for column in columns]
    return [_series_column(frame[column].iloc[rows]) for column in columns]


def _record_columns(records: Records, columns: Sequence[str]) -> dict[str, Column]:
    """Dict records -> one object array per column; an absent key is a missing value."""
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(
                f"record {i}: expected a mapping of column -> value, got {type(record).__name__}"
            )
    n, width = len(records), len(columns)
    if n > width:  # column by column
        return {
            column: Column(np.fromiter((r.get(column) for r in records), dtype=object, count=n))
            for column in columns
        }
    # record by record (serving: one record); fromiter stores every value as is, lists too
    block = np.empty((width, n), dtype=object)
    for i, record in enumerate(records):
        block[:, i] = np.fromiter(map(record.get, columns), dtype=object, count=width)
    return {column: Column(values) for column, values in zip(columns, block, strict=True)}


def read_columns(X: Inputs, columns: Sequence[str]) -> tuple[int, dict[str, Column]]:
    """(number of rows, one :class:`Column` per name in ``columns``) of a frame or records."""
    if isinstance(X, pd.DataFrame):
        return len(X), _frame_columns(X, columns)
    if isinstance(X, Mapping | str | bytes):
        raise TypeError("expected a DataFrame or a list of records (dicts), not a single record")
    return len(X), _record_columns(X, columns)
