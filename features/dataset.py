"""Loading a lead data set through its spec, validating every row before anything trains.

``load_dataset`` reads a CSV/Parquet export, ``prepare_frame`` does the same on a frame
already in memory (e.g. leads read back from the lead store). Validation (the checks
module) collects every problem it finds and this module raises one :class:`DatasetError`
listing them all, each naming the file, the line (header = line 1) and the column, so a
broken export is fixed in one pass.

Order of work: the CSV is read with the spec's ``read`` options (separator detected when
not given); the ``rows:`` conditions and the targets' ``ignore`` values choose the rows
(``features.rows``); the lookups are joined (``features.joins``); missing-value markers
become missing; columns are checked for presence; then ids (or line numbers), times,
feature values and targets row by row. Problems always name the line in the file. The rows
of a valid set come back sorted by time (or by the split's order column), with the roles
the spec names.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
    text_markers,
)
from features.coerce import as_object_array, is_missing, to_number, to_text
from features.deal import DealColumnError, join_deals
from features.joins import JoinMatch, Reader, join_lookups
from features.rows import LeftOut, Selection, selected_rows
from features.spec import (
    ONE_CHANNEL,
    DatasetSpec,
    FeatureType,
    Join,
    MembershipTarget,
    ReadOptions,
)

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
    #: what loading chose for itself (e.g. the separator detected)
    notes: list[str] = field(default_factory=list)
    #: rows of the file before the spec's rows/ignore rules (None: not told)
    rows_read: int | None = None
    left_out: list[LeftOut] = field(default_factory=list)
    joins: list[JoinMatch] = field(default_factory=list)
    #: every column of the file as read
    columns_read: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


# --------------------------------------------------------------------------- reading


def format_of(path: Path, fmt: str | None) -> str:
    """The file's format: ``fmt`` when given, else told by the suffix (csv, parquet, xlsx)."""
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


def read_table(path: Path, fmt: str | None = None, read: ReadOptions | None = None) -> pd.DataFrame:
    """Read a CSV or an Excel workbook's first sheet (every column as text, markers left as
    they are) or a Parquet file. A CSV is read with ``read``'s separator and encoding; with
    no separator given it is detected from the first lines (:func:`detect_separator`)."""
    kind = format_of(path, fmt)
    if not path.is_file():
        raise DatasetError([Problem(str(path), None, None, "no such file")])
    if kind == "parquet":
        return _read_parquet(path)
    if kind == "xlsx":
        return _read_xlsx(path)
    options = read or ReadOptions()
    sep = options.sep or detect_separator(path, options.encoding)
    try:
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding=options.encoding, sep=sep
        )
    except pd.errors.EmptyDataError:
        raise DatasetError([Problem(str(path), None, None, "the file is empty")]) from None
    except UnicodeDecodeError as exc:
        message = (
            f"cannot be read as {options.encoding} ({exc.reason} at byte {exc.start}); set "
            "the file's encoding in the spec, e.g. read: {encoding: cp1252} or latin-1"
        )
        raise DatasetError([Problem(str(path), None, None, message)]) from exc
    except pd.errors.ParserError as exc:
        hint = (
            "" if options.sep else f" (separator '{_shown(sep)}' detected; set read: {{sep: ...}})"
        )
        raise DatasetError(
            [Problem(str(path), None, None, f"not a readable CSV: {exc}{hint}")]
        ) from exc


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a frame. Arrow's memory pool keeps the blocks it freed while
    converting the file (the frame holds only some of them): they go back to the system."""
    import pyarrow as pa

    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DatasetError([Problem(str(path), None, None, f"not a Parquet file: {exc}")]) from exc
    pa.default_memory_pool().release_unused()
    return frame


#: Separators tried by :func:`detect_separator`, the first winning a tie.
SEPARATORS = (",", ";", "\t", "|")
_SNIFF_LINES = 50


def detect_separator(path: Path, encoding: str = "utf-8-sig") -> str:
    """The separator of a CSV file: of the candidates, the one that splits the header into
    the most fields and (nearly) every following line into as many. ``,`` when none does."""
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as handle:
            lines = [line for _, line in zip(range(_SNIFF_LINES), handle, strict=False)]
    except OSError:
        return ","
    if len(lines) > 2:
        lines = lines[:-1]  # the last line read may be cut inside a quoted field
    best, best_fields = ",", 1
    for sep in SEPARATORS:
        widths = [len(row) for row in csv.reader(lines, delimiter=sep) if row]
        if not widths or widths[0] <= best_fields:
            continue
        agreeing = sum(width == widths[0] for width in widths)
        if agreeing >= 0.8 * len(widths):
            best, best_fields = sep, widths[0]
    return best


def _shown(sep: str) -> str:
    return "\\t" if sep == "\t" else sep


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
    return 2 if format_of(path, fmt) in ("csv", "xlsx") else 1


# --------------------------------------------------------------------------- loading


def load_dataset(spec: DatasetSpec, path: Path | None = None) -> LeadData:
    """Read the spec's data file (or ``path``) and validate it; raises :class:`DatasetError`."""
    path = path if path is not None else spec.data_path()
    if path is None:
        where = spec.source_path or spec.name
        raise DatasetError(
            [Problem(str(where), None, "data", "the spec names no data file; pass a path")]
        )
    read, notes = _read_options(path, spec.format, spec.read)
    frame = read_table(path, spec.format, read)
    return prepare_frame(
        spec,
        frame,
        source=str(path),
        first_row=_first_row(path, spec.format),
        data_dir=path.parent,
        notes=notes,
    )


