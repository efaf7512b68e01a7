"""First response against the SLA, per channel and per SDR: the part of the channel review
that says whether leads were answered in time, not only whether they converted.

It reads three columns of the lead store's rows (``serving/store/outcomes.py``):
``sla_deadline``, ``first_response_at`` (the first claim or move out of ``new``) and
``first_responder``. A CRM export has none of them: the tables are then empty and the
review leaves the section out. Pure: frames in, frames out.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

RESPONSE_COLUMNS = ("sla_deadline", "first_response_at", "first_responder")
#: The columns of both tables, after the one they are grouped by.
COLUMNS = [
    "leads",
    "answered",
    "in_time",
    "late",
    "waiting_overdue",
    "met_rate",
    "median_answer_minutes",
]
ALL = "(all leads)"


def has_responses(frame: pd.DataFrame) -> bool:
    """Whether the leads carry the SLA's columns (the lead store's do)."""
    return all(column in frame.columns for column in RESPONSE_COLUMNS)


def _times(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(frame[column], utc=True, format="ISO8601")


def _counts(group: pd.DataFrame) -> dict[str, float]:
    answered = group["answered_at"].notna()
    in_time = answered & (group["answered_at"] <= group["deadline"])
    overdue = ~answered & (group["deadline"] < group["now"])
    minutes = (group["answered_at"] - group["arrived"]).dt.total_seconds() / 60
    judged = int(answered.sum())
    return {
        "leads": len(group),
        "answered": judged,
        "in_time": int(in_time.sum()),
        "late": int((answered & ~in_time).sum()),
        "waiting_overdue": int(overdue.sum()),
        # a lead still waiting past its deadline has missed it too
        "met_rate": (
            float(in_time.sum() / (judged + overdue.sum())) if judged + overdue.sum() else np.nan
        ),
        "median_answer_minutes": float(minutes[answered].median()) if judged else np.nan,
    }


def response_table(
    frame: pd.DataFrame, channels: np.ndarray, now: datetime, by: str = "channel"
) -> pd.DataFrame:
    """One row per channel (``by="channel"``) or per SDR who answered first
    (``by="sdr"``), the all-leads row first for channels; empty without the columns."""
    if not has_responses(frame) or len(frame) == 0:
        return pd.DataFrame(columns=[by, *COLUMNS])
    parts = pd.DataFrame(
        {
            "channel": np.asarray(channels, dtype=object),
            "sdr": frame["first_responder"].astype(object).to_numpy(),
            "arrived": _times(frame, "arrived_at").reset_index(drop=True),
            "deadline": _times(frame, "sla_deadline").reset_index(drop=True),
            "answered_at": _times(frame, "first_response_at").reset_index(drop=True),
        }
    )
    parts["now"] = pd.Timestamp(now).tz_convert(UTC) if now.tzinfo else pd.Timestamp(now, tz=UTC)
    if by == "sdr":
        parts = parts[parts["answered_at"].notna()]
        rows = [{by: name, **_counts(group)} for name, group in parts.groupby("sdr", sort=True)]
    else:
        rows = [{by: ALL, **_counts(parts)}]
        rows += [{by: name, **_counts(group)} for name, group in parts.groupby(by, sort=True)]
    return pd.DataFrame(rows, columns=[by, *COLUMNS])
