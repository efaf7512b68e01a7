"""Loading a lead data set through its spec, validating every row before anything trains.

``load_dataset`` reads a CSV/Parquet export, ``prepare_frame`` does the same on a frame
already in memory (e.g. leads read back from the lead store). Validation collects every
problem it finds and raises one :class:`DatasetError` listing them all, each naming the
file, the line (header = line 1) and the column, so a broken export is fixed in one pass.

Order of work: missing-value markers become missing first; columns are checked for
presence; then ids, times, feature values and targets row by row. Values the pipeline can
live with (an ordinal outside its order, a currency without a rate) are kept as warnings.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.coerce import (
    as_object_array,
    is_missing,
    to_bool,
    to_datetime_utc,
    to_number,
    to_text,
    unparsed,
)
from features.spec import (
    BinaryTarget,
    DatasetSpec,
    FeatureSpec,
    FeatureType,
    MembershipTarget,
    StatusTarget,
)

#: How many offending rows are listed per column before only counting the rest.
ROWS_LISTED_PER_COLUMN = 20
#: How many problems ``str(DatasetError)`` shows.
PROBLEMS_SHOWN = 50
#: Values a binary target accepts as negative (compared lower-cased, stripped).
NEGATIVE_VALUES = frozenset({"0", "false", "no", "нет"})
#: Channel label for leads whose channel is missing.
UNKNOWN_CHANNEL = "unknown"
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


class DatasetError(ValueError):
    """A data set that does not fit its spec; ``problems`` holds every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        shown = [str(p) for p in self.problems[:PROBLEMS_SHOWN]]
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more")
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun} in the data:\n" + "\n".join(shown))


@dataclass(frozen=True)
class LeadData:
    """A validated data set: the raw feature columns plus the roles the spec names.

    Rows are sorted by time (stable) when the spec has a time column; every array is
    aligned with ``frame``'s rows.
    """

    spec: DatasetSpec
    frame: pd.DataFrame
    ids: np.ndarray
    times: pd.DatetimeIndex | None
    channels: np.ndarray
    campaigns: np.ndarray | None
    targets: dict[str, np.ndarray]
    source: str
    warnings: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


# --------------------------------------------------------------------------- reading


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".csv", ".txt"}:
        return "csv"
    raise DatasetError(
        [Problem(str(path), None, None, "unknown file type; expected .csv or .parquet")]
    )


def read_table(path: Path, fmt: str | None = None) -> pd.DataFrame:
    """Read a CSV (every column as text, markers left as they are) or a Parquet file."""
    kind = _format_of(path, fmt)
    if not path.is_file():
        raise DatasetError([Problem(str(path), None, None, "no such file")])
    if kind == "parquet":
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DatasetError(
                [Problem(str(path), None, None, f"not a Parquet file: {exc}")]
            ) from exc
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DatasetError([Problem(str(path), None, None, "the file is empty")]) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError([Problem(str(path), None, None, f"not a readable CSV: {exc}")]) from exc


def _first_row(path: Path, fmt: str | None) -> int:
    """The number of the first data row in problems: CSV lines count the header."""
    return 2 if _format_of(path, fmt) == "csv" else 1


# --------------------------------------------------------------------------- loading


def load_dataset(spec: DatasetSpec, path: Path | None = None) -> LeadData:
    """Read the spec's data file (or ``path``) and validate it; raises :class:`DatasetError`."""
    path = path if path is not None else spec.data_path()
    if path is None:
        where = spec.source_path or spec.name
        raise DatasetError(
            [Problem(str(where), None, "data", "the spec names no data file; pass a path")]
        )
    frame = read_table(path, spec.format)
    return prepare_frame(
        spec,
        frame,
        source=str(path),
        first_row=_first_row(path, spec.format),
        data_dir=path.parent,
    )


