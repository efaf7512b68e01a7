"""Settled-outcome labels: which leads count at the moment of retraining, and as what.

A lead counts once its outcome is settled by ``as_of``: it reached a closing status (won,
lost, disqualified, partner, other department) by then, or it reached the target's own
stage (an SQL stays an SQL), or it is still open after the maturity window (default 90
days), which counts as not converted beyond the stage it had reached. Younger open leads
are left out, and so are leads that arrived after ``as_of``; with a status history the
outcome is taken *as it stood at* ``as_of`` (a lead closed later is still open then), so
no label comes from the future. :func:`read_outcomes` reads every lead's state once;
:meth:`Outcomes.settled` picks the leads of one target; :func:`label_settled` does both.
The functions are pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import as_object_array, to_datetime_utc, to_text
from features.funnel import TERMINAL_STATUSES, Stage, Status, highest_stage
from features.lead import BANT_COLUMNS, QUESTION_PREFIX
from training.retraining.config import DEFAULT_MATURITY_DAYS

#: Statuses that settle a lead (the funnel's terminal statuses).
CLOSED_STATUSES: tuple[str, ...] = tuple(sorted(s.value for s in TERMINAL_STATUSES))


# --------------------------------------------------------------------------- time


def utc_timestamp(value: date | datetime | str | pd.Timestamp) -> pd.Timestamp:
    """A timezone-aware UTC timestamp (a date means its midnight, UTC)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def _utc_column(series: pd.Series) -> pd.DatetimeIndex:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(series).tz_convert(UTC)
    if pd.api.types.is_datetime64_dtype(dtype):
        return pd.DatetimeIndex(series).tz_localize(UTC)
    return to_datetime_utc(as_object_array(series))


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class OutcomeColumns:
    """Columns of a lead frame that say how each lead ended (the demo spec's names)."""

    status: str = "status"
    stage: str = "stage_reached"
    closed_at: str = "closed_at"
    history: str = "status_history"


