"""Tiers: the probability cut-offs that turn a calibrated score into a letter A-D.

One type for the service (a lead's tier in the queue) and for retraining (how many open
leads would change tier under a challenger); the service reads the cut-offs from its
settings (``LEADSCORE_TIER_A/B/C``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tiers:
    """Probability cut-offs: A from ``a``, B from ``b``, C from ``c``, else D."""

    a: float = 0.5
    b: float = 0.25
    c: float = 0.1

    def of(self, probability: float) -> str:
        """The tier of one probability."""
        if probability >= self.a:
            return "A"
        if probability >= self.b:
            return "B"
        if probability >= self.c:
            return "C"
        return "D"

    def of_many(self, probabilities: np.ndarray) -> np.ndarray:
        """The tiers of many probabilities at once (an array of letters)."""
        p = np.asarray(probabilities, dtype=float)
        return np.select([p >= self.a, p >= self.b, p >= self.c], ["A", "B", "C"], default="D")
