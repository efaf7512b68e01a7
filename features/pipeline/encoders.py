"""The per-feature encoders (the raw values of one spec feature -> its output columns) and
``build_encoders``, which picks one per feature a model may use.

Every encoder maps each *value* with one function (see the columns module for how large
inputs are mapped once per distinct value), fixes what it learns in ``fit`` and puts one
record's values into plain words in ``describe``. Per feature type (output column names in
brackets):

- categorical [``col``]: integer code of a category list fixed in ``fit`` (values seen at
  least ``min_count`` times, at most ``max_categories``); rare and unseen values get the
  ``"other"`` code, missing ones the ``"missing"`` code (a missing answer is informative).
- numeric [``col``]: float, NaN when missing. boolean [``col``]: 1/0/NaN.
- ordinal [``col``]: rank in ``order``; unknown and missing values are NaN.
- money [``col_<base>``, ``col_given``]: amount * rate of its currency, else the bracket's
  representative amount, else NaN; ``col_given`` (amount/bracket/missing, categorical) when
  the spec has a bracket column. The rates are the spec's (inline ``rates``, or the
  ``rates_file`` load_spec read), pickled with the featurizer: a model keeps the rates it
  was trained with, whatever the file or the service's display currency say later.
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
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from features.coerce import datetime_us_of, number_of, to_bool
from features.email import EmailKind, email_kind
from features.pipeline.columns import (
    Column,
    as_float,
    clean_text,
    map_float,
    map_rows,
    map_scalar,
    marked_bool,
    marked_number,
    singletons,
    value_counts,
)
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


def _label(column: str) -> str:
    """A column name as words: q_has_analytics -> has analytics, is_decision_maker -> ..."""
    name = column
    for prefix in ("q_", "is_"):
        name = name.removeprefix(prefix)
    for suffix in ("_amount", "_at"):
        name = name.removesuffix(suffix)
    return name.replace("_", " ").strip() or column


def _looked_up(text: str | None, exact: dict[str, float], folded: dict[str, float]) -> float:
    """The value ``text`` names: an exact match first, then one ignoring case; else NaN."""
    if text is None:
        return np.nan
    found = exact.get(text)
    return folded.get(text.casefold(), np.nan) if found is None else found


def _amount(value: float) -> str:
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.3g}B"
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


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
        self.encode(singletons(values), out)
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
        for value, count in value_counts(columns[0]):
            text = clean_text(value, self.markers)
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
        text = clean_text(value, self.markers)
        if text is None:
            return self._missing
        return self._codes.get(text, self._other)

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = map_float(columns[0], self.code)

    def describe(self, values: Sequence[Any]) -> str:
        text = clean_text(values[0], self.markers)
        if text is None:
            return f"{self.column} not given"
        if text not in self._codes:
            return f"{self.column} = {text} (rare value)"
        return f"{self.column} = {text}"


class _ScalarEncoder(Encoder):
    """One float per value (``parse`` with the markers); an already numeric or boolean
    column is converted whole (``convert``)."""

    parse: ClassVar[Callable[[Any, frozenset[str]], float]]
    convert: ClassVar[Callable[[np.ndarray], np.ndarray]]

    def value(self, value: Any) -> float:
        return type(self).parse(value, self.markers)

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = map_scalar(columns[0], self.value, type(self).convert)


class NumericEncoder(_ScalarEncoder):
    parse = marked_number
    convert = as_float

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        super().encode(columns, out)
        markers = _number_markers(self.feature)
        if markers:  # the feature's own markers, also when the value arrives as a number
            out[np.isin(out[:, 0], markers), 0] = np.nan

    def describe(self, values: Sequence[Any]) -> str:
        number = float(self._one(values)[0])
        if np.isnan(number):
            return f"{self.column} not given"
        return f"{self.column} = {number:.6g}"


class BooleanEncoder(_ScalarEncoder):
    parse = marked_bool
    convert = to_bool

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
        return _looked_up(clean_text(value, self.markers), self._ranks, self._folded)

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = map_float(columns[0], self.rank)

    def describe(self, values: Sequence[Any]) -> str:
        text = clean_text(values[0], self.markers)
        label = _label(self.column)
        if text is None:
            return f"{label} not given"
        return f"{label} {text}" if text[0].isdigit() else f"{label}: {text}"


class MoneyEncoder(Encoder):
    """amount * rate[currency] if both known, else the bracket's amount, else NaN."""

    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        if feature.rates_file and feature.rates is None:
            raise ValueError(
                f"feature '{feature.column}': rates_file '{feature.rates_file}' has not been "
                "read (load the spec with features.spec.load_spec)"
            )
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
        text = clean_text(value, self.markers)
        return np.nan if text is None else self._rates.get(text.upper(), np.nan)

    def bracket(self, value: Any) -> float:
        text = clean_text(value, self.markers)
        return _looked_up(text, self._brackets, self._brackets_folded)

    def number(self, value: Any) -> float:
        return marked_number(value, self.markers)

    def _parts(self, columns: Sequence[Column]) -> tuple[np.ndarray, np.ndarray]:
        """(amount in base currency from the amount, bracket amount), NaN where unknown."""
        base = map_scalar(columns[0], self.number, as_float)
        position = 1
        if self.feature.currency_column:
            base = base * map_float(columns[position], self.rate)
            position += 1
        if self.feature.bracket_column:
            bracket = map_float(columns[position], self.bracket)
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
        base, bracket = self._parts(singletons(values))
        label = _label(self.column)
        currency = self.feature.base_currency
        if not np.isnan(base[0]):
            return f"{label} ≈ {_amount(float(base[0]))} {currency}"
        if not np.isnan(bracket[0]):
            return f"{label} ≈ {_amount(float(bracket[0]))} {currency} (bracket)"
        if not np.isnan(marked_number(values[0], self.markers)):
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
        return email_kind(clean_text(value, self.markers))

    def code(self, value: Any) -> float:
        return self._codes[self.kind(value)]

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = map_float(columns[0], self.code)

    def describe(self, values: Sequence[Any]) -> str:
        return self._PHRASES[self.kind(values[0])]


