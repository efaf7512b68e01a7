"""A score as the service keeps it: one lead, one moment, one target.

The scorer makes them, the store keeps them, the metrics count them; this module is the
one place the shape is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from features.reason import Reason
from serving.settings import LIKELY_SOON
from training.outlook import LeadOutlook

#: The chance behind "likely to convert within 7 days" (said from ``LEADSCORE_LIKELY_SOON``).
SOON = "sql_7d"


@dataclass(frozen=True)
class ScoreOutlook:
    """A lead's outlook at one moment (``training.outlook.LeadOutlook``) and the outlook
    model that gave it."""

    outlook: LeadOutlook
    model_name: str
    model_version: str
    likely_soon: bool  # "likely to convert within 7 days", decided when scored

    @classmethod
    def judged(
        cls, outlook: LeadOutlook, model_name: str, model_version: str, likely_at: float
    ) -> ScoreOutlook:
        """``outlook`` flagged likely soon when P(SQL within 7 days) reaches ``likely_at``."""
        soon = outlook.within.get(SOON, 0.0) >= likely_at
        return cls(outlook, model_name, model_version, soon)

    def as_json(self) -> dict[str, Any]:
        """As the store keeps it (``scores.outlook``, ``leads.outlook``)."""
        return {
            **self.outlook.as_dict(),
            "model_name": self.model_name,
            "model_version": self.model_version,
            "likely_soon": self.likely_soon,
        }

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> ScoreOutlook:
        """As kept; an outlook stored before the flag was kept is judged at ``LIKELY_SOON``."""
        outlook = LeadOutlook.from_dict(stored)
        name, version = str(stored.get("model_name", "")), str(stored.get("model_version", ""))
        if "likely_soon" in stored:
            return cls(outlook, name, version, bool(stored["likely_soon"]))
        return cls.judged(outlook, name, version, LIKELY_SOON)


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
