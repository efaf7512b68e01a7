"""Choosing the reasons behind a score: which source fields pushed it, and how much.

The type is :class:`features.reason.Reason`, one for every scorer: a model's reasons carry
the field's log-odds contribution, the fallback rule's carry its points; both carry
``effect_pp``, the field's effect on this lead's probability in percentage points. Both read
the same on the API and in the store.

The effects of one lead add up to its probability minus the baseline (the probability of a
lead whose every field is at its average: the model's expected raw score through its
calibrator, or the rule at zero points). They are the contributions scaled by one factor
per lead, the secant slope ``(p - p0) / sum(contributions)`` (``scaled_effects``): a field
keeps its share of the push and its sign, and the points add up exactly. A reason is shown
only when ``|effect_pp|`` reaches a threshold (``DEFAULT_THRESHOLD_PP``, 1 pp).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from features.i18n import Phrasebook
from features.reason import Reason

#: A reason moving the probability by less than this many percentage points is not shown.
DEFAULT_THRESHOLD_PP = 1.0
#: Below this |sum of contributions| the secant is replaced by the local slope.
_FLAT = 1e-9


def scaled_effects(
    contributions: np.ndarray, change: np.ndarray, slope: np.ndarray | None = None
) -> np.ndarray:
    """Per-lead effects that add up to ``change`` (n,) from contributions (n, fields).

    Each row is scaled by ``change / row sum`` (the secant slope). Where the row sum is
    flat or of the other sign than the change (a linearised model), the row is scaled by
    ``slope`` (the local slope, default 0.25 per log-odds unit) and the remainder is
    spread over the fields in proportion to their size, so the sum is still exact.
    """
    contributions = np.asarray(contributions, dtype=float)
    change = np.asarray(change, dtype=float)
    total = contributions.sum(axis=1)
    secant = np.divide(change, total, out=np.zeros_like(change), where=np.abs(total) > _FLAT)
    local = np.full_like(change, 0.25) if slope is None else np.asarray(slope, dtype=float)
    usable = (np.abs(total) > _FLAT) & (secant >= 0)
    factor = np.where(usable, secant, local)
    effects = contributions * factor[:, None]
    remainder = change - effects.sum(axis=1)
    size = np.abs(effects)
    weight = size.sum(axis=1)
    spread = np.divide(size, weight[:, None], out=np.zeros_like(size), where=weight[:, None] > 0)
    return np.asarray(effects + remainder[:, None] * spread, dtype=float)


def merged(reasons: Iterable[Reason]) -> list[Reason]:
    """One reason per source field, in first-seen order: contributions and effects added,
    phrases joined with '; '."""
    groups: dict[str, list[Reason]] = {}
    for reason in reasons:
        groups.setdefault(reason.field, []).append(reason)
    out = []
    for field, group in groups.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        effects = [r.effect_pp for r in group]
        out.append(
            Reason(
                field,
                "; ".join(dict.fromkeys(r.phrase for r in group)),
                float(sum(r.contribution for r in group)),
                None if any(e is None for e in effects) else float(sum(e or 0.0 for e in effects)),
                all(r.missing for r in group),
            )
        )
    return out


def shown(
    reasons: Sequence[Reason], top_k: int, threshold_pp: float = DEFAULT_THRESHOLD_PP
) -> list[Reason]:
    """The ``top_k`` strongest raising and lowering reasons whose |effect| reaches the
    threshold (reasons without an effect are ranked by contribution and kept)."""

    def strength(reason: Reason) -> float:
        return reason.contribution if reason.effect_pp is None else reason.effect_pp

    def big_enough(reason: Reason) -> bool:
        return reason.effect_pp is None or abs(reason.effect_pp) >= threshold_pp

    kept = [r for r in reasons if big_enough(r) and abs(strength(r)) > 1e-9]
    positive = sorted((r for r in kept if strength(r) > 0), key=lambda r: -strength(r))
    negative = sorted((r for r in kept if strength(r) < 0), key=strength)
    return [*positive[:top_k], *negative[:top_k]]


@dataclass(frozen=True)
class Wording:
    """How reasons are said: the ``top_k`` of each sign whose effect reaches
    ``threshold_pp`` percentage points, in ``locale``, times of day in ``timezone``, money
    in ``currency`` (the installation's display currency, converted with the rates the
    model was trained with; None: the model's base currency)."""

    top_k: int = 3
    threshold_pp: float = DEFAULT_THRESHOLD_PP
    locale: str = "en"
    timezone: str = "UTC"
    currency: str | None = None

    def phrasebook(self) -> Phrasebook:
        return Phrasebook(self.locale, self.timezone, self.currency)

    def shown(self, reasons: Sequence[Reason]) -> list[Reason]:
        """The reasons this wording shows (:func:`shown`)."""
        return shown(reasons, self.top_k, self.threshold_pp)


def with_effect(reason: Reason, effect_pp: float) -> Reason:
    return replace(reason, effect_pp=float(effect_pp))
