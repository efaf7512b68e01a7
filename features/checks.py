"""Validating a lead data set against its spec: every problem found, with its line and column.

Owns :class:`Problem` and the :class:`Checker` that collects problems and warnings for one
file (turning row positions into the line numbers people see), the checks of columns, ids,
times and feature values, and the builders of targets (status, binary, membership) that
report every value they cannot use. Values the pipeline can live with (an ordinal outside
its order, a currency without a rate) are kept as warnings. Nothing here reads a file: the
dataset module reads and hands frames over.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.coerce import (
    as_object_array,
    is_missing,
    text_of,
    to_bool,
    to_datetime_utc,
    to_number,
    to_text,
    unparsed,
)
from features.spec import (
    DEFAULT_NEGATIVE,
    BinaryTarget,
    ColumnTarget,
    DatasetSpec,
    FeatureSpec,
    FeatureType,
    MembershipTarget,
    OutcomeTarget,
    StatusTarget,
)

#: How many offending rows are listed per column before only counting the rest.
ROWS_LISTED_PER_COLUMN = 20
#: Values a binary target accepts as negative when its spec lists none (lower-cased).
NEGATIVE_VALUES = frozenset(str(v) for v in DEFAULT_NEGATIVE)
_ISO_HINT = "an ISO 8601 date/time such as 2018-02-01 or 2018-02-01T10:30:00Z"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a data file.

    ``row`` is the 1-based line in the file (header = line 1) for CSV, the 1-based row for
    Parquet and in-memory frames; None when the problem is not about one row.
    """

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        column = f" column '{self.column}':" if self.column is not None else ""
        return f"{where}:{column} {self.message}"


# --------------------------------------------------------------------------- collecting


@dataclass
class Checker:
    """Collects problems and warnings for one file, turning row positions into lines."""

    source: str
    first_row: int
    markers: list[str]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    #: the file line of each row position, once rows have been left out (None: consecutive)
    lines: np.ndarray | None = None

    def error(self, position: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.source, self.line(position), column, message))

    def warn(self, position: int | None, column: str | None, message: str) -> None:
        self.warnings.append(Problem(self.source, self.line(position), column, message))

    def line(self, position: int | None) -> int | None:
        """The row number reported for a 0-based row position."""
        if position is None:
            return None
        if self.lines is not None:
            return int(self.lines[position])
        return position + self.first_row

    def rows(
        self,
        positions: np.ndarray,
        column: str,
        describe: Callable[[int], str],
        summary: str,
        *,
        warning: bool = False,
    ) -> None:
        """Report up to ``ROWS_LISTED_PER_COLUMN`` rows, then how many there were in all."""
        report = self.warn if warning else self.error
        for position in positions[:ROWS_LISTED_PER_COLUMN]:
            report(int(position), column, describe(int(position)))
        if len(positions) > ROWS_LISTED_PER_COLUMN:
            report(
                None,
                column,
                f"{len(positions)} rows in all {summary} (first {ROWS_LISTED_PER_COLUMN} listed)",
            )

    def columns(self, available: list[str], required: dict[str, str]) -> set[str]:
        """Report each required column that is not ``available``; return those that are."""
        return check_columns(self, available, required, self.source)

    def unused(self, columns: list[str], spec: DatasetSpec) -> None:
        """Warn about columns the spec neither reads nor drops."""
        extra = unused_columns(columns, spec)
        if extra:
            self.warn(None, None, "columns not named by the spec are ignored: " + ", ".join(extra))


# --------------------------------------------------------------------------- columns


def check_columns(
    check: Checker, available: Iterable[object], required: dict[str, str], file: str
) -> set[str]:
    """Report each ``required`` column (name -> role) missing from ``file``, with the closest
    name there is; return the required columns that are present."""
    names = [str(c) for c in available]
    present: set[str] = set()
    for column, role in required.items():
        if column in names:
            present.add(column)
            continue
        check.problems.append(
            Problem(
                file, None, column, f"missing column (needed as {role}){suggestion(column, names)}"
            )
        )
    if len(present) < len(required):
        check.problems.append(Problem(file, 1, None, header_read(names)))
    return present


