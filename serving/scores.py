"""A score as the service keeps it: one lead, one moment, one target.

The scorer makes them, the store keeps them, the metrics count them; this module is the
one place the shape is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from features.reason import Reason
from training.outlook import LeadOutlook

#: The chance behind "likely to convert within 7 days", and from how high it is said.
SOON = "sql_7d"
LIKELY_SOON = 0.5


@dataclass(frozen=True)
class ScoreOutlook:
    """A lead's outlook at one moment (``training.outlook.LeadOutlook``) and the outlook
    model that gave it."""

    outlook: LeadOutlook
    model_name: str
    model_version: str

    def as_json(self) -> dict[str, Any]:
        """As the store keeps it (``scores.outlook``, ``leads.outlook``)."""
        return {
            **self.outlook.as_dict(),
            "model_name": self.model_name,
            "model_version": self.model_version,
        }

    @property
    def likely_soon(self) -> bool:
        """P(SQL within 7 days) is at least ``LIKELY_SOON``: "likely to convert within 7 days"."""
        return self.outlook.within.get(SOON, 0.0) >= LIKELY_SOON

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> ScoreOutlook:
        return cls(
            LeadOutlook.from_dict(stored),
            str(stored.get("model_name", "")),
            str(stored.get("model_version", "")),
        )


@dataclass(frozen=True)
class Score:
    """A calibrated probability with its tier and reasons, and the model that gave it
    (the fallback rule says so in ``is_fallback`` / ``fallback_reason``); the queue
    target's score also carries the moment's outlook when one is in service."""

    known_at: str
    target: str
    probability: float
    tier: str
    reasons: list[Reason]
    model_name: str
    model_version: str
    is_fallback: bool = False
    fallback_reason: str | None = None
    outlook: ScoreOutlook | None = None


#: A change of less than this many percentage points is "steady": scores of one lead move
#: by a point or two between models and moments without meaning anything.
STEADY_POINTS = 2.0


@dataclass(frozen=True)
class Trend:
    """How a lead's score of one target moved since its previous score of that target."""

    direction: str  # improving | steady | declining
    change_points: float  # percentage points, signed
    previous: float


def trend(previous: float, current: float) -> Trend:
    change = round((current - previous) * 100, 1)
    if abs(change) < STEADY_POINTS:
        direction = "steady"
    else:
        direction = "improving" if change > 0 else "declining"
    return Trend(direction, change, previous)
