"""Joining a spec's lookup tables (accounts, products, sales teams, ...) onto an export.

Each ``joins:`` entry reads its file (relative to the data file), checks its key columns,
refuses a key that repeats (a lookup has one row per key: a repeated key would multiply
or silently choose rows), and adds its columns, named ``prefix`` + column, to the rows of
the export in their order. A row whose key the lookup lacks keeps missing values there
(``how: left``) or is left out (``how: inner``); either way the match rate is measured
and unmatched keys are reported with examples. Reading is the caller's: ``read`` reads
one lookup file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.checks import ROWS_LISTED_PER_COLUMN, Checker, Problem, check_columns
from features.coerce import as_object_array, is_missing, to_text
from features.spec import DatasetSpec
from features.spec_sources import Join

#: Reads one lookup file: (its frame, the line number of its first data row).
Reader = Callable[[Path, Join], tuple[pd.DataFrame, int]]
#: Unmatched key values named in the warning of a join.
EXAMPLES_SHOWN = 5


@dataclass(frozen=True)
class JoinMatch:
    """How the rows of the export found their lookup row."""

    file: str
    keys: list[str]
    rows: int  # rows of the export (after ``rows:``)
    matched: int
    missing_key: int  # rows with no key value at all
    columns: list[str]  # columns added

    @property
    def rate(self) -> float:
        return self.matched / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class Joined:
    frame: pd.DataFrame
    kept: np.ndarray  # positions (in the frame given) of the rows kept
    matches: list[JoinMatch]


def join_lookups(
    check: Checker, frame: pd.DataFrame, spec: DatasetSpec, base: Path, read: Reader
) -> Joined:
    """``frame`` with every join's columns added (in spec order); problems to ``check``."""
    kept = np.arange(len(frame))
    matches: list[JoinMatch] = []
    for join in spec.joins:
        path = base / join.path
        try:
            lookup, first_row = read(path, join)
        except ValueError as exc:  # DatasetError: the lookup file cannot be read
            problems = getattr(exc, "problems", [Problem(str(path), None, None, str(exc))])
            check.problems.extend(
                Problem(p.file, p.row, p.column, f"lookup of a join: {p.message}") for p in problems
            )
            continue
        result = _join_one(check, frame, join, lookup, str(path), first_row)
        if result is None:
            continue
        frame, rows, match = result
        kept = kept[rows]
        matches.append(match)
    return Joined(frame, kept, matches)


def _join_one(
    check: Checker,
    frame: pd.DataFrame,
    join: Join,
    lookup: pd.DataFrame,
    file: str,
    first_row: int,
) -> tuple[pd.DataFrame, np.ndarray, JoinMatch] | None:
    data_keys = [left for left, _ in join.keys]
    lookup_keys = [right for _, right in join.keys]
    role = f"a key of the join with {file}"
    present = check.columns([str(c) for c in frame.columns], dict.fromkeys(data_keys, role))
    wanted = join.columns if join.columns is not None else [str(c) for c in lookup.columns]
    columns = [c for c in wanted if c not in lookup_keys]
    needed = {k: "a key of this lookup" for k in lookup_keys}
    needed.update({c: "a column the join takes" for c in columns})
    found = check_columns(check, lookup.columns, needed, file)
    if len(present) < len(data_keys) or len(found) < len(needed):
        return None
    clashes = [join.output_name(c) for c in columns if join.output_name(c) in frame.columns]
    if clashes:
        check.error(
            None,
            clashes[0],
            f"the join with {file} would add column(s) {', '.join(clashes)} the data already "
            "has; give the join a prefix",
        )
        return None
    index = _lookup_index(check, lookup, lookup_keys, file, first_row)
    if index is None:
        return None
    keys = _keys(frame, data_keys, check.markers)
    at = np.fromiter((index.get(k, -1) if k is not None else -1 for k in keys), int, len(keys))
    matched = at >= 0
    no_key = np.fromiter((k is None for k in keys), bool, len(keys))
    _report_unmatched(check, join, keys, matched, no_key, file)
    added = {join.output_name(c): _taken(lookup[c], at) for c in columns}
    out = pd.concat([frame, pd.DataFrame(added, index=frame.index)], axis=1)
    rows = np.arange(len(frame)) if join.how == "left" else np.flatnonzero(matched)
    match = JoinMatch(
        file=file,
        keys=data_keys,
        rows=len(frame),
        matched=int(matched.sum()),
        missing_key=int(no_key.sum()),
        columns=list(added),
    )
    return out.iloc[rows].reset_index(drop=True), rows, match


def _keys(
    frame: pd.DataFrame, columns: list[str], markers: list[str]
) -> list[tuple[str, ...] | None]:
    """Each row's key (stripped text per key column); None when a part is missing."""
    parts = []
    for column in columns:
        raw = as_object_array(frame[column])
        text = to_text(raw)
        text[is_missing(raw, markers)] = None
        parts.append(text)
    return [None if any(p is None for p in key) else tuple(key) for key in zip(*parts, strict=True)]


def _lookup_index(
    check: Checker, lookup: pd.DataFrame, keys: list[str], file: str, first_row: int
) -> dict[tuple[str, ...], int] | None:
    """Key -> lookup row; every repeated key reported (then None: the join is refused)."""
    index: dict[tuple[str, ...], int] = {}
    repeated: list[Problem] = []
    for position, key in enumerate(_keys(lookup, keys, [""])):
        if key is None:
            continue
        if key in index:
            first = index[key] + first_row
            message = f"key {_shown(key)} repeats line {first}; a lookup needs one row per key"
            repeated.append(Problem(file, position + first_row, ", ".join(keys), message))
        else:
            index[key] = position
    if repeated:
        check.problems.extend(repeated[:ROWS_LISTED_PER_COLUMN])
        if len(repeated) > ROWS_LISTED_PER_COLUMN:
            listed = ROWS_LISTED_PER_COLUMN
            message = f"{len(repeated)} rows in all repeat a key (first {listed} listed)"
            check.problems.append(Problem(file, None, ", ".join(keys), message))
        return None
    return index


def _taken(column: pd.Series, at: np.ndarray) -> np.ndarray:
    """The lookup column's value for each row (None where the row found no lookup row)."""
    values = as_object_array(column)
    out = np.empty(len(at), dtype=object)
    found = at >= 0
    out[found] = values[at[found]]
    out[~found] = None
    return out


def _report_unmatched(
    check: Checker,
    join: Join,
    keys: list[tuple[str, ...] | None],
    matched: np.ndarray,
    no_key: np.ndarray,
    file: str,
) -> None:
    unmatched = ~matched & ~no_key
    if not unmatched.any():
        return
    examples: dict[tuple[str, ...], int] = {}
    for position in np.flatnonzero(unmatched):
        key = keys[position]
        assert key is not None
        examples.setdefault(key, int(position))
    shown = ", ".join(
        f"{_shown(k)} (line {check.line(p)})" for k, p in list(examples.items())[:EXAMPLES_SHOWN]
    )
    then = "are left out" if join.how == "inner" else "get missing values from it"
    message = (
        f"{int(unmatched.sum())} rows have a key not in {file} ({len(examples)} distinct, "
        f"e.g. {shown}); they {then}"
    )
    column = ", ".join(k for k, _ in join.keys)
    if join.unmatched == "error":
        check.error(None, column, message)
    else:
        check.warn(None, column, message)


def _shown(key: tuple[str, ...]) -> str:
    return "'" + "', '".join(key) + "'"