class PhoneEncoder(Encoder):
    def __init__(self, feature: FeatureSpec, markers: frozenset[str]) -> None:
        super().__init__(feature, markers)
        self.names = [f"{feature.column}_given"]

    def given(self, value: Any) -> float:
        text = clean_text(value, self.markers)
        if text is None:
            return 0.0
        digits = sum(map(text.count, "0123456789"))
        return 1.0 if digits >= PHONE_MIN_DIGITS else 0.0

    def encode(self, columns: Sequence[Column], out: np.ndarray) -> None:
        out[:, 0] = map_float(columns[0], self.given)

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
        text = clean_text(value, self.markers)
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
        out[:] = map_rows(columns[0], self.row, len(self.names))

    def describe(self, values: Sequence[Any]) -> str:
        text = clean_text(values[0], self.markers)
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


# --------------------------------------------------------------------------- choice


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


def _number_markers(feature: FeatureSpec) -> list[float]:
    """A feature's own missing markers that are numbers (``-1`` for 'never contacted')."""
    own = getattr(feature, "missing_values", None) or []  # absent in models pickled before
    numbers = [number_of(marker) for marker in own]
    return [n for n in numbers if not np.isnan(n)]


def build_encoders(spec: DatasetSpec, known_at: KnownAt) -> list[Encoder]:
    """One encoder per feature a ``known_at`` model may use, in spec order. A feature's
    markers are the spec's plus its own ``missing_values``."""
    encoders: list[Encoder] = []
    for feature in spec.features_for(known_at):
        own = getattr(feature, "missing_values", None) or []  # absent in older pickles
        markers = frozenset(spec.missing_values) | frozenset(own)
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