#: Header names shown when columns are missing.
HEADER_SHOWN = 30


def header_read(names: list[str]) -> str:
    """What the header was read as, with a hint when it looks split on the wrong separator."""
    shown = ", ".join(repr(n) for n in names[:HEADER_SHOWN])
    more = f" and {len(names) - HEADER_SHOWN} more" if len(names) > HEADER_SHOWN else ""
    message = f"the header read has {len(names)} column(s): {shown}{more}"
    for sep, word in ((";", "';'"), ("\t", "tab"), ("|", "'|'"), (",", "','")):
        if sum(n.count(sep) for n in names) >= max(1, len(names)):
            spelled = "tab" if sep == "\t" else f"'{sep}'"
            return (
                f"{message}; the names hold {word}, so the file looks {word}-separated: set "
                f"read: {{sep: {spelled}}} in the spec"
            )
    return message


def suggestion(column: str, names: list[str]) -> str:
    """``; did you mean 'X'?`` for the name closest to ``column``, or nothing."""
    lowered = {name.lower().strip(): name for name in names}
    close = lowered.get(column.lower().strip())
    if close is None:
        matches = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
        close = matches[0] if matches else None
    return f"; did you mean '{close}'?" if close else ""


def read_columns(spec: DatasetSpec) -> set[str]:
    """Every column of the file the spec reads: roles, features, rows conditions, join keys."""
    used = set(required_columns(spec))
    used |= {c.column for c in spec.rows}
    used |= {left for join in spec.joins for left, _ in join.keys}
    return used


def unused_columns(columns: list[str], spec: DatasetSpec) -> list[str]:
    """Columns of the file the spec neither reads (roles, features, rows, join keys, the
    deal's columns) nor drops."""
    used = read_columns(spec) | set(spec.deal.columns)
    return [c for c in columns if c not in used and not any(d.matches(c) for d in spec.drop)]


def required_columns(spec: DatasetSpec) -> dict[str, str]:
    """Every column the spec reads, with the role that needs it (first role wins)."""
    roles: dict[str, str] = {}
    if spec.id_column:
        roles[spec.id_column] = "the id column"
    if spec.time_column:
        roles.setdefault(spec.time_column, "the time column")
    if spec.channel_column:
        roles.setdefault(spec.channel_column, "the channel column")
    by = getattr(spec.split, "by", None)
    if by:
        roles.setdefault(by, "the split's order column")
    if spec.campaign_column:
        roles.setdefault(spec.campaign_column, "the campaign column")
    for name, target in spec.targets.items():
        if not isinstance(target, MembershipTarget):
            roles.setdefault(target.column, f"target '{name}'")
    for feature in spec.features:
        for column in feature.input_columns:
            roles.setdefault(column, f"an input of feature '{feature.column}'")
    return roles


# --------------------------------------------------------------------------- rows


def column_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A frame column as a 1-d object array, missing values as None."""
    return as_object_array(frame[column])


# A typed column (numbers, booleans, times) holds no text, so no marker and no value its
# type cannot read: its checks need no Python object per row. Text columns (pandas' ``str``
# dtype) are checked once per distinct value or by Arrow.


def is_text(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.StringDtype)


def is_numeric(series: pd.Series) -> bool:
    """Numbers or booleans (numpy's or pandas' nullable ones)."""
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def is_datetime(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series.dtype)


def per_text_value(
    series: pd.Series, fn: Callable[[str | None], object], dtype: type
) -> np.ndarray:
    """``fn`` of each value of a text column (None where missing), once per distinct value."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped: np.ndarray = np.fromiter(map(fn, [*uniques, None]), dtype=dtype, count=len(uniques) + 1)
    return mapped[codes]  # code -1 (missing) is the last: fn(None)


#: What ``str.strip()`` strips (Python's whitespace), as RE2 escapes.
_SPACES = "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(0x3001)) if c.isspace())