@dataclass(frozen=True)
class Settled:
    """Which leads count at ``as_of``, with their outcome columns as they stood then.

    Nothing is copied until asked for: ``source`` is the input frame itself (shared by
    every target), ``mask`` and ``open_at`` pick its rows, and :meth:`frame_of` builds
    the settled rows of just the columns a caller reads.
    """

    source: pd.DataFrame  # every input row (index 0..n-1), shared, never changed
    times: pd.DatetimeIndex  # arrival time of every input row
    mask: np.ndarray  # input rows that count (aligned with ``times``)
    open_at: np.ndarray  # input rows still open at as_of, whatever their age
    snapshots: Mapping[int, _Snapshot]  # as-of status and stage of the open rows
    columns: OutcomeColumns
    present: Mapping[str, bool]  # which outcome columns ``source`` has
    as_of: pd.Timestamp
    maturity_days: int
    reach: str | None  # the target's stage: reaching it settles a lead as positive
    closed: int  # settled by a closing status
    reached: int  # open, but already reached the target's stage
    matured: int  # open past the maturity window
    too_young: int  # open, younger than the window: left out
    future: int  # arrived after as_of (or without a time): left out
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> np.ndarray:
        """Positions in ``source`` of the leads that count, in order."""
        return np.flatnonzero(self.mask)

    def frame_of(self, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """The leads that count (index 0..k-1), outcome columns as of ``as_of``; only
        ``columns`` of ``source`` (in its order) when given, else every column."""
        out = _columns_of(self.source, columns).loc[self.mask]
        _apply_snapshots(out, self.snapshots, self.columns, self.present)
        return out.reset_index(drop=True)

    @property
    def frame(self) -> pd.DataFrame:
        """Every column of the leads that count (a copy: prefer :meth:`frame_of`)."""
        return self.frame_of()

    def open_frame_of(self, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """The leads open at ``as_of`` as they are now (index 0..k-1), only ``columns``
        when given."""
        return _columns_of(self.source, columns).loc[self.open_at].reset_index(drop=True)

    @property
    def open_frame(self) -> pd.DataFrame:
        return self.open_frame_of()

    def summary(self) -> str:
        reached = f", {self.reached} open past {self.reach}" if self.reach else ""
        return (
            f"{int(self.mask.sum())} settled leads as of {self.as_of:%Y-%m-%d %H:%M} UTC "
            f"({self.closed} closed{reached}, {self.matured} open for more than "
            f"{self.maturity_days} days); left out: {self.too_young} younger open leads, "
            f"{self.future} arriving later"
        )


def _columns_of(frame: pd.DataFrame, columns: Iterable[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    wanted = set(columns)
    return frame[[c for c in frame.columns if c in wanted]]


@dataclass(frozen=True)
class _Snapshot:
    status: str
    stage: str
    closed_at: pd.Timestamp | None


def _history_changes(raw: Any) -> list[tuple[str, pd.Timestamp]]:
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return []
    changes = json.loads(raw) if isinstance(raw, str) else raw
    return [(str(change["status"]), utc_timestamp(change["at"])) for change in changes]


def snapshot_of(raw_history: Any, as_of: pd.Timestamp, closed: Iterable[str]) -> _Snapshot:
    """Status, stage reached and closing time as they stood at ``as_of``.

    ``raw_history`` is a JSON list (or a list) of ``{"status", "at"}``. Nothing recorded by
    ``as_of`` means the lead was new then.
    """
    changes = [(status, at) for status, at in _history_changes(raw_history) if at <= as_of]
    if not changes:
        return _Snapshot(status=Status.NEW.value, stage=Stage.LEAD.value, closed_at=None)
    statuses = [status for status, _at in changes]
    try:
        stage = highest_stage([Status(s) for s in statuses]).value
    except ValueError:  # statuses outside leadscore's funnel: no stage to compute
        stage = Stage.LEAD.value
    status, at = changes[-1]
    return _Snapshot(status=status, stage=stage, closed_at=at if status in closed else None)


def _stage_rank(stage: str | None) -> int:
    try:
        return Stage(stage).rank if stage is not None else -1
    except ValueError:
        return -1


@dataclass(frozen=True)
class Outcomes:
    """Every lead's state at ``as_of``, from which the settled leads of any target follow.

    Built once by :func:`read_outcomes`; :meth:`settled` then picks the leads that count
    for a target's stage cheaply, so several targets share the (costly) reading.
    """

    frame: pd.DataFrame  # the input rows (index 0..n-1)
    times: pd.DatetimeIndex
    as_of: pd.Timestamp
    maturity_days: int
    future: np.ndarray
    closed_by: np.ndarray
    open_at: np.ndarray
    mature: np.ndarray  # open at as_of, past the maturity window
    stage_rank: np.ndarray  # rank of the stage reached by as_of (open leads; -1 unknown)
    snapshots: dict[int, _Snapshot]
    columns: OutcomeColumns
    present: dict[str, bool]
    notes: list[str]

    def mask(self, reach: Stage | str | None = None) -> np.ndarray:
        """Input rows that count for a target reached at stage ``reach``."""
        mask = self.closed_by | self.mature
        if reach is not None:
            mask = mask | (self.open_at & (self.stage_rank >= Stage(reach).rank))
        return mask

    def settled(self, reach: Stage | str | None = None) -> Settled:
        """The leads that count for a target reached at stage ``reach`` (no copy)."""
        mask = self.mask(reach)
        reached = mask & self.open_at & ~self.mature
        return Settled(
            source=self.frame,
            times=self.times,
            mask=mask,
            open_at=self.open_at,
            snapshots=self.snapshots,
            columns=self.columns,
            present=self.present,
            as_of=self.as_of,
            maturity_days=self.maturity_days,
            reach=Stage(reach).value if reach is not None else None,
            closed=int(self.closed_by.sum()),
            reached=int(reached.sum()),
            matured=int(self.mature.sum()),
            too_young=int((self.open_at & ~mask).sum()),
            future=int(self.future.sum()),
            notes=list(self.notes),
        )


@dataclass(frozen=True)
class _Reading:
    """What reading a frame's outcomes at ``as_of`` works from."""

    frame: pd.DataFrame  # index 0..n-1
    as_of: pd.Timestamp
    columns: OutcomeColumns
    has: Mapping[str, bool]  # which outcome columns the frame has
    closed: frozenset[str]  # the statuses that settle a lead
    closed_now: np.ndarray  # rows whose current status is a closing one
    notes: list[str]

    def texts(self, column: str) -> np.ndarray:
        return _texts(self.frame, column, self.has)


def _texts(frame: pd.DataFrame, column: str, has: Mapping[str, bool]) -> np.ndarray:
    """The column as text (all None when the frame lacks it)."""
    if not has[column]:
        return np.full(len(frame), None)
    return to_text(as_object_array(frame[column]))


def _reading(
    frame: pd.DataFrame, as_of: pd.Timestamp, columns: OutcomeColumns, closed: frozenset[str]
) -> _Reading:
    has = {name: name in frame.columns for name in asdict(columns).values()}
    status = _texts(frame, columns.status, has)
    closed_now = np.fromiter((s in closed for s in status), dtype=bool, count=len(frame))
    notes = []
    if not has[columns.status]:
        notes.append(f"no '{columns.status}' column: only the maturity window settles leads")
    return _Reading(frame, as_of, columns, has, closed, closed_now, notes)


def read_outcomes(
    frame: pd.DataFrame,
    as_of: date | datetime | str | pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    *,
    time_column: str = "arrived_at",
    columns: OutcomeColumns = OutcomeColumns(),
    closed_statuses: Iterable[str] = CLOSED_STATUSES,
) -> Outcomes:
    """Each lead's state at ``as_of``: closed by then, open (and its stage then), or later."""
    if maturity_days < 0:
        raise ValueError(f"maturity_days must be 0 or more, got {maturity_days}")
    if time_column not in frame.columns:
        raise ValueError(f"the lead frame has no time column '{time_column}'")
    frame = frame.reset_index(drop=True)
    reading = _reading(frame, utc_timestamp(as_of), columns, frozenset(closed_statuses))
    arrived = _utc_column(frame[time_column])
    future = np.asarray(arrived.isna() | (arrived > reading.as_of))
    closed_by = _closed_by(reading) & ~future
    open_at = ~future & ~closed_by
    snaps = _open_snapshots(reading, open_at)
    known = np.zeros(len(frame), dtype=bool)
    known[list(snaps)] = True
    stage_rank = np.full(len(frame), -1, dtype=int)
    for i, snap in snaps.items():
        stage_rank[i] = _stage_rank(snap.stage)
    old = np.asarray(arrived <= reading.as_of - pd.Timedelta(days=maturity_days))
    return Outcomes(
        frame=frame,
        times=arrived,
        as_of=reading.as_of,
        maturity_days=maturity_days,
        future=future,
        closed_by=closed_by,
        open_at=open_at,
        mature=open_at & old & known,
        stage_rank=stage_rank,
        snapshots=snaps,
        columns=columns,
        present=dict(reading.has),
        notes=reading.notes,
    )


def label_settled(
    frame: pd.DataFrame,
    as_of: date | datetime | str | pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    *,
    reach: Stage | str | None = None,
    time_column: str = "arrived_at",
    columns: OutcomeColumns = OutcomeColumns(),
    closed_statuses: Iterable[str] = CLOSED_STATUSES,
) -> Settled:
    """The leads whose outcome is settled at ``as_of`` (see the module docstring).

    ``frame`` holds one row per lead: the time column and, as far as available, the
    current status, the stage reached, the closing time and the status history (a JSON
    list of ``{"status", "at"}``). A lead counts when, at ``as_of``, it is closed, or it
    has reached ``reach`` (the target's stage: an SQL stays an SQL whatever happens
    next), or it arrived at or before ``as_of - maturity_days``. A lead closed at exactly
    ``as_of`` counts. Counted leads carry their status and stage as they stood at ``as_of``.
    """
    outcomes = read_outcomes(
        frame,
        as_of,
        maturity_days,
        time_column=time_column,
        columns=columns,
        closed_statuses=closed_statuses,
    )
    return outcomes.settled(reach)


def _closed_by(reading: _Reading) -> np.ndarray:
    """Leads closed at or before ``as_of``."""
    frame, columns, has = reading.frame, reading.columns, reading.has
    if has[columns.closed_at]:
        return reading.closed_now & np.asarray(
            _utc_column(frame[columns.closed_at]) <= reading.as_of
        )
    if has[columns.history]:
        out = reading.closed_now.copy()
        for i in np.flatnonzero(out):
            snap = snapshot_of(frame.at[i, columns.history], reading.as_of, reading.closed)
            out[i] = snap.closed_at is not None
        return out
    reading.notes.append(
        f"no '{columns.closed_at}' or '{columns.history}' column: closed leads are taken as "
        "closed before as_of"
    )
    return reading.closed_now.copy()


def _open_snapshots(reading: _Reading, open_at: np.ndarray) -> dict[int, _Snapshot]:
    """Status and stage at ``as_of`` of the leads open then (when they can be known)."""
    rows = np.flatnonzero(open_at)
    columns, closed_now = reading.columns, reading.closed_now
    if reading.has[columns.history]:
        histories = reading.frame[columns.history].to_numpy(dtype=object)
        return {int(i): snapshot_of(histories[i], reading.as_of, reading.closed) for i in rows}
    # without a history: a lead open now is as it is now; one closed since is unknown
    unknown = rows[closed_now[rows]]
    if len(unknown):
        reading.notes.append(
            f"{len(unknown)} leads closed after as_of are left out: without a "
            f"'{columns.history}' column their outcome at as_of is unknown"
        )
    stages, status = reading.texts(columns.stage), reading.texts(columns.status)
    return {
        int(i): _Snapshot(
            status=status[i] or Status.NEW.value, stage=stages[i] or "", closed_at=None
        )
        for i in rows
        if not closed_now[i]
    }


def _apply_snapshots(
    out: pd.DataFrame,
    snaps: Mapping[int, _Snapshot],
    columns: OutcomeColumns,
    has: Mapping[str, bool],
) -> None:
    """Write the as-of status and stage into the kept rows that were open at ``as_of``
    (``out`` is indexed by input row; only the outcome columns it has are written)."""
    if not snaps:
        return
    hit = out.index.isin(np.fromiter(snaps, dtype=np.int64, count=len(snaps)))
    if not hit.any():
        return
    rows = out.index[hit]
    values = {
        columns.status: [snaps[i].status for i in rows],
        columns.stage: [snaps[i].stage for i in rows],
    }
    for column, written in values.items():
        if has[column] and column in out.columns:
            out[column] = out[column].astype(object)
            out.loc[rows, column] = written
    if has[columns.closed_at] and columns.closed_at in out.columns:
        out.loc[rows, columns.closed_at] = pd.NaT


def qualified_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows with at least one qualification answer (BANT or questionnaire)."""
    answers = [c for c in frame.columns if c in BANT_COLUMNS or str(c).startswith(QUESTION_PREFIX)]
    if not answers:
        return np.zeros(len(frame), dtype=bool)
    return np.asarray(frame[answers].notna().any(axis=1))
