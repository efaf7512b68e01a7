"""The out-of-time evaluation window: the most recent complete month(s) before ``as_of``
whose leads have settled.

The challenger is trained on settled leads that arrived before the window (never on it);
challenger and champion are scored on the same settled leads of the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from training.retraining.config import DEFAULT_EVAL_MONTHS, DEFAULT_MIN_SETTLED_SHARE
from training.retraining.labels import Settled, utc_timestamp


@dataclass(frozen=True)
class Window:
    """The out-of-time evaluation window: [start, end), whole months."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def label(self) -> str:
        last = self.end - pd.DateOffset(months=1)
        if last == self.start:
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m}..{last:%Y-%m}"

    def contains(self, times: pd.DatetimeIndex) -> np.ndarray:
        return np.asarray((times >= self.start) & (times < self.end))


def month_start(stamp: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(year=stamp.year, month=stamp.month, day=1, tz=UTC)


def evaluation_window(
    as_of: date | datetime | str | pd.Timestamp, months: int = DEFAULT_EVAL_MONTHS
) -> Window:
    """The ``months`` most recent complete calendar months before ``as_of`` (UTC)."""
    if months < 1:
        raise ValueError(f"the evaluation window needs at least 1 month, got {months}")
    end = month_start(utc_timestamp(as_of))
    return Window(start=end - pd.DateOffset(months=months), end=end)


@dataclass(frozen=True)
class WindowChoice:
    """The evaluation window chosen, how settled it is, and the more recent ones skipped."""

    window: Window
    leads: int  # arrived in the window
    settled: int  # of them, settled at as_of
    skipped: list[tuple[str, float]] = field(default_factory=list)  # (window, settled share)

    @property
    def share(self) -> float:
        return self.settled / self.leads if self.leads else float("nan")

    def summary(self) -> str:
        text = f"window {self.window.label}: {self.settled} of {self.leads} leads settled"
        if self.leads:
            text += f" ({100 * self.share:.0f}%)"
        if self.skipped:
            shown = ", ".join(
                f"{label} {'no leads' if np.isnan(share) else f'{100 * share:.0f}%'}"
                for label, share in self.skipped
            )
            text += f"; more recent months not settled enough: {shown}"
        return text


def _shifted(window: Window, months: int) -> Window:
    return Window(
        window.start - pd.DateOffset(months=months), window.end - pd.DateOffset(months=months)
    )


def choose_window(
    settled: Settled,
    months: int = DEFAULT_EVAL_MONTHS,
    min_settled_share: float = DEFAULT_MIN_SETTLED_SHARE,
) -> WindowChoice:
    """The most recent complete month(s) before ``as_of`` whose leads have settled.

    A month whose leads are still largely open would judge models on the quickly-closed
    leads only (mostly early losses), so windows are tried from the most recent back, one
    month at a time, until at least ``min_settled_share`` of the window's leads are
    settled. Past the maturity window every lead is settled, so the search is short. If no
    window qualifies, the most settled one is used (the gates then judge its positives).
    """
    if not 0 <= min_settled_share <= 1:
        raise ValueError(f"min_settled_share must be within 0..1, got {min_settled_share}")
    latest = evaluation_window(settled.as_of, months)
    earliest = settled.times.min()
    lags = int(np.ceil(settled.maturity_days / 28)) + 2
    skipped: list[tuple[str, float]] = []
    best: WindowChoice | None = None
    for lag in range(lags + 1):
        window = _shifted(latest, lag)
        if pd.isna(earliest) or window.end <= earliest:
            break
        inside = window.contains(settled.times)
        leads, done = int(inside.sum()), int((inside & settled.mask).sum())
        choice = WindowChoice(window, leads, done, list(skipped))
        if leads and done / leads >= min_settled_share:
            return choice
        if leads and (best is None or choice.share > best.share):
            best = choice
        skipped.append((window.label, done / leads if leads else float("nan")))
    return best or WindowChoice(latest, 0, 0, [])
