"""A score as the service keeps it: one lead, one moment, one target.

The scorer makes them, the store keeps them, the metrics count them; this module is the
one place the shape is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.reason import Reason


@dataclass(frozen=True)
class Score:
    """A calibrated probability with its tier and reasons, and the model that gave it
    (the fallback rule says so in ``is_fallback`` / ``fallback_reason``)."""

    known_at: str
    target: str
    probability: float
    tier: str
    reasons: list[Reason]
    model_name: str
    model_version: str
    is_fallback: bool = False
    fallback_reason: str | None = None


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
