"""Settling a spec's targets in a raw lead frame: the settled leads of each target and the
validated data set built from them.

The outcomes are read and the data validated once, for the union of the targets' settled
leads (a lower stage settles more leads), on a copy of only the columns the spec reads.
:func:`settle_shared` gives that one data set with each target's rows as positions in it,
and ``SharedSettled.of`` a target's data set of its own rows (the same data set, uncopied,
when they are all).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.checks import read_columns
from features.coerce import as_object_array, to_text
from features.dataset import LeadData, prepare_frame
from features.funnel import Stage
from features.spec import DatasetSpec, StatusTarget
from training.retraining.config import DEFAULT_MATURITY_DAYS
from training.retraining.labels import Settled, read_outcomes


def target_stage(spec: DatasetSpec, target: str) -> str | None:
    """The funnel stage whose reaching makes a lead positive (status targets only)."""
    definition = spec.targets[target]
    return definition.reach.value if isinstance(definition, StatusTarget) else None


def _check_spec(spec: DatasetSpec, targets: list[str]) -> str:
    if spec.time_column is None:
        raise ValueError(f"spec '{spec.name}' has no time column: retraining needs arrival times")
    unknown = [t for t in targets if t not in spec.targets]
    if unknown:
        known = ", ".join(spec.targets)
        raise ValueError(f"unknown target {', '.join(unknown)}; the spec defines: {known}")
    return spec.time_column


def subset_data(data: LeadData, rows: np.ndarray) -> LeadData:
    """The same data set restricted to ``rows`` (positions, in order); ``data`` itself,
    uncopied, when ``rows`` are all of its rows."""
    if len(rows) == len(data) and np.array_equal(rows, np.arange(len(data))):
        return data
    return replace(
        data,
        frame=data.frame.iloc[rows].reset_index(drop=True),
        ids=data.ids[rows],
        times=None if data.times is None else data.times[rows],
        channels=data.channels[rows],
        campaigns=None if data.campaigns is None else data.campaigns[rows],
        targets={name: values[rows] for name, values in data.targets.items()},
    )


@dataclass(frozen=True)
class SharedSettled:
    """The validated data set of every target's settled leads, and each target's settled
    leads with their positions in it (in order; empty when it has none)."""

    data: LeadData | None  # None: no target has a settled lead
    targets: dict[str, tuple[Settled, np.ndarray]]

    def of(self, target: str) -> tuple[Settled, LeadData | None]:
        """``target``'s settled leads and a data set of only its rows (a copy unless they
        are every row)."""
        settled, rows = self.targets[target]
        if self.data is None or not len(rows):
            return settled, None
        return settled, subset_data(self.data, rows)


def settle_shared(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    targets: list[str],
    as_of: pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    source: str = "<frame>",
) -> SharedSettled:
    """Settled leads of each target, validated once into one data set shared by all."""
    time_column = _check_spec(spec, targets)
    outcomes = read_outcomes(frame, as_of, maturity_days, time_column=time_column)
    settled = {t: outcomes.settled(target_stage(spec, t)) for t in targets}
    if not any(item.mask.any() for item in settled.values()):
        empty = np.zeros(0, dtype=np.intp)
        return SharedSettled(None, {t: (item, empty) for t, item in settled.items()})
    # the lowest stage settles every lead any of the targets counts; only the columns the
    # spec reads are copied (not the status history, the ground truth, dropped columns)
    everything = outcomes.settled(_lowest_stage(spec, targets))
    data = prepare_frame(
        spec,
        everything.frame_of(read_columns(spec)),
        source=f"{source} (settled)",
        columns_read=[str(c) for c in frame.columns],
    )
    kept = everything.rows
    ids = pd.Index(_ids(outcomes.frame[spec.id_column].iloc[kept]))
    position = kept[ids.get_indexer(data.ids)]
    rows = {t: np.flatnonzero(item.mask[position]) for t, item in settled.items()}
    return SharedSettled(data, {t: (item, rows[t]) for t, item in settled.items()})


def _ids(values: pd.Series) -> np.ndarray:
    return to_text(as_object_array(values))


def _lowest_stage(spec: DatasetSpec, targets: list[str]) -> str | None:
    """The earliest funnel stage among the targets' (None: no status target)."""
    stages = [stage for t in targets if (stage := target_stage(spec, t)) is not None]
    return min(stages, key=lambda s: Stage(s).rank) if stages else None


def settle(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    target: str,
    as_of: pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    source: str = "<frame>",
) -> tuple[Settled, LeadData | None]:
    """Settled leads for ``target`` and the validated data set built from them."""
    return settle_shared(spec, frame, [target], as_of, maturity_days, source).of(target)
