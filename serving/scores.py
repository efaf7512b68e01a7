"""A score as the service keeps it: one lead, one moment, one target.

The scorer makes them, the store keeps them, the metrics count them; this module is the
one place the shape is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.reasons import Reason


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
