"""A reason behind a score: which source field pushed it, in plain words, and how much.

One type for every layer: the models and the fallback rule make reasons (``training.reasons``
chooses which are shown), the service keeps them with each score and returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    """One source field's push on a score: plain words, its contribution (log-odds or the
    rule's points; positive raises the score) and its effect in percentage points."""

    field: str
    phrase: str
    contribution: float
    effect_pp: float | None = None
    missing: bool = False  # the phrase is about an answer not given yet

    @property
    def direction(self) -> str:
        value = self.contribution if self.effect_pp is None else self.effect_pp
        return "+" if value >= 0 else "-"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": self.field,
            "phrase": self.phrase,
            "direction": self.direction,
            "contribution": round(float(self.contribution), 6),
        }
        if self.effect_pp is not None:
            out["effect_pp"] = round(float(self.effect_pp), 2)
        return out