def read_raw(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """An export as read: every column of ``path`` (the outcome columns the spec drops
    included), with the deals of the file the spec's deal section names (``deal: {path,
    key}``) joined to their leads; :class:`DatasetError` names what is wrong."""
    frame = read_table(path, spec.format, spec.read)
    if spec.deal.path is None:
        return frame
    deal_path = path.parent / spec.deal.path
    deals = read_table(deal_path)
    try:
        return join_deals(frame, deals, spec)
    except DealColumnError as error:
        raise DatasetError([Problem(str(deal_path), None, spec.deal.key, str(error))]) from None


def _read_options(path: Path, fmt: str | None, read: ReadOptions) -> tuple[ReadOptions, list[str]]:
    """``read`` with the separator detected when the spec gives none, and a note saying so."""
    if read.sep is not None or format_of(path, fmt) != "csv" or not path.is_file():
        return read, []
    sep = detect_separator(path, read.encoding)
    note = (
        f"{path}: separator '{_shown(sep)}' detected; if that is wrong, set "
        "read: {sep: ...} in the spec"
    )
    return read.model_copy(update={"sep": sep}), [note]


def _read_lookup(base_read: ReadOptions) -> Reader:
    def read(path: Path, join: Join) -> tuple[pd.DataFrame, int]:
        options, _ = _read_options(path, join.format, join.read)
        return read_table(path, join.format, options), _first_row(path, join.format)

    return read


def prepare_frame(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    source: str = "<frame>",
    *,
    first_row: int = 1,
    data_dir: Path | None = None,
    notes: list[str] | None = None,
    columns_read: list[str] | None = None,
) -> LeadData:
    """Validate an in-memory frame against ``spec`` exactly as :func:`load_dataset` does.

    ``first_row`` is the number reported for the frame's first row (2 for a CSV whose
    header is line 1). ``data_dir`` is where a membership target's and the joins' files
    live (default: the folder of the spec's data file). ``columns_read`` are the columns
    of the file when ``frame`` holds only some of them (those the spec reads,
    :func:`features.checks.read_columns`): the columns the spec ignores are told from it.

    Order: the ``rows:`` conditions and the targets' ``ignore`` values choose the rows;
    the joins add their columns; then markers, columns, ids, times, values and targets.
    """
    all_columns = [str(c) for c in frame.columns] if columns_read is None else columns_read
    check = Checker(source=source, first_row=first_row, markers=spec.missing_values)
    rows_read = len(frame)
    frame, lines, selection = _selected(check, frame, spec, first_row)
    base = data_dir or _spec_data_dir(spec)
    joined = join_lookups(check, frame, spec, base, _read_lookup(spec.read))
    frame, check.lines = joined.frame, lines[joined.kept]
    present = check.columns([str(c) for c in frame.columns], required_columns(spec))
    needed = [c for c in required_columns(spec) if c in present]
    frame = _blank_markers(frame[needed].reset_index(drop=True), spec)
    frame = _read_numbers(frame, spec)
    ids = _ids(check, frame, spec, present)
    times = checked_times(check, frame, spec) if spec.time_column in present else None
    for feature in spec.features:
        if feature.column != spec.time_column:  # the time column is checked above
            check_feature(check, frame, feature, present)
    targets = {
        name: _target(check, frame, spec, name, present, base, ids, times) for name in spec.targets
    }
    order = _order(check, frame, spec, present, times)
    check.unused(all_columns, spec)
    if check.problems or ids is None:
        raise DatasetError(check.problems)
    data = _assemble(spec, frame, ids, times, targets, source, check.warnings, order)
    return replace(
        data,
        notes=list(notes or []),
        rows_read=rows_read,
        left_out=selection.left_out,
        joins=joined.matches,
        columns_read=all_columns,
    )


def _selected(
    check: Checker, frame: pd.DataFrame, spec: DatasetSpec, first_row: int
) -> tuple[pd.DataFrame, np.ndarray, Selection]:
    """The rows the spec's ``rows:`` conditions and targets' ``ignore`` values keep, their
    file lines (also set on ``check``) and the selection; no rows at all is an error."""
    if len(frame) == 0:
        check.error(None, None, "no data rows (only a header, or nothing)")
        raise DatasetError(check.problems)
    selection = selected_rows(check, frame, spec)
    if check.problems:
        raise DatasetError(check.problems)
    kept = _taken(frame, selection.positions)
    lines = selection.positions + first_row
    check.lines = lines
    if len(kept) == 0:
        check.error(None, None, f"no rows left of {len(frame)} after the spec's rows/ignore rules")
        raise DatasetError(check.problems)
    return kept, lines, selection


def _taken(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows at ``positions`` (index 0..k-1); not copied when they are every row in order."""
    if len(positions) == len(frame) and np.array_equal(positions, np.arange(len(frame))):
        return frame.reset_index(drop=True)
    return frame.iloc[positions].reset_index(drop=True)


def _ids(
    check: Checker, frame: pd.DataFrame, spec: DatasetSpec, present: set[str]
) -> np.ndarray | None:
    """The CRM ids; with no id column, each row's line in the file (a row number)."""
    if spec.id_column is None:
        return np.array([str(check.line(p)) for p in range(len(frame))], dtype=object)
    return checked_ids(check, frame, spec.id_column) if spec.id_column in present else None


def _order(
    check: Checker,
    frame: pd.DataFrame,
    spec: DatasetSpec,
    present: set[str],
    times: pd.DatetimeIndex | None,
) -> np.ndarray:
    """Row order of the data set: by time, by the split's order column, or as in the file."""
    if times is not None:
        return np.argsort(times.asi8, kind="stable")
    by = getattr(spec.split, "by", None)
    if by is None or by not in present:
        return np.arange(len(frame))
    raw = column_values(frame, by)
    numbers = to_number(raw)
    bad = np.flatnonzero(np.isnan(numbers))
    check.rows(
        bad,
        by,
        lambda p: f"order value '{raw[p]}' is not a number; the split orders rows by it",
        "without a numeric order value",
    )
    return np.argsort(numbers, kind="stable")


def _frame_columns(spec: DatasetSpec) -> list[str]:
    """Columns kept in ``LeadData.frame``: roles and feature inputs, never targets."""
    columns = [spec.id_column, spec.time_column, spec.channel_column, spec.campaign_column]
    columns += [c for f in spec.features for c in f.input_columns]
    return list(dict.fromkeys(c for c in columns if c))


def _blank_markers(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Turn missing-value markers (e.g. 'Select', '') into missing in text columns: the
    spec's markers everywhere, a feature's own ``missing_values`` in its column.

    Only the columns that hold a marker are replaced (the others are the frame's own). A
    text column (pandas' ``str`` dtype, Arrow-backed) stays one, its markers made missing
    (:func:`features.checks.text_markers`); any other column comes back as objects, missing as None.
    """
    own = {f.column: f.missing_values for f in spec.features if f.missing_values}
    out = frame.copy(deep=False)
    for column in out.columns:
        series = out[column]
        markers = [*spec.missing_values, *own.get(str(column), [])]
        if isinstance(series.dtype, pd.StringDtype):
            found = text_markers(series, markers)
            if found.any():
                out[column] = series.mask(found)
            continue
        typed = series.dtype.kind in "fiubmM"
        if typed and str(column) not in own:
            continue  # a typed column holds no text marker (and is not copied to objects)
        values = as_object_array(series)
        if typed:
            mask = np.isin(to_text(values).astype(object), own[str(column)])
        else:
            mask = is_missing(values, markers)
        if mask.any():
            values[mask] = None
            out[column] = pd.Series(values, index=series.index, dtype=object)
    return out


def _read_numbers(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Numbers written with the file's ``decimal`` and ``thousands`` marks, as plain text
    numbers (``1.234,5`` -> ``1234.5``) in the numeric and money columns."""
    decimal, thousands = spec.read.decimal, spec.read.thousands
    if decimal == "." and thousands is None:
        return frame
    numeric = (FeatureType.NUMERIC, FeatureType.MONEY)
    columns = [f.column for f in spec.features if f.type in numeric and f.column in frame]
    out = frame.copy()
    for column in columns:
        if out[column].dtype.kind in "fiub":
            continue
        values = [_plain_number(v, decimal, thousands) for v in as_object_array(out[column])]
        out[column] = pd.Series(values, index=out.index, dtype=object)
    return out


def _plain_number(value: object, decimal: str, thousands: str | None) -> object:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if thousands is not None:
        text = text.replace(thousands, "")
    return text.replace(decimal, ".") if decimal != "." else text


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
    order: np.ndarray,
) -> LeadData:
    if times is not None:
        times = times[order]
    kept = _taken(frame[_frame_columns(spec)], order)
    if spec.channel_column is None:
        channels = np.full(len(frame), ONE_CHANNEL, dtype=object)
    else:
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
    "read_raw",
    "read_table",
]