def prepare_frame(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    source: str = "<frame>",
    *,
    first_row: int = 1,
    data_dir: Path | None = None,
) -> LeadData:
    """Validate an in-memory frame against ``spec`` exactly as :func:`load_dataset` does.

    ``first_row`` is the number reported for the frame's first row (2 for a CSV whose
    header is line 1). ``data_dir`` is where a membership target's file lives (default:
    the folder of the spec's data file).
    """
    all_columns = [str(c) for c in frame.columns]
    check = _Checker(source=source, first_row=first_row, markers=spec.missing_values)
    if len(frame) == 0:
        check.error(None, None, "no data rows (only a header, or nothing)")
        raise DatasetError(check.problems)
    present = check.columns(all_columns, _required_columns(spec))
    needed = [c for c in _required_columns(spec) if c in present]
    frame = _blank_markers(frame[needed].reset_index(drop=True), spec.missing_values)
    ids = _ids(check, frame, spec.id_column) if spec.id_column in present else None
    times = _times(check, frame, spec) if spec.time_column in present else None
    for feature in spec.features:
        if feature.column != spec.time_column:  # the time column is checked above
            _check_feature(check, frame, feature, present)
    targets = {
        name: _target(check, frame, spec, name, present, data_dir, ids, times)
        for name in spec.targets
    }
    check.unused(all_columns, spec)
    if check.problems or ids is None:
        raise DatasetError(check.problems)
    return _assemble(spec, frame, ids, times, targets, source, check.warnings)


# --------------------------------------------------------------------------- validation


@dataclass
class _Checker:
    """Collects problems and warnings for one file, turning row positions into lines."""

    source: str
    first_row: int
    markers: list[str]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, position: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.source, self.line(position), column, message))

    def warn(self, position: int | None, column: str | None, message: str) -> None:
        self.warnings.append(Problem(self.source, self.line(position), column, message))

    def line(self, position: int | None) -> int | None:
        """The row number reported for a 0-based row position."""
        return None if position is None else position + self.first_row

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
        return _check_columns(self, available, required, self.source)

    def unused(self, columns: list[str], spec: DatasetSpec) -> None:
        used = set(_required_columns(spec))
        extra = [c for c in columns if c not in used and not any(d.matches(c) for d in spec.drop)]
        if extra:
            self.warn(None, None, "columns not named by the spec are ignored: " + ", ".join(extra))


def _check_columns(
    check: _Checker, available: Iterable[object], required: dict[str, str], file: str
) -> set[str]:
    names = [str(c) for c in available]
    present: set[str] = set()
    for column, role in required.items():
        if column in names:
            present.add(column)
            continue
        check.problems.append(
            Problem(
                file, None, column, f"missing column (needed as {role}){_suggest(column, names)}"
            )
        )
    return present


def _suggest(column: str, names: list[str]) -> str:
    lowered = {name.lower().strip(): name for name in names}
    close = lowered.get(column.lower().strip())
    if close is None:
        matches = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
        close = matches[0] if matches else None
    return f"; did you mean '{close}'?" if close else ""


def _required_columns(spec: DatasetSpec) -> dict[str, str]:
    """Every column the spec reads, with the role that needs it (first role wins)."""
    roles: dict[str, str] = {spec.id_column: "the id column"}
    if spec.time_column:
        roles.setdefault(spec.time_column, "the time column")
    roles.setdefault(spec.channel_column, "the channel column")
    if spec.campaign_column:
        roles.setdefault(spec.campaign_column, "the campaign column")
    for name, target in spec.targets.items():
        if not isinstance(target, MembershipTarget):
            roles.setdefault(target.column, f"target '{name}'")
    for feature in spec.features:
        for column in feature.input_columns:
            roles.setdefault(column, f"an input of feature '{feature.column}'")
    return roles


def _frame_columns(spec: DatasetSpec) -> list[str]:
    """Columns kept in ``LeadData.frame``: roles and feature inputs, never targets."""
    columns = [spec.id_column, spec.time_column, spec.channel_column, spec.campaign_column]
    columns += [c for f in spec.features for c in f.input_columns]
    return list(dict.fromkeys(c for c in columns if c))


