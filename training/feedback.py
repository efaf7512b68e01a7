"""The feedback loop, made honest: exploration, propensities and inverse-propensity AUC.

Only leads the SDRs work get labels, and they work the top of the queue, so a model measured
(or retrained) on worked leads sees a biased sample. The exploration policy moves a random
``share`` (default 5%) of arriving leads to the front of the queue whatever their score; the
queue then works ``capacity`` leads a period. A lead's propensity of being worked is then
known exactly: ``share + (1 - share) x [it would be worked unexplored]``, never below
``share``. Weighting each worked lead by ``1 / propensity`` makes the worked leads stand for
all leads (inverse-propensity weighting, IPW), so the AUC on every lead, skipped ones too,
can be estimated from the worked ones. ``simulate`` replays months of a queue on leads whose
true outcome is known and reports the naive, the IPW and the true AUC.

All functions are pure; the random draws come in as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

DEFAULT_EXPLORATION_SHARE = 0.05
#: How far the naive AUC (worked leads only) may sit from the IPW one before the retraining
#: report warns that the labels are biased by the queue.
BIAS_TOLERANCE = 0.02


def explored(draws: np.ndarray, share: float = DEFAULT_EXPLORATION_SHARE) -> np.ndarray:
    """Which leads get the boost: ``draws`` are uniform on [0, 1), one per arriving lead."""
    if not 0 <= share <= 1:
        raise ValueError(f"exploration share must be in [0, 1], got {share}")
    return np.asarray(draws) < share


def priority(score: np.ndarray, boosted: np.ndarray, order_draws: np.ndarray) -> np.ndarray:
    """Queue priority: boosted leads first (in a random order among themselves, from
    ``order_draws``), then everyone else by score (scores are probabilities in [0, 1])."""
    return np.where(boosted, 2.0 + np.asarray(order_draws), np.asarray(score, dtype=float))


def worked(queue_priority: np.ndarray, capacity: int) -> np.ndarray:
    """The leads the team works: the ``capacity`` highest priorities (ties by position)."""
    n = len(queue_priority)
    top = np.lexsort((np.arange(n), -queue_priority))[: max(0, min(capacity, n))]
    out = np.zeros(n, dtype=bool)
    out[top] = True
    return out


def propensity(would_be_worked: np.ndarray, share: float = DEFAULT_EXPLORATION_SHARE) -> np.ndarray:
    """P(worked) per lead: explored (``share``) or worked on its own score."""
    return share + (1.0 - share) * np.asarray(would_be_worked, dtype=float)


def would_be_worked(score: np.ndarray, boosted: np.ndarray, capacity: int) -> np.ndarray:
    """Whether each lead would be worked *unexplored*, the other leads' draws as they are.

    The boosted leads take the first slots; an unexplored lead is worked when fewer than the
    remaining slots' worth of unexplored leads outrank it. For a boosted lead the count is
    taken as if it were unexplored (one slot more, itself among the ranked)."""
    score = np.asarray(score, dtype=float)
    n = len(score)
    boosted = np.asarray(boosted, dtype=bool)
    ranked = np.lexsort((np.arange(n), -score))
    position = np.empty(n, dtype=np.int64)
    position[ranked] = np.arange(n)
    plain_before = np.cumsum(~boosted[ranked]) - (~boosted[ranked])  # unexplored ahead of each
    ahead = np.empty(n, dtype=np.int64)
    ahead[ranked] = plain_before
    slots = capacity - int(boosted.sum()) + boosted.astype(np.int64)
    return ahead < slots


@dataclass(frozen=True)
class AucEstimates:
    true: float  # on every lead, from the true outcomes
    naive: float  # on worked leads only, unweighted
    ipw: float | None  # on worked leads, weighted 1 / propensity (None: a propensity is 0)
    worked_share: float


def ipw_auc(y: np.ndarray, score: np.ndarray, weight_propensity: np.ndarray) -> float:
    """ROC-AUC of ``score`` on the observed leads, each weighted ``1 / propensity``."""
    p = np.asarray(weight_propensity, dtype=float)
    if np.any(p <= 0) or np.any(p > 1):
        raise ValueError("propensities must be in (0, 1]")
    return float(roc_auc_score(np.asarray(y), np.asarray(score), sample_weight=1.0 / p))


def estimate_auc(
    y: np.ndarray, score: np.ndarray, is_worked: np.ndarray, p_worked: np.ndarray
) -> AucEstimates:
    """The true AUC on all leads, the naive one on worked leads, the IPW one on worked leads
    (None when some lead could never be worked: then the worked ones cannot stand for it)."""
    w = np.asarray(is_worked, dtype=bool)
    ipw = ipw_auc(y[w], score[w], p_worked[w]) if np.all(p_worked > 0) else None
    return AucEstimates(
        true=float(roc_auc_score(y, score)),
        naive=float(roc_auc_score(y[w], score[w])),
        ipw=ipw,
        worked_share=float(w.mean()),
    )


def bias_warning(estimates: AucEstimates, tolerance: float = BIAS_TOLERANCE) -> str | None:
    """The retraining report's warning when the worked leads misrepresent all leads."""
    if estimates.ipw is None:
        return (
            "no exploration: the skipped leads' AUC cannot be estimated, and the training "
            "labels come from the top of the queue only"
        )
    gap = estimates.naive - estimates.ipw
    if abs(gap) > tolerance:
        return (
            f"training labels are biased by the queue: the AUC on worked leads is "
            f"{estimates.naive:.3f}, on all leads (inverse-propensity weighted) {estimates.ipw:.3f}"
        )
    return None


def simulate(
    score: np.ndarray,
    y: np.ndarray,
    period: np.ndarray,
    *,
    capacity_share: float,
    share: float,
    rng: np.random.Generator,
) -> AucEstimates:
    """Months of a queue: each ``period`` the team works the top ``capacity_share`` of its
    leads, ``share`` of them explored; the AUC estimates from the labels it would get."""
    n = len(score)
    is_worked = np.zeros(n, dtype=bool)
    p_worked = np.zeros(n)
    for value in np.unique(period):
        rows = np.flatnonzero(period == value)
        capacity = round(len(rows) * capacity_share)
        boosted = explored(rng.random(len(rows)), share)
        queue = priority(score[rows], boosted, rng.random(len(rows)))
        is_worked[rows] = worked(queue, capacity)
        p_worked[rows] = propensity(would_be_worked(score[rows], boosted, capacity), share)
    return estimate_auc(np.asarray(y, dtype=int), np.asarray(score), is_worked, p_worked)
