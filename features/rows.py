"""Which rows of an export a spec uses: its ``rows:`` conditions and its targets' ignored
values (open statuses), applied to the file's rows before anything else is read.

:func:`selected_rows` returns the positions of the rows kept and, for the profile, how
many rows each condition left out. A condition on a column the file does not have is a
problem for the checker; a value a comparison cannot read (text where a number is
compared) leaves its row out and is counted in a warning.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.checks import Checker, suggestion
from features.coerce import as_object_array, is_missing, number_of, to_datetime_utc, to_text
from features.spec import DatasetSpec, MembershipTarget
from features.spec_sources import RowCondition

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class LeftOut:
    """Rows of the file a rule left out (rules overlap: a row may fail several)."""

    rule: str
    rows: int


@dataclass(frozen=True)
class Selection:
    positions: np.ndarray  # 0-based positions of the rows kept, in file order
    left_out: list[LeftOut]


def selected_rows(check: Checker, frame: pd.DataFrame, spec: DatasetSpec) -> Selection:
    """The rows meeting every ``rows:`` condition whose targets hold no ignored value."""
    keep = np.ones(len(frame), dtype=bool)
    left_out: list[LeftOut] = []
    columns = [str(c) for c in frame.columns]
    for condition in spec.rows:
        if condition.column not in columns:
            check.error(
                None,
                condition.column,
                f"missing column (needed by the rows condition '{condition}')"
                + suggestion(condition.column, columns),
            )
            continue
        passed = condition_mask(check, frame, condition)
        left_out.append(LeftOut(f"rows: {condition}", int((~passed).sum())))
        keep &= passed
    for name, target in spec.targets.items():
        if isinstance(target, MembershipTarget) or not target.ignore:
            continue
        if target.column not in columns:
            continue  # reported with the other missing columns
        text = to_text(as_object_array(frame[target.column]))
        ignored = np.isin(text.astype(object), list(target.ignore))
        left_out.append(
            LeftOut(f"target '{name}' ignores {', '.join(target.ignore)}", int(ignored.sum()))
        )
        keep &= ~ignored
    return Selection(np.flatnonzero(keep), left_out)


def condition_mask(check: Checker, frame: pd.DataFrame, condition: RowCondition) -> np.ndarray:
    """True for each row meeting ``condition`` (missing values never meet a comparison)."""
    raw = as_object_array(frame[condition.column])
    missing = is_missing(raw, check.markers)
    op = condition.op
    if op == "missing":
        return missing
    if op == "not missing":
        return ~missing
    text = to_text(raw)
    if op in ("in", "not in"):
        inside = np.isin(text.astype(object), condition.values) & ~missing
        return inside if op == "in" else ~inside
    return _compared(check, condition, raw, text, missing)


def _compared(
    check: Checker,
    condition: RowCondition,
    raw: np.ndarray,
    text: np.ndarray,
    missing: np.ndarray,
) -> np.ndarray:
    """A comparison: numbers as numbers, ISO dates as dates, anything else as text."""
    compare = _COMPARE[condition.op]
    bound = condition.values[0]
    number = number_of(bound)
    values: np.ndarray
    limit: object
    if not np.isnan(number):
        values, limit, what = np.array([number_of(v) for v in raw]), number, "a number"
        unreadable = np.isnan(values) & ~missing
    elif not pd.isna(date := to_datetime_utc(np.array([bound], dtype=object))[0]):
        parsed = to_datetime_utc(raw)
        values, limit, what = np.array(list(parsed), dtype=object), date, "a date"
        unreadable = np.asarray(pd.isna(parsed)) & ~missing
    else:
        values, limit, what = text, bound, "text"
        unreadable = np.zeros(len(raw), dtype=bool)
    met = np.zeros(len(raw), dtype=bool)
    readable = ~missing & ~unreadable
    met[readable] = [bool(compare(v, limit)) for v in values[readable]]
    if unreadable.any():
        first = int(np.flatnonzero(unreadable)[0])
        check.warn(
            None,
            condition.column,
            f"{int(unreadable.sum())} rows are left out by '{condition}': their value is not "
            f"{what} (first on line {check.line(first)}: '{raw[first]}')",
        )
    return met
