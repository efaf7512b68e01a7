"""A reason behind a score: which source field pushed it, in plain words, and how much.

One type for every scorer: a model's reasons carry the field's log-odds contribution,
the fallback rule's carry its points. Both read the same on the API and in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    """One source field's push on a score: plain words and its contribution (log-odds or
    the rule's points; positive raises the score)."""

    field: str
    phrase: str
    contribution: float

    @property
    def direction(self) -> str:
        return "+" if self.contribution >= 0 else "-"

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "phrase": self.phrase,
            "direction": self.direction,
            "contribution": round(float(self.contribution), 6),
        }