def _blank_markers(frame: pd.DataFrame, markers: list[str]) -> pd.DataFrame:
    """Turn missing-value markers (e.g. 'Select', '') into missing in text columns."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype.kind in "fiubmM":
            continue
        values = as_object_array(series)
        mask = is_missing(values, markers)
        if mask.any():
            values[mask] = None
            out[column] = pd.Series(values, index=series.index, dtype=object)
    return out


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    return as_object_array(frame[column])


def _ids(check: _Checker, frame: pd.DataFrame, column: str) -> np.ndarray:
    ids = to_text(_values(frame, column))
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


def _times(check: _Checker, frame: pd.DataFrame, spec: DatasetSpec) -> pd.DatetimeIndex:
    column = spec.time_column
    assert column is not None
    raw = _values(frame, column)
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


def _check_feature(
    check: _Checker, frame: pd.DataFrame, feature: FeatureSpec, present: set[str]
) -> None:
    if feature.column not in present:
        return
    raw = _values(frame, feature.column)
    if is_missing(raw, check.markers).all():
        check.warn(None, feature.column, "every value is missing; the feature carries nothing")
    kind = feature.type
    if kind is FeatureType.NUMERIC:
        _unparsed(check, feature.column, raw, to_number(raw), "a number")
    elif kind is FeatureType.BOOLEAN:
        _unparsed(check, feature.column, raw, to_bool(raw), "true/false (yes/no, 1/0)")
    elif kind is FeatureType.MONEY:
        _unparsed(check, feature.column, raw, to_number(raw), "an amount")
        _check_money_codes(check, frame, feature, present)
    elif kind in (FeatureType.DATETIME, FeatureType.SINCE):
        parsed = to_datetime_utc(raw).to_numpy()
        _unparsed(check, feature.column, raw, parsed, f"a date/time ({_ISO_HINT})")
    elif kind is FeatureType.ORDINAL:
        _unknown(check, feature.column, raw, feature.order or [], "outside the order")


def _unparsed(
    check: _Checker, column: str, raw: np.ndarray, parsed: np.ndarray, expected: str
) -> None:
    bad = unparsed(raw, parsed, check.markers)
    check.rows(
        bad, column, lambda p: f"cannot read '{raw[p]}'; expected {expected}", f"are not {expected}"
    )


def _unknown(
    check: _Checker, column: str, raw: np.ndarray, known: Iterable[str], what: str
) -> None:
    """Warn (the pipeline treats them as missing) about values outside ``known``."""
    allowed = list(known)
    text = to_text(raw)
    bad = np.flatnonzero([v is not None and v not in allowed for v in text])
    listing = ", ".join(allowed)
    check.rows(
        bad,
        column,
        lambda p: f"'{text[p]}' is {what} ({listing}); it will be treated as missing",
        f"{what}",
        warning=True,
    )


def _check_money_codes(
    check: _Checker, frame: pd.DataFrame, feature: FeatureSpec, present: set[str]
) -> None:
    if feature.currency_column and feature.currency_column in present:
        raw = _values(frame, feature.currency_column)
        _unknown(
            check, feature.currency_column, raw, feature.rates or {}, "a currency with no rate"
        )
    if feature.bracket_column and feature.bracket_column in present:
        raw = _values(frame, feature.bracket_column)
        _unknown(
            check, feature.bracket_column, raw, feature.bracket_values or {}, "an unknown bracket"
        )


# --------------------------------------------------------------------------- targets


def _target(
    check: _Checker,
    frame: pd.DataFrame,
    spec: DatasetSpec,
    name: str,
    present: set[str],
    data_dir: Path | None,
    ids: np.ndarray | None,
    times: pd.DatetimeIndex | None,
) -> np.ndarray:
    target = spec.targets[name]
    if isinstance(target, MembershipTarget):
        base = data_dir or _spec_data_dir(spec)
        return _membership(check, target, name, base, ids, times)
    if target.column not in present:
        return np.zeros(len(frame), dtype=np.int8)
    text = to_text(_values(frame, target.column))
    missing = np.flatnonzero(pd.isna(text))
    check.rows(
        missing,
        target.column,
        lambda _: f"missing value of target '{name}'",
        f"miss target '{name}'",
    )
    if isinstance(target, StatusTarget):
        return _status_target(check, target, text)
    return _binary_target(check, target, text)


def _status_target(check: _Checker, target: StatusTarget, text: np.ndarray) -> np.ndarray:
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


def _binary_target(check: _Checker, target: BinaryTarget, text: np.ndarray) -> np.ndarray:
    positive = {to_text(np.array([p], dtype=object))[0].lower() for p in target.positive}
    lowered = [None if v is None else v.lower() for v in text]
    bad = np.flatnonzero(
        [v is not None and v not in positive and v not in NEGATIVE_VALUES for v in lowered]
    )
    expected = ", ".join(sorted(positive)) + " (positive) or " + ", ".join(sorted(NEGATIVE_VALUES))
    check.rows(
        bad,
        target.column,
        lambda p: f"'{text[p]}' is not a target value; expected {expected}",
        "hold an unknown target value",
    )
    return np.fromiter((v in positive for v in lowered), dtype=np.int8, count=len(lowered))


def _spec_data_dir(spec: DatasetSpec) -> Path:
    path = spec.data_path()
    return path.parent if path is not None else Path.cwd()


def _membership(
    check: _Checker,
    target: MembershipTarget,
    name: str,
    base: Path,
    ids: np.ndarray | None,
    times: pd.DatetimeIndex | None,
) -> np.ndarray:
    path = base / target.path
    size = 0 if ids is None else len(ids)
    try:
        positives = read_table(path)
    except DatasetError as exc:
        message = f"file of target '{name}' cannot be used"
        check.problems.extend(
            Problem(p.file, p.row, p.column, f"{message}: {p.message}") for p in exc.problems
        )
        return np.zeros(size, dtype=np.int8)
    required = {target.key: f"the key of target '{name}'"}
    if target.time_column:
        required[target.time_column] = f"the time of target '{name}'"
    present = _check_columns(check, positives.columns, required, str(path))
    if target.key not in present or ids is None:
        return np.zeros(size, dtype=np.int8)
    keys = to_text(as_object_array(positives[target.key]))
    key_set = {k for k in keys if k is not None}
    flags = np.fromiter((i in key_set for i in ids), dtype=np.int8, count=len(ids))
    unknown = len(key_set - set(ids))
    if unknown:
        check.warnings.append(
            Problem(str(path), None, target.key, f"{unknown} ids of target '{name}' are not leads")
        )
    if target.time_column in present and times is not None:
        _membership_times(check, positives, target, keys, ids, times, str(path))
    return flags


def _membership_times(
    check: _Checker,
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


# --------------------------------------------------------------------------- result


def _assemble(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    ids: np.ndarray,
    times: pd.DatetimeIndex | None,
    targets: dict[str, np.ndarray],
    source: str,
    warnings: list[Problem],
) -> LeadData:
    order = np.arange(len(frame))
    if times is not None:
        order = np.argsort(times.asi8, kind="stable")
        times = times[order]
    kept = frame[_frame_columns(spec)].iloc[order].reset_index(drop=True)
    channels = to_text(_values(frame, spec.channel_column))[order]
    channels[pd.isna(channels)] = UNKNOWN_CHANNEL
    campaigns = None
    if spec.campaign_column:
        campaigns = to_text(_values(frame, spec.campaign_column))[order]
    return LeadData(
        spec=spec,
        frame=kept,
        ids=ids[order],
        times=times,
        channels=channels.astype(str),
        campaigns=campaigns,
        targets={name: values[order] for name, values in targets.items()},
        source=source,
        warnings=warnings,
    )


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    leads: int
    positives: dict[str, int]


def channel_counts(data: LeadData) -> list[ChannelRow]:
    """Leads and positives per target for each channel, largest channel first."""
    names, counts = np.unique(data.channels, return_counts=True)
    rows = [
        ChannelRow(
            channel=str(name),
            leads=int(count),
            positives={t: int(v[data.channels == name].sum()) for t, v in data.targets.items()},
        )
        for name, count in zip(names, counts, strict=True)
    ]
    return sorted(rows, key=lambda r: (-r.leads, r.channel))


__all__ = [
    "ChannelRow",
    "DatasetError",
    "LeadData",
    "Problem",
    "channel_counts",
    "load_dataset",
    "prepare_frame",
    "read_table",
]
