"""Loading a lead data set through its spec, validating every row before anything trains.

``load_dataset`` reads a CSV/Parquet export, ``prepare_frame`` does the same on a frame
already in memory (e.g. leads read back from the lead store). Validation (the checks
module) collects every problem it finds and this module raises one :class:`DatasetError`
listing them all, each naming the file, the line (header = line 1) and the column, so a
broken export is fixed in one pass.

Order of work: missing-value markers become missing first; columns are checked for
presence; then ids, times, feature values and targets row by row. The rows of a valid set
come back sorted by time, with the roles the spec names.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.checks import (
    ROWS_LISTED_PER_COLUMN,
    Checker,
    Problem,
    check_feature,
    checked_ids,
    checked_times,
    column_target,
    column_values,
    membership_target,
    required_columns,
)
from features.coerce import as_object_array, is_missing, to_text
from features.spec import DatasetSpec, MembershipTarget

#: How many problems ``str(DatasetError)`` shows.
PROBLEMS_SHOWN = 50
#: Channel label for leads whose channel is missing.
UNKNOWN_CHANNEL = "unknown"


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
    if suffix == ".xlsx":
        return "xlsx"
    raise DatasetError(
        [Problem(str(path), None, None, "unknown file type; expected .csv, .parquet or .xlsx")]
    )


def read_table(path: Path, fmt: str | None = None) -> pd.DataFrame:
    """Read a CSV or an Excel workbook's first sheet (every column as text, markers left as
    they are) or a Parquet file."""
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
    if kind == "xlsx":
        return _read_xlsx(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DatasetError([Problem(str(path), None, None, "the file is empty")]) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError([Problem(str(path), None, None, f"not a readable CSV: {exc}")]) from exc


def _read_xlsx(path: Path) -> pd.DataFrame:
    """The first sheet of a CRM's Excel export, as text like a CSV (CRMs export .xlsx)."""
    try:
        frame = pd.read_excel(
            path, sheet_name=0, dtype=str, keep_default_na=False, engine="openpyxl"
        )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # openpyxl on a bad file
        raise DatasetError(
            [Problem(str(path), None, None, f"not a readable .xlsx: {exc}")]
        ) from exc
    return frame


def _first_row(path: Path, fmt: str | None) -> int:
    """The number of the first data row in problems: CSV and sheet rows count the header."""
    return 2 if _format_of(path, fmt) in ("csv", "xlsx") else 1


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
    check = Checker(source=source, first_row=first_row, markers=spec.missing_values)
    if len(frame) == 0:
        check.error(None, None, "no data rows (only a header, or nothing)")
        raise DatasetError(check.problems)
    present = check.columns(all_columns, required_columns(spec))
    needed = [c for c in required_columns(spec) if c in present]
    frame = _blank_markers(frame[needed].reset_index(drop=True), spec.missing_values)
    ids = checked_ids(check, frame, spec.id_column) if spec.id_column in present else None
    times = checked_times(check, frame, spec) if spec.time_column in present else None
    for feature in spec.features:
        if feature.column != spec.time_column:  # the time column is checked above
            check_feature(check, frame, feature, present)
    targets = {
        name: _target(check, frame, spec, name, present, data_dir, ids, times)
        for name in spec.targets
    }
    check.unused(all_columns, spec)
    if check.problems or ids is None:
        raise DatasetError(check.problems)
    return _assemble(spec, frame, ids, times, targets, source, check.warnings)


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


# --------------------------------------------------------------------------- targets


def _target(
    check: Checker,
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
    return column_target(check, frame, target, name, present)


def _spec_data_dir(spec: DatasetSpec) -> Path:
    path = spec.data_path()
    return path.parent if path is not None else Path.cwd()


def _membership(
    check: Checker,
    target: MembershipTarget,
    name: str,
    base: Path,
    ids: np.ndarray | None,
    times: pd.DatetimeIndex | None,
) -> np.ndarray:
    """A membership target: read its file of positive keys, then check and match them."""
    path = base / target.path
    try:
        positives = read_table(path)
    except DatasetError as exc:
        message = f"file of target '{name}' cannot be used"
        check.problems.extend(
            Problem(p.file, p.row, p.column, f"{message}: {p.message}") for p in exc.problems
        )
        return np.zeros(0 if ids is None else len(ids), dtype=np.int8)
    return membership_target(check, target, name, positives, str(path), ids, times)


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
    channels = to_text(column_values(frame, spec.channel_column))[order]
    channels[pd.isna(channels)] = UNKNOWN_CHANNEL
    campaigns = None
    if spec.campaign_column:
        campaigns = to_text(column_values(frame, spec.campaign_column))[order]
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
    "ROWS_LISTED_PER_COLUMN",
    "ChannelRow",
    "DatasetError",
    "LeadData",
    "Problem",
    "channel_counts",
    "load_dataset",
    "prepare_frame",
    "read_table",
]
