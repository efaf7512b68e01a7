"""The retrain's feedback-loop check: how the live queue's arrival scores did on the leads
SDRs worked, and, weighted by the inverse of each lead's chance of being worked, on every
lead (the ones they skipped too).

The lead store logs each arrival's exploration draw (``explored``, ``propensity``) and the
score the queue showed (``arrival_score_<target>``); a CRM export has none of them, and
then there is nothing to check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.coerce import as_object_array, to_text
from features.dataset import LeadData
from training.feedback import (
    EXPLORED_COLUMN,
    PROPENSITY_COLUMN,
    WORKED_COLUMN,
    LiveFeedback,
    live_feedback,
    live_score_column,
)


def live_check(
    frame: pd.DataFrame,
    id_column: str | None,
    data: LeadData,
    target: str,
    rows: np.ndarray | None = None,
) -> LiveFeedback | None:
    """The check of ``target``'s live arrival score on the settled leads of ``data`` (rows of
    ``frame`` by id) that have a logged draw; None when no lead has one. ``rows``
    (positions, in order) checks only those leads of ``data``."""
    score_column = live_score_column(target)
    needed = (score_column, EXPLORED_COLUMN, PROPENSITY_COLUMN, WORKED_COLUMN)
    if id_column is None or data.times is None:
        return None
    if any(column not in frame.columns for column in needed):
        return None
    kept = np.arange(len(data)) if rows is None else np.asarray(rows)
    index = pd.Index(to_text(as_object_array(frame[id_column])))
    at = index.get_indexer(data.ids[kept])
    found = at >= 0
    raw = frame.iloc[at[found]]
    score = pd.to_numeric(raw[score_column], errors="coerce").to_numpy(dtype=float)
    share = pd.to_numeric(raw[PROPENSITY_COLUMN], errors="coerce").to_numpy(dtype=float)
    logged = ~np.isnan(score) & ~np.isnan(share)
    if not logged.any():
        return None
    months = pd.DatetimeIndex(data.times[kept][found]).strftime("%Y-%m").to_numpy()
    return live_feedback(
        y=np.asarray(data.targets[target])[kept][found][logged],
        score=score[logged],
        is_worked=raw[WORKED_COLUMN].notna().to_numpy()[logged],
        is_explored=raw[EXPLORED_COLUMN].fillna(False).astype(bool).to_numpy()[logged],
        share=share[logged],
        period=months[logged],
    )