def text_markers(series: pd.Series, markers: Iterable[str]) -> np.ndarray:
    """Where a text column holds a marker: its value, stripped, is one of ``markers``
    (exactly as :func:`features.coerce.is_missing` reads a value; missing is not a marker)."""
    wanted = sorted(set(markers))
    if not wanted or len(series) == 0:
        return np.zeros(len(series), dtype=bool)
    if getattr(series.dtype, "storage", None) != "pyarrow":
        return per_text_value(series, lambda v: v is not None and v.strip() in wanted, bool)
    import pyarrow as pa
    import pyarrow.compute as pc

    spelled = "|".join("".join(f"\\x{{{ord(c):x}}}" for c in m) for m in wanted)
    pattern = f"^[{_SPACES}]*(?:{spelled})[{_SPACES}]*$"
    found = pc.match_substring_regex(pa.array(series.array), pattern).fill_null(False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def missing_rows(frame: pd.DataFrame, column: str, markers: Iterable[str]) -> np.ndarray:
    """``is_missing(column_values(frame, column), markers)``, without Python objects for
    typed and text columns."""
    series = frame[column]
    if is_text(series):
        return np.asarray(series.isna(), dtype=bool) | text_markers(series, markers)
    if is_numeric(series) or is_datetime(series):
        return np.asarray(series.isna(), dtype=bool)
    return is_missing(column_values(frame, column), markers)


def checked_ids(check: Checker, frame: pd.DataFrame, column: str) -> np.ndarray:
    """The ids as text; missing and repeated ids reported."""
    ids = to_text(column_values(frame, column))
    missing = np.flatnonzero(pd.isna(ids))
    check.rows(missing, column, lambda _: "missing id", "with a missing id")
    first_seen: dict[str, int] = {}
    duplicates: list[int] = []
    for position, value in enumerate(ids):
        if value is None:
            continue
        if value in first_seen:
            duplicates.append(position)
        else:
            first_seen[value] = position
    line = check.line
    check.rows(
        np.asarray(duplicates, dtype=int),
        column,
        lambda p: f"duplicate id '{ids[p]}' (first on line {line(first_seen[ids[p]])})",
        "repeat an earlier id",
    )
    return ids


def checked_times(check: Checker, frame: pd.DataFrame, spec: DatasetSpec) -> pd.DatetimeIndex:
    """The time column parsed (UTC); unreadable and missing times reported."""
    column = spec.time_column
    assert column is not None
    series = frame[column]
    if is_datetime(series):  # already times: nothing to read, only missing ones to tell
        missing = np.flatnonzero(series.isna())
        check.rows(
            missing, column, lambda _: "missing time; every lead needs one", "with a missing time"
        )
        return utc_times(series)
    raw = column_values(frame, column)
    times = to_datetime_utc(raw, spec.time_format)
    expected = f"format {spec.time_format}" if spec.time_format else _ISO_HINT
    bad = unparsed(raw, times.to_numpy(), check.markers)
    check.rows(
        bad,
        column,
        lambda p: f"cannot read time '{raw[p]}'; expected {expected}",
        "with an unreadable time",
    )
    missing = np.flatnonzero(is_missing(raw, check.markers))
    check.rows(
        missing, column, lambda _: "missing time; every lead needs one", "with a missing time"
    )
    return times


def utc_times(series: pd.Series) -> pd.DatetimeIndex:
    """A datetime column as UTC times, as :func:`features.coerce.to_datetime_utc` reads it
    (naive times taken as UTC)."""
    times = pd.DatetimeIndex(series)
    return times.tz_localize("UTC") if times.tz is None else times.tz_convert("UTC")


def _readable(series: pd.Series, kind: FeatureType) -> bool:
    """Whether every present value of a typed column is one ``kind`` reads."""
    numbers = (FeatureType.NUMERIC, FeatureType.MONEY, FeatureType.BOOLEAN)
    if kind in numbers:
        return is_numeric(series)
    return kind in (FeatureType.DATETIME, FeatureType.SINCE) and is_datetime(series)


def check_feature(
    check: Checker, frame: pd.DataFrame, feature: FeatureSpec, present: set[str]
) -> None:
    """Report values of ``feature`` its type cannot read (errors) or will not use (warnings)."""
    if feature.column not in present:
        return
    if missing_rows(frame, feature.column, check.markers).all():
        check.warn(None, feature.column, "every value is missing; the feature carries nothing")
    kind = feature.type
    if kind in _PARSED and not _readable(frame[feature.column], kind):
        _check_parsed(check, column_values(frame, feature.column), feature.column, kind)
    if kind is FeatureType.MONEY:
        _check_money_codes(check, frame, feature, present)
    elif kind is FeatureType.ORDINAL:
        _unknown(check, frame, feature.column, feature.order or [], "outside the order")


#: The feature types whose values are parsed from text (so can be unreadable), with what
#: a value must be.
_PARSED: dict[FeatureType, str] = {
    FeatureType.NUMERIC: "a number",
    FeatureType.BOOLEAN: "true/false (yes/no, 1/0)",
    FeatureType.MONEY: "an amount",
    FeatureType.DATETIME: f"a date/time ({_ISO_HINT})",
    FeatureType.SINCE: f"a date/time ({_ISO_HINT})",
}


def _check_parsed(check: Checker, raw: np.ndarray, column: str, kind: FeatureType) -> None:
    """Report the values of ``raw`` (a column's objects) that ``kind`` cannot read."""
    parsed: np.ndarray
    if kind is FeatureType.BOOLEAN:
        parsed = to_bool(raw)
    elif kind in (FeatureType.DATETIME, FeatureType.SINCE):
        parsed = to_datetime_utc(raw).to_numpy()
    else:
        parsed = to_number(raw)
    _unparsed(check, column, raw, parsed, _PARSED[kind])


def _unparsed(
    check: Checker, column: str, raw: np.ndarray, parsed: np.ndarray, expected: str
) -> None:
    bad = unparsed(raw, parsed, check.markers)
    check.rows(
        bad, column, lambda p: f"cannot read '{raw[p]}'; expected {expected}", f"are not {expected}"
    )


def _unknown(
    check: Checker, frame: pd.DataFrame, column: str, known: Iterable[str], what: str
) -> None:
    """Warn (the pipeline treats them as missing) about values outside ``known``."""
    allowed = list(known)
    series = frame[column]

    def outside(value: object) -> bool:
        return value is not None and value not in allowed

    if is_text(series):
        bad = np.flatnonzero(per_text_value(series, lambda v: outside(text_of(v)), bool))
    else:
        bad = np.flatnonzero([outside(v) for v in to_text(column_values(frame, column))])
    listing = ", ".join(allowed)
    check.rows(
        bad,
        column,
        lambda p: (
            f"'{text_of(as_object_array(series.iloc[[p]])[0])}' is {what} ({listing}); "
            "it will be treated as missing"
        ),
        f"{what}",
        warning=True,
    )


def _check_money_codes(
    check: Checker, frame: pd.DataFrame, feature: FeatureSpec, present: set[str]
) -> None:
    if feature.currency_column and feature.currency_column in present:
        _unknown(
            check, frame, feature.currency_column, feature.rates or {}, "a currency with no rate"
        )
    if feature.bracket_column and feature.bracket_column in present:
        _unknown(
            check,
            frame,
            feature.bracket_column,
            feature.bracket_values or {},
            "an unknown bracket",
        )


# --------------------------------------------------------------------------- targets


def column_target(
    check: Checker,
    frame: pd.DataFrame,
    target: ColumnTarget,
    name: str,
    present: set[str],
) -> np.ndarray:
    """0/1 per row of a target read from a column of the data; every bad value reported."""
    if target.column not in present:
        return np.zeros(len(frame), dtype=np.int8)
    text = to_text(column_values(frame, target.column))
    missing = np.flatnonzero(pd.isna(text))
    check.rows(
        missing,
        target.column,
        lambda _: f"missing value of target '{name}'",
        f"miss target '{name}'",
    )
    if isinstance(target, StatusTarget):
        return _status_target(check, target, text)
    if isinstance(target, OutcomeTarget):
        return _outcome_target(check, target, text)
    return _binary_target(check, target, text)


def _outcome_target(check: Checker, target: OutcomeTarget, text: np.ndarray) -> np.ndarray:
    positive = set(target.positive)
    if target.negative is not None:
        known = positive | set(target.negative)
        listing = ", ".join(target.positive) + " (positive) or " + ", ".join(target.negative)
        if target.ignore:
            listing += " (ignored rows are left out: " + ", ".join(target.ignore) + ")"
        bad = np.flatnonzero([v is not None and v not in known for v in text])
        check.rows(
            bad,
            target.column,
            lambda p: f"unknown status '{text[p]}'; expected {listing}",
            "hold an unknown status",
        )
    return np.fromiter((v in positive for v in text), dtype=np.int8, count=len(text))


def _status_target(check: Checker, target: StatusTarget, text: np.ndarray) -> np.ndarray:
    stages = target.stage_map
    known = ", ".join(stages)
    bad = np.flatnonzero([v is not None and v not in stages for v in text])
    check.rows(
        bad,
        target.column,
        lambda p: f"unknown status '{text[p]}'; known: {known}",
        "hold an unknown status",
    )
    reach = target.reach.rank
    return np.fromiter(
        (v in stages and stages[v].rank >= reach for v in text), dtype=np.int8, count=len(text)
    )


def _binary_target(check: Checker, target: BinaryTarget, text: np.ndarray) -> np.ndarray:
    positive = _lowered(target.positive)
    negative = _lowered(target.negative)
    lowered = [None if v is None else v.lower() for v in text]
    bad = np.flatnonzero(
        [v is not None and v not in positive and v not in negative for v in lowered]
    )
    expected = ", ".join(sorted(positive)) + " (positive) or " + ", ".join(sorted(negative))
    check.rows(
        bad,
        target.column,
        lambda p: f"'{text[p]}' is not a target value; expected {expected}",
        "hold an unknown target value",
    )
    return np.fromiter((v in positive for v in lowered), dtype=np.int8, count=len(lowered))


def _lowered(values: Iterable[str | int | bool]) -> set[str]:
    return {str(to_text(np.array([v], dtype=object))[0]).lower() for v in values}


def membership_target(
    check: Checker,
    target: MembershipTarget,
    name: str,
    positives: pd.DataFrame,
    file: str,
    ids: np.ndarray | None,
    times: pd.DatetimeIndex | None,
) -> np.ndarray:
    """0/1 per lead: is its id among the keys of ``positives`` (the target's file, read)?"""
    required = {target.key: f"the key of target '{name}'"}
    if target.time_column:
        required[target.time_column] = f"the time of target '{name}'"
    present = check_columns(check, positives.columns, required, file)
    if target.key not in present or ids is None:
        return np.zeros(0 if ids is None else len(ids), dtype=np.int8)
    keys = to_text(as_object_array(positives[target.key]))
    key_set = {k for k in keys if k is not None}
    flags = np.fromiter((i in key_set for i in ids), dtype=np.int8, count=len(ids))
    unknown = len(key_set - set(ids))
    if unknown:
        check.warnings.append(
            Problem(file, None, target.key, f"{unknown} ids of target '{name}' are not leads")
        )
    if target.time_column in present and times is not None:
        _membership_times(check, positives, target, keys, ids, times, file)
    return flags


def _membership_times(
    check: Checker,
    positives: pd.DataFrame,
    target: MembershipTarget,
    keys: np.ndarray,
    ids: np.ndarray,
    times: pd.DatetimeIndex,
    file: str,
) -> None:
    column = target.time_column
    assert column is not None
    raw = as_object_array(positives[column])
    won = to_datetime_utc(raw)
    for position in unparsed(raw, won.to_numpy(), check.markers)[:ROWS_LISTED_PER_COLUMN]:
        check.problems.append(
            Problem(
                file,
                int(position) + 2,
                column,
                f"cannot read time '{raw[position]}'; expected {_ISO_HINT}",
            )
        )
    arrived = dict(zip(ids, times, strict=True))
    early = [
        k
        for k, t in zip(keys, won, strict=True)
        if k in arrived and not pd.isna(t) and not pd.isna(arrived[k]) and t < arrived[k]
    ]
    if early:
        message = f"{len(early)} lead(s) positive before they arrived, e.g. '{early[0]}'"
        check.warnings.append(Problem(file, None, column, message))
