"""How a data set is split for honest validation: the out-of-time split (a test period
after the training rows), the ordered split (the last rows of a file in time or row order),
backtests (consecutive test windows, rolling or expanding), stratified k-fold when the data
has no order, and the inner split of training rows into fit and validation slices (early
stopping and calibration). Pure: row positions in, row positions out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from features.dataset import LeadData
from features.spec import BacktestSplit, KFoldSplit, OrderedSplit, TimeSplit
from training.options import TrainOptions

#: Above this many rows one member (a single validation slice) is plenty and 5x cheaper.
MAX_ROWS_FOR_MEMBERS = 100_000


@dataclass(frozen=True)
class Fold:
    train: np.ndarray  # row positions
    test: np.ndarray


#: Split kinds whose rows are in order (time or row order): validation takes the latest rows.
ORDERED_KINDS = frozenset({"time", "ordered", "rolling", "expanding"})
#: Split kinds whose folds are consecutive test windows, each reported on its own.
BACKTEST_KINDS = frozenset({"rolling", "expanding"})


@dataclass(frozen=True)
class SplitPlan:
    kind: str  # "time" | "stratified_kfold" | "ordered" | "rolling" | "expanding"
    folds: list[Fold]
    description: str
    test_start: datetime | None = None
    test_end: datetime | None = None

    @classmethod
    def holdout(
        cls,
        kind: str,
        train: np.ndarray,
        test: np.ndarray,
        description: str,
        *,
        test_start: datetime | None = None,
        test_end: datetime | None = None,
    ) -> SplitPlan:
        """A plan of one fold: the ``train`` rows, then the ``test`` rows."""
        return cls(kind, [Fold(train, test)], description, test_start, test_end)

    @property
    def ordered(self) -> bool:
        """Rows in order: early stopping and calibration use the latest training rows."""
        return self.kind in ORDERED_KINDS

    @property
    def windows(self) -> bool:
        """A backtest: every fold is a test window of its own."""
        return self.kind in BACKTEST_KINDS


class TrainingError(ValueError):
    """Data that cannot give an honest model (e.g. an empty test period, one class)."""


def _month_start(ts: pd.Timestamp, months_back: int) -> pd.Timestamp:
    first = pd.Timestamp(year=ts.year, month=ts.month, day=1, tz=UTC)
    return first - pd.DateOffset(months=months_back)


def plan_split(
    data: LeadData, target: str, options: TrainOptions, rows: np.ndarray | None = None
) -> SplitPlan:
    """The split of ``data``'s rows, or of only ``rows`` (positions, in order) as if the
    data held only them: the plan's folds are then positions in ``data``. Row positions
    need a time split (``options.test_start`` or the spec's)."""
    spec_split = data.spec.split
    if isinstance(spec_split, TimeSplit) or options.test_start is not None:
        return _time_plan(data, target, options, rows)
    if rows is not None:
        raise ValueError("splitting row positions of a data set needs a time split")
    if isinstance(spec_split, OrderedSplit):
        return _ordered_plan(data, target, spec_split)
    if isinstance(spec_split, BacktestSplit):
        return backtest_plan(len(data), data.targets[target], spec_split)
    assert isinstance(spec_split, KFoldSplit)
    y = data.targets[target]
    folds = StratifiedKFold(n_splits=spec_split.folds, shuffle=True, random_state=spec_split.seed)
    return SplitPlan(
        kind="stratified_kfold",
        folds=[Fold(tr, te) for tr, te in folds.split(np.zeros(len(y)), y)],
        description=(
            f"stratified {spec_split.folds}-fold cross-validation (the data has no time "
            "column, so no out-of-time test is possible; metrics are pooled out-of-fold)"
        ),
    )


def _time_plan(
    data: LeadData, target: str, options: TrainOptions, rows: np.ndarray | None
) -> SplitPlan:
    """The out-of-time split: train before the test start, test from it (to its end)."""
    spec_split = data.spec.split
    if data.times is None:
        raise TrainingError(f"data set '{data.spec.name}' has no time column for a time split")
    times = data.times if rows is None else data.times[rows]
    start = options.test_start or (
        spec_split.test_start if isinstance(spec_split, TimeSplit) else None
    )
    end = options.test_end or (spec_split.test_end if isinstance(spec_split, TimeSplit) else None)
    months = spec_split.test_months if isinstance(spec_split, TimeSplit) else 3
    start_ts = pd.Timestamp(start, tz=UTC) if start else _month_start(times.max(), months - 1)
    end_ts = pd.Timestamp(end, tz=UTC) if end else None
    in_train = np.asarray(times < start_ts)
    in_test = np.asarray(times >= start_ts)
    if end_ts is not None:
        in_test &= np.asarray(times < end_ts)
    train, test = np.flatnonzero(in_train), np.flatnonzero(in_test)
    if rows is not None:
        train, test = rows[train], rows[test]
    y = data.targets[target]
    periods = [("training period", train), ("test period", test)]
    _both_classes(
        y, periods, of="of the time split", remedy="choose another --test-start or add data"
    )
    end_text = end_ts.date().isoformat() if end_ts is not None else "the end of the data"
    description = (
        f"out-of-time: train on leads before {start_ts.date()}, "
        f"test on {start_ts.date()} .. {end_text}"
    )
    return SplitPlan.holdout(
        "time",
        train,
        test,
        description,
        test_start=start_ts.to_pydatetime(),
        test_end=None if end_ts is None else end_ts.to_pydatetime(),
    )


def _order_words(data: LeadData, by: str | None) -> str:
    if data.times is not None:
        return "time order"
    return f"the order of '{by}'" if by else "file order"


def _ordered_plan(data: LeadData, target: str, split: OrderedSplit) -> SplitPlan:
    """The first rows train, the last ``test_share`` test (rows are in order already)."""
    n = len(data)
    cut = n - max(1, round(n * split.test_share))
    train, test = np.arange(cut), np.arange(cut, n)
    _both_classes(data.targets[target], [("training rows", train), ("test rows", test)])
    order = _order_words(data, split.by)
    description = (
        f"ordered: train on the first {cut} rows in {order}, test on the last "
        f"{n - cut} ({split.test_share:.0%})"
    )
    return SplitPlan.holdout("ordered", train, test, description)


def backtest_plan(n: int, y: np.ndarray, split: BacktestSplit) -> SplitPlan:
    """``windows`` consecutive test windows at the end of the rows; each trains on the rows
    before it (``expanding``) or on the ``train_share`` of rows just before it (``rolling``)."""
    size = max(1, round(n * split.test_share))
    first = n - split.windows * size
    span = None if split.train_share is None else max(1, round(n * split.train_share))
    folds = []
    for number in range(split.windows):
        start = first + number * size
        stop = n if number == split.windows - 1 else start + size
        begin = 0 if span is None else max(0, start - span)
        folds.append(Fold(np.arange(begin, start), np.arange(start, stop)))
    windows = [(f"window {i} training rows", f.train) for i, f in enumerate(folds, 1)]
    windows += [(f"window {i} test rows", f.test) for i, f in enumerate(folds, 1)]
    _both_classes(y, windows)
    trained = "every earlier row" if span is None else f"the {span} rows before it"
    return SplitPlan(
        kind=split.kind,
        folds=folds,
        description=(
            f"{split.kind} backtest: {split.windows} consecutive test windows of {size} rows "
            f"over the last {n - first} rows, each trained on {trained}; metrics per window "
            "and their mean"
        ),
    )


def _both_classes(
    y: np.ndarray,
    parts: list[tuple[str, np.ndarray]],
    of: str = "of the split",
    remedy: str = "change the split's shares or add data",
) -> None:
    """A TrainingError naming the part that lacks a class, and what to do about it."""
    for name, rows in parts:
        positives = int(y[rows].sum()) if len(rows) else 0
        if len(rows) == 0 or positives in (0, len(rows)):
            raise TrainingError(
                f"the {name} {of} has {len(rows)} leads and {positives} positives: both "
                f"classes are needed; {remedy}"
            )


def inner_splits(
    rows: np.ndarray, y: np.ndarray, by_time: bool, options: TrainOptions
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Training rows -> [(fit, valid)], one pair per cross-fitted member.

    By time: one member, validated on the most recent slice (it is most like the leads
    the model will score). Otherwise ``members`` stratified folds, or one random slice.
    """
    if by_time:
        cut = round(len(rows) * (1 - options.valid_share))
        return [(rows[:cut], rows[cut:])]
    members = options.members if len(rows) <= MAX_ROWS_FOR_MEMBERS else 1
    if members > 1:
        folds = StratifiedKFold(n_splits=members, shuffle=True, random_state=options.seed)
        return [(rows[a], rows[b]) for a, b in folds.split(rows, y[rows])]
    fit, valid = train_test_split(
        rows, test_size=options.valid_share, stratify=y[rows], random_state=options.seed
    )
    return [(np.sort(fit), np.sort(valid))]
