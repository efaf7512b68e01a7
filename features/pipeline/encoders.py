"""The one feature pipeline: raw lead rows -> a float matrix, used verbatim by training and serving.

``LeadFeaturizer`` reads only the columns of the features a model scoring at its ``known_at``
may use
(``arrival`` or ``qualified``; see ``DatasetSpec.features_for``), so an arrival model cannot
see BANT answers. Input is a DataFrame (training, batch scoring) or a list of dicts
(serving, ``features.lead.lead_to_record`` rows). Both paths turn each raw column into a 1-d
numpy array and call the same per-feature encoder on it; an encoder maps each *value* with
one function (on large inputs: on the distinct values only, then broadcast), so a value
gives the same output whichever path and batch it arrives in.

Per feature type (output column names in brackets):

- categorical [``col``]: integer code of a category list fixed in ``fit`` (values seen at
  least ``min_count`` times, at most ``max_categories``); rare and unseen values get the
  ``"other"`` code, missing ones the ``"missing"`` code (a missing answer is informative).
- numeric [``col``]: float, NaN when missing. boolean [``col``]: 1/0/NaN.
- ordinal [``col``]: rank in ``order``; unknown and missing values are NaN.
- money [``col_<base>``, ``col_given``]: amount * rate of its currency, else the bracket's
  representative amount, else NaN; ``col_given`` (amount/bracket/missing, categorical) when
  the spec has a bracket column.
- datetime [``col_hour``, ...]: the spec's parts of the UTC timestamp.
- since [``col_days_before``]: days from ``col`` to the time column (NaN if either missing).
- email [``col_kind``]: corporate / free_mail / invalid / missing (categorical).
- phone [``col_given``]: 1 when the value has at least ``PHONE_MIN_DIGITS`` digits, else 0.
- text [``col_chars``, ``col_words``, ``col_lang``, ``col_kw_<group>``, ``col_hash_<i>``]:
  length, word count, script (ru/en/mixed/other/missing, categorical), keyword-group flags
  and hashed word counts.

Personal data (e-mail, phone, message text) never leaves the pipeline except as these
derived signals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from itertools import chain
from typing import Any, ClassVar, Self, TypeAlias

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from features.coerce import (
    bool_of,
    datetime_us_of,
    is_na,
    number_of,
    text_of,
    to_bool,
    to_datetime64_utc,
)
from features.email import EmailKind, email_kind
from features.spec import DatasetSpec, FeatureSpec, FeatureType, KnownAt
from features.text import (
    LANGUAGE_NAMES,
    LANGUAGES,
    KeywordFlags,
    hashed_token_counts,
    normalise,
    script_language,
    word_count,
)

#: Category labels every categorical output reserves.
OTHER = "other"
MISSING = "missing"
#: Inputs up to this length are mapped value by value; longer ones through their distinct
#: values (same function, so the same result, just computed once per distinct value).
DIRECT_MAX = 256
#: A phone counts as given when it has at least this many digits.
PHONE_MIN_DIGITS = 5
EMAIL_KINDS: tuple[str, ...] = tuple(kind.value for kind in EmailKind)
TEXT_LANGUAGES: tuple[str, ...] = (*LANGUAGES, MISSING)
MONEY_GIVEN: tuple[str, ...] = ("amount", "bracket", MISSING)
DATE_PART_NAMES = {
    "weekday": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "month": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 86_400_000_000
_ONE_DAY = np.timedelta64(1, "D")

Records: TypeAlias = Sequence[Mapping[str, Any]]
Inputs: TypeAlias = pd.DataFrame | Records


# --------------------------------------------------------------------------- value helpers


def _text(value: Any, markers: frozenset[str]) -> str | None:
    """Stripped text of a present value; None for missing values and missing-value markers."""
    if isinstance(value, str):
        text = value.strip()
        return None if not text or text in markers else text
    if is_na(value):
        return None
    return text_of(value)


def _number(value: Any, markers: frozenset[str]) -> float:
    if isinstance(value, str) and value.strip() in markers:
        return np.nan
    return number_of(value)


def _bool(value: Any, markers: frozenset[str]) -> float:
    if isinstance(value, str) and value.strip() in markers:
        return np.nan
    return bool_of(value)


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


def _map_float(column: Column, fn: Callable[[Any], float]) -> np.ndarray:
    """``fn`` applied to every value, as float64 (missing values as None)."""
    grouped = column.grouped()
    if grouped is None:
        values = column.raw()
        return np.fromiter(map(fn, values), dtype=np.float64, count=len(values))
    codes, uniques = grouped
    table = np.fromiter(map(fn, uniques), dtype=np.float64, count=len(uniques))
    return np.append(table, fn(None))[codes]  # code -1 (missing) picks fn(None)


def _map_rows(column: Column, fn: Callable[[Any], list[float]], width: int) -> np.ndarray:
    """``fn`` (value -> ``width`` floats) applied to every value: an (n, width) matrix."""
    grouped = column.grouped()
    values = column.raw() if grouped is None else np.append(grouped[1], _NONE)
    flat = np.fromiter(chain.from_iterable(map(fn, values)), np.float64, len(values) * width)
    table = flat.reshape(len(values), width)
    return table if grouped is None else table[grouped[0]]


def _value_counts(column: Column) -> Iterable[tuple[Any, int]]:
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


def _singletons(values: Sequence[Any]) -> list[Column]:
    """One length-1 column per value (whatever the value is, even a list)."""
    columns = []
    for value in values:
        array = np.empty(1, dtype=object)
        array[0] = value
        columns.append(Column(array))
    return columns


def _label(column: str) -> str:
    """A column name as words: q_has_analytics -> has analytics, is_decision_maker -> ..."""
    name = column
    for prefix in ("q_", "is_"):
        name = name.removeprefix(prefix)
    for suffix in ("_amount", "_at"):
        name = name.removesuffix(suffix)
    return name.replace("_", " ").strip() or column


def _amount(value: float) -> str:
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.3g}B"
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


# --------------------------------------------------------------------------- encoders


class Encoder(ABC):
    """Turns the raw values of one spec feature into its output columns.

    ``inputs`` are the raw columns read (the feature's column first); ``encode`` gets one
    1-d array per input and writes into ``out`` (an (n, len(names)) view of the matrix).
    """

    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        self.feature = feature
        self.markers = markers
        self.inputs: list[str] = feature.input_columns
        self.names: list[str] = [feature.column]
        self.categorical: list[bool] = [False]
        self.monotone: list[int] = [feature.monotone]
        self.categories: dict[str, list[str]] = {}

    @property
    def column(self) -> str:
        return self.feature.column

    def fit(self, columns: Sequence[Column]) -> None:  # noqa: B027 (optional hook)
        """Learn from the training values (default: nothing to learn)."""

    @abstractmethod
    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        """Write this feature's output columns for every row into ``out``."""

    @abstractmethod
    def describe(self, values: Sequence[Any]) -> str:
        """Plain words for one record's raw values of this feature."""

    def _one(self, values: Sequence[Any]) -> np.ndarray:
        """The encoder's outputs for one record's raw values."""
        out = np.empty((1, len(self.names)))
        self.encode(_singletons(values), out)
        return out[0]


class CategoricalEncoder(Encoder):
    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        self.categorical = [True]
        self._codes: dict[str, int] = {}
        self._other = 0
        self._missing = 1

    def fit(self, columns: Sequence[Column]) -> None:
        counts: Counter[str] = Counter()
        for value, count in _value_counts(columns[0]):
            text = _text(value, self.markers)
            if text is not None and text not in (OTHER, MISSING):
                counts[text] += count
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [text for text, count in ranked if count >= self.feature.min_count]
        kept = kept[: self.feature.max_categories]
        self._other, self._missing = len(kept), len(kept) + 1
        self._codes = {text: code for code, text in enumerate(kept)}
        self._codes[OTHER], self._codes[MISSING] = self._other, self._missing
        self.categories = {self.column: [*kept, OTHER, MISSING]}

    def code(self, value: Any) -> float:
        text = _text(value, self.markers)
        if text is None:
            return self._missing
        return self._codes.get(text, self._other)

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = _map_float(columns[0], self.code)

    def describe(self, values: Sequence[Any]) -> str:
        text = _text(values[0], self.markers)
        if text is None:
            return f"{self.column} not given"
        if text not in self._codes:
            return f"{self.column} = {text} (rare value)"
        return f"{self.column} = {text}"


class NumericEncoder(Encoder):
    def number(self, value: Any) -> float:
        return _number(value, self.markers)

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        typed = columns[0].typed
        if typed is not None and typed.dtype.kind != "M":
            out[:, 0] = typed
        else:
            out[:, 0] = _map_float(columns[0], self.number)

    def describe(self, values: Sequence[Any]) -> str:
        number = float(self._one(values)[0])
        if np.isnan(number):
            return f"{self.column} not given"
        return f"{self.column} = {number:.6g}"


class BooleanEncoder(Encoder):
    def flag(self, value: Any) -> float:
        return _bool(value, self.markers)

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        typed = columns[0].typed
        if typed is not None and typed.dtype.kind != "M":
            out[:, 0] = to_bool(typed)
        else:
            out[:, 0] = _map_float(columns[0], self.flag)

    def describe(self, values: Sequence[Any]) -> str:
        flag = float(self._one(values)[0])
        answer = "unknown" if np.isnan(flag) else ("yes" if flag else "no")
        return f"{_label(self.column)}: {answer}"


class OrdinalEncoder(Encoder):
    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        order = feature.order or []
        self._ranks = {value: float(rank) for rank, value in enumerate(order)}
        folded: dict[str, float] = {}
        for rank, value in enumerate(order):
            folded.setdefault(value.casefold(), float(rank))
        self._folded = folded

    def rank(self, value: Any) -> float:
        text = _text(value, self.markers)
        if text is None:
            return np.nan
        rank = self._ranks.get(text)
        return self._folded.get(text.casefold(), np.nan) if rank is None else rank

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = _map_float(columns[0], self.rank)

    def describe(self, values: Sequence[Any]) -> str:
        text = _text(values[0], self.markers)
        label = _label(self.column)
        if text is None:
            return f"{label} not given"
        return f"{label} {text}" if text[0].isdigit() else f"{label}: {text}"


class MoneyEncoder(Encoder):
    """amount * rate[currency] if both known, else the bracket's amount, else NaN."""

    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        self.names = [f"{feature.column}_{feature.base_currency.lower()}"]
        self._rates = {code.strip().upper(): rate for code, rate in (feature.rates or {}).items()}
        brackets = feature.bracket_values or {}
        self._brackets = dict(brackets)
        self._brackets_folded = {key.casefold(): value for key, value in brackets.items()}
        if feature.bracket_column:
            given = f"{feature.column}_given"
            self.names.append(given)
            self.categorical.append(True)
            self.monotone.append(0)
            self.categories = {given: list(MONEY_GIVEN)}

    def rate(self, value: Any) -> float:
        text = _text(value, self.markers)
        return np.nan if text is None else self._rates.get(text.upper(), np.nan)

    def bracket(self, value: Any) -> float:
        text = _text(value, self.markers)
        if text is None:
            return np.nan
        amount = self._brackets.get(text)
        return self._brackets_folded.get(text.casefold(), np.nan) if amount is None else amount

    def number(self, value: Any) -> float:
        return _number(value, self.markers)

    def _parts(self, columns: Sequence[Column]) -> tuple[np.ndarray, np.ndarray]:
        """(amount in base currency from the amount, bracket amount), NaN where unknown."""
        typed = columns[0].typed
        if typed is not None and typed.dtype.kind != "M":
            base = typed.astype(np.float64)
        else:
            base = _map_float(columns[0], self.number)
        position = 1
        if self.feature.currency_column:
            base = base * _map_float(columns[position], self.rate)
            position += 1
        if self.feature.bracket_column:
            bracket = _map_float(columns[position], self.bracket)
        else:
            bracket = np.full(len(base), np.nan)
        return base, bracket

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        base, bracket = self._parts(columns)
        from_amount = ~np.isnan(base)
        out[:, 0] = np.where(from_amount, base, bracket)
        if self.feature.bracket_column:
            out[:, 1] = np.where(from_amount, 0.0, np.where(np.isnan(bracket), 2.0, 1.0))

    def describe(self, values: Sequence[Any]) -> str:
        base, bracket = self._parts(_singletons(values))
        label = _label(self.column)
        currency = self.feature.base_currency
        if not np.isnan(base[0]):
            return f"{label} ≈ {_amount(float(base[0]))} {currency}"
        if not np.isnan(bracket[0]):
            return f"{label} ≈ {_amount(float(bracket[0]))} {currency} (bracket)"
        if not np.isnan(_number(values[0], self.markers)):
            return f"{label} given in an unknown currency"
        return f"{label} not given"


class DatetimeEncoder(Encoder):
    def __init__(self, feature: FeatureSpec, markers: frozenset[str], fmt: str | None) -> None:
        super().__init__(feature, markers)
        self.fmt = fmt
        self.parts = list(dict.fromkeys(feature.parts))
        self.names = [f"{feature.column}_{part}" for part in self.parts]
        self.categorical = [False] * len(self.parts)
        self.monotone = [0] * len(self.parts)

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        stamps = columns[0].datetimes(self.fmt)
        missing = np.isnat(stamps)
        micros = stamps.view(np.int64)
        for j, part in enumerate(self.parts):
            if part == "hour":
                out[:, j] = (micros // _US_PER_HOUR) % 24
            elif part == "weekday":  # 1970-01-01 was a Thursday (Monday = 0)
                out[:, j] = (micros // _US_PER_DAY + 3) % 7
            elif part == "month":
                out[:, j] = stamps.astype("datetime64[M]").view(np.int64) % 12 + 1
            else:  # dayofyear
                days = stamps.astype("datetime64[D]") - stamps.astype("datetime64[Y]")
                out[:, j] = days.view(np.int64) + 1
        if missing.any():
            out[missing] = np.nan

    def describe(self, values: Sequence[Any]) -> str:
        parts = self._one(values)
        label = _label(self.column)
        if np.isnan(parts).any():
            return f"{label} time not given"
        words = []
        for part, value in zip(self.parts, parts.tolist(), strict=True):
            if part == "hour":
                words.append(f"{int(value):02d}:00 UTC")
            elif part == "dayofyear":
                words.append(f"day {int(value)} of the year")
            else:
                offset = 1 if part == "month" else 0
                words.append(DATE_PART_NAMES[part][int(value) - offset])
        return f"{label} {', '.join(words)}"


class SinceEncoder(Encoder):
    """Days from the feature's timestamp to the data set's time column."""

    def __init__(
        self, feature: FeatureSpec, markers: frozenset[str], fmt: str | None, time_column: str
    ) -> None:
        super().__init__(feature, markers)
        self.fmt = fmt
        self.inputs = [feature.column, time_column]
        self.names = [f"{feature.column}_days_before"]

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        start = columns[0].datetimes(self.fmt)
        end = columns[1].datetimes(self.fmt)
        out[:, 0] = (end - start) / _ONE_DAY  # NaT on either side gives NaN

    def describe(self, values: Sequence[Any]) -> str:
        days = float(self._one(values)[0])
        label = _label(self.column)
        if np.isnan(days):
            if datetime_us_of(values[0], self.fmt) is None:
                return f"{label} not given"
            return f"{label}: arrival time unknown"
        if abs(days) < 1:
            return f"{label} the same day"
        whole = round(abs(days))
        unit = "day" if whole == 1 else "days"
        return f"{label} {whole} {unit} {'before' if days > 0 else 'after'}"


class EmailEncoder(Encoder):
    _PHRASES: ClassVar[dict[EmailKind, str]] = {
        EmailKind.CORPORATE: "corporate e-mail",
        EmailKind.FREE_MAIL: "free-mail address",
        EmailKind.INVALID: "invalid e-mail",
        EmailKind.MISSING: "no e-mail",
    }

    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        name = f"{feature.column}_kind"
        self.names = [name]
        self.categorical = [True]
        self.categories = {name: list(EMAIL_KINDS)}
        self._codes = {kind: float(code) for code, kind in enumerate(EmailKind)}

    def kind(self, value: Any) -> EmailKind:
        return email_kind(_text(value, self.markers))

    def code(self, value: Any) -> float:
        return self._codes[self.kind(value)]

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = _map_float(columns[0], self.code)

    def describe(self, values: Sequence[Any]) -> str:
        return self._PHRASES[self.kind(values[0])]


class PhoneEncoder(Encoder):
    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        self.names = [f"{feature.column}_given"]

    def given(self, value: Any) -> float:
        text = _text(value, self.markers)
        if text is None:
            return 0.0
        digits = sum(map(text.count, "0123456789"))
        return 1.0 if digits >= PHONE_MIN_DIGITS else 0.0

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = _map_float(columns[0], self.given)

    def describe(self, values: Sequence[Any]) -> str:
        return "phone given" if self.given(values[0]) else "no phone"


class TextEncoder(Encoder):
    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        column = feature.column
        self.keywords = KeywordFlags(feature.keywords or {})
        self.buckets = feature.hash_features
        lang = f"{column}_lang"
        self.names = [
            f"{column}_chars",
            f"{column}_words",
            lang,
            *(f"{column}_kw_{name}" for name in self.keywords.names),
            *(f"{column}_hash_{i}" for i in range(self.buckets)),
        ]
        self.categorical = [name == lang for name in self.names]
        self.monotone = [0] * len(self.names)
        self.categories = {lang: list(TEXT_LANGUAGES)}
        self._lang_codes = {name: float(code) for code, name in enumerate(TEXT_LANGUAGES)}
        self._missing_row = [
            np.nan,
            np.nan,
            self._lang_codes[MISSING],
            *([0.0] * (len(self.names) - 3)),
        ]

    def row(self, value: Any) -> list[float]:
        text = _text(value, self.markers)
        if text is None:
            return self._missing_row
        normalised = normalise(text)
        row = [
            float(len(text)),
            float(word_count(text)),
            self._lang_codes[script_language(text)],
            *map(float, self.keywords.flags(normalised)),
        ]
        if self.buckets:
            row.extend(map(float, hashed_token_counts(normalised, self.buckets)))
        return row

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:] = _map_rows(columns[0], self.row, len(self.names))

    def describe(self, values: Sequence[Any]) -> str:
        text = _text(values[0], self.markers)
        label = _label(self.column)
        if text is None:
            return f"no {label}"
        flags = self.keywords.flags(normalise(text))
        mentioned = [name for name, flag in zip(self.keywords.names, flags, strict=True) if flag]
        if mentioned:
            return f"{label} mentions {', '.join(mentioned)}"
        words = word_count(text)
        plural = "s" if words != 1 else ""
        return f"{label}: {words} word{plural}, {LANGUAGE_NAMES[script_language(text)]}"


_SIMPLE: dict[FeatureType, type[Encoder]] = {
    FeatureType.CATEGORICAL: CategoricalEncoder,
    FeatureType.NUMERIC: NumericEncoder,
    FeatureType.BOOLEAN: BooleanEncoder,
    FeatureType.ORDINAL: OrdinalEncoder,
    FeatureType.MONEY: MoneyEncoder,
    FeatureType.EMAIL: EmailEncoder,
    FeatureType.PHONE: PhoneEncoder,
    FeatureType.TEXT: TextEncoder,
}
_MONOTONE_TYPES = frozenset(
    {
        FeatureType.NUMERIC,
        FeatureType.BOOLEAN,
        FeatureType.ORDINAL,
        FeatureType.MONEY,
        FeatureType.SINCE,
    }
)


def build_encoders(spec: DatasetSpec, known_at: KnownAt) -> list[Encoder]:
    """One encoder per feature a ``known_at`` model may use, in spec order."""
    markers = frozenset(spec.missing_values)
    encoders: list[Encoder] = []
    for feature in spec.features_for(known_at):
        if feature.monotone and feature.type not in _MONOTONE_TYPES:
            raise ValueError(
                f"feature '{feature.column}': monotone applies to numeric-valued types "
                f"({', '.join(sorted(_MONOTONE_TYPES))}), not {feature.type.value}"
            )
        if feature.type is FeatureType.DATETIME:
            encoders.append(DatetimeEncoder(feature, markers, spec.time_format))
        elif feature.type is FeatureType.SINCE:
            if spec.time_column is None:
                raise ValueError(
                    f"feature '{feature.column}': type since needs the spec's time_column"
                )
            encoders.append(SinceEncoder(feature, markers, spec.time_format, spec.time_column))
        else:
            encoders.append(_SIMPLE[feature.type](feature, markers))
    names = [name for encoder in encoders for name in encoder.names]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"feature output names collide: {', '.join(duplicated)}")
    return encoders


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


def _frame_columns(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, Column]:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(
            f"the data has no column {', '.join(repr(c) for c in absent)}; the feature "
            f"pipeline reads {', '.join(repr(c) for c in columns)}"
        )
    repeated = sorted({c for c in columns if (frame.columns == c).sum() > 1})
    if repeated:
        raise ValueError(f"the data has more than one column named {', '.join(repeated)}")
    return {column: _series_column(frame[column]) for column in columns}


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


def _columns(X: Inputs, columns: Sequence[str]) -> tuple[int, dict[str, Column]]:
    if isinstance(X, pd.DataFrame):
        return len(X), _frame_columns(X, columns)
    if isinstance(X, Mapping | str | bytes):
        raise TypeError("expected a DataFrame or a list of records (dicts), not a single record")
    return len(X), _record_columns(X, columns)


# --------------------------------------------------------------------------- the featurizer


class LeadFeaturizer(TransformerMixin, BaseEstimator):
    """Raw lead rows -> float64 matrix for the features a ``known_at`` model may use.

    Learned attributes: ``input_columns_`` (raw columns read), ``feature_names_``,
    ``categorical_indices_`` (integer-coded outputs), ``feature_sources_`` (spec column of
    each output), ``monotone_constraints_``, ``categories_`` (category list of every
    categorical output, keyed by output name; for a categorical feature that is its column).
    """

    def __init__(self, spec: DatasetSpec, known_at: str = "arrival") -> None:
        self.spec = spec
        self.known_at = known_at

    def __setstate__(self, state: dict[str, Any]) -> None:
        # featurizers pickled before the moment was named `known_at` stored it as `stage`
        if "stage" in state:
            state["known_at"] = state.pop("stage")
        super().__setstate__(state)

    # -- sklearn API

    def fit(self, X: Inputs, y: Any = None) -> Self:
        self._fit(X)
        return self

    def fit_transform(self, X: Inputs, y: Any = None, **fit_params: Any) -> np.ndarray:
        n, columns = self._fit(X)
        return self._encode(n, columns)

    def transform(self, X: Inputs) -> np.ndarray:
        if not hasattr(self, "feature_names_"):  # check_is_fitted, minus its cost per request
            check_is_fitted(self, "feature_names_")
        n, columns = _columns(X, self.input_columns_)
        return self._encode(n, columns)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        return np.asarray(self.feature_names_, dtype=object)

    # -- explanations

    def describe(self, column: str, record: Mapping[str, Any]) -> str:
        """Plain words for the value of source field ``column`` in a raw ``record``."""
        check_is_fitted(self, "feature_names_")
        for encoder in self._encoders:
            if encoder.column == column:
                return encoder.describe([record.get(name) for name in encoder.inputs])
        known = ", ".join(encoder.column for encoder in self._encoders)
        raise ValueError(f"'{column}' is not a source field of this pipeline (fields: {known})")

    # -- internals

    def _fit(self, X: Inputs) -> tuple[int, dict[str, Column]]:
        try:
            known_at = KnownAt(self.known_at)
        except ValueError:
            known_ats = ", ".join(s.value for s in KnownAt)
            raise ValueError(
                f"known_at must be one of {known_ats}, got {self.known_at!r}"
            ) from None
        encoders = build_encoders(self.spec, known_at)
        inputs = list(dict.fromkeys(c for encoder in encoders for c in encoder.inputs))
        n, columns = _columns(X, inputs)
        if n == 0:
            raise ValueError("cannot fit the feature pipeline on no rows")
        for encoder in encoders:
            encoder.fit([columns[c] for c in encoder.inputs])
        self._encoders = encoders
        self._slices: list[tuple[int, int]] = []
        start = 0
        for encoder in encoders:
            self._slices.append((start, start + len(encoder.names)))
            start += len(encoder.names)
        self.input_columns_: list[str] = inputs
        self.feature_names_: list[str] = [n for e in encoders for n in e.names]
        flags = [flag for encoder in encoders for flag in encoder.categorical]
        self.categorical_indices_: list[int] = [i for i, flag in enumerate(flags) if flag]
        self.feature_sources_: list[str] = [e.column for e in encoders for _ in e.names]
        self.monotone_constraints_: list[int] = [m for e in encoders for m in e.monotone]
        self.categories_: dict[str, list[str]] = {
            name: labels for e in encoders for name, labels in e.categories.items()
        }
        return n, columns

    def _encode(self, n: int, columns: Mapping[str, Column]) -> np.ndarray:
        out = np.empty((n, len(self.feature_names_)), dtype=np.float64)
        for encoder, (start, stop) in zip(self._encoders, self._slices, strict=True):
            encoder.encode([columns[c] for c in encoder.inputs], out[:, start:stop])
        return out
