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

from dataclasses import dataclass, replace

import numpy as np
from sklearn.metrics import roc_auc_score

DEFAULT_EXPLORATION_SHARE = 0.05
#: How far the naive AUC (worked leads only) may sit from the IPW one before the retraining
#: report warns that the labels are biased by the queue.
BIAS_TOLERANCE = 0.02


def explored(draws: np.ndarray, share: float = DEFAULT_EXPLORATION_SHARE) -> np.ndarray:
    """Which leads get the boost: ``draws`` are uniform on [0, 1), one per arriving lead (the
    live queue's ``draw_exploration`` draws one at a time)."""
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


def propensity(
    would_be_worked: np.ndarray, share: float | np.ndarray = DEFAULT_EXPLORATION_SHARE
) -> np.ndarray:
    """P(worked) per lead: explored (``share``, one for all or one per lead) or worked on
    its own score."""
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
    #: the IPW estimate from what the live queue logs (draws, worked or not), its propensities
    #: by the cut-off rule of ``live_propensity`` instead of the simulation's exact ones
    live: float | None = None


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
    return _bias_message(estimates.naive, estimates.ipw, tolerance)


def _bias_message(naive: float, ipw: float | None, tolerance: float) -> str | None:
    if ipw is None:
        return (
            "no exploration: the skipped leads' AUC cannot be estimated, and the training "
            "labels come from the top of the queue only"
        )
    if abs(naive - ipw) > tolerance:
        return (
            f"training labels are biased by the queue: the AUC on worked leads is "
            f"{naive:.3f}, on all leads (inverse-propensity weighted) {ipw:.3f}"
        )
    return None


# --------------------------------------------------------------------------- the live queue

#: Columns of the lead store's frame (serving.store.outcomes) that carry the arrival draw.
EXPLORED_COLUMN = "explored"
PROPENSITY_COLUMN = "propensity"
#: When a lead was first answered (a claim or a move out of ``new``): it was worked.
WORKED_COLUMN = "first_response_at"


def live_score_column(target: str) -> str:
    """The store frame's column of the arrival score the queue showed for ``target``."""
    return f"arrival_score_{target}"


@dataclass(frozen=True)
class LiveFeedback:
    """The feedback check of one model on the live queue's settled leads."""

    leads: int  # settled leads whose arrival draw was logged
    worked: int
    explored: int
    naive: float | None  # AUC of the live arrival score on worked leads
    ipw: float | None  # the same, each worked lead weighted 1 / P(worked)
    warning: str | None

    def summary(self) -> str:
        def auc(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        text = (
            f"feedback loop: {self.worked:,} of {self.leads:,} settled leads were worked "
            f"({self.explored:,} exploration picks); live AUC on worked leads {auc(self.naive)}, "
            f"on all leads (inverse-propensity weighted) {auc(self.ipw)}"
        )
        return text if self.warning is None else f"{text}. Warning: {self.warning}"

    def as_json(self) -> dict[str, object]:
        return {
            "leads": self.leads,
            "worked": self.worked,
            "explored": self.explored,
            "auc_worked": self.naive,
            "auc_ipw": self.ipw,
            "warning": self.warning,
        }


def live_propensity(
    score: np.ndarray,
    is_worked: np.ndarray,
    is_explored: np.ndarray,
    share: np.ndarray,
    period: np.ndarray,
) -> np.ndarray:
    """P(worked) of each lead of the live queue: ``share + (1 - share) x [worked on its own
    score]``. A worked lead that was not explored was worked on its score; an explored one
    would have been when its score reaches the lowest score worked unexplored in its period
    (the queue's cut-off then), and a lead never worked gets its score's answer the same way."""
    score = np.asarray(score, dtype=float)
    plain_worked = np.asarray(is_worked, dtype=bool) & ~np.asarray(is_explored, dtype=bool)
    on_score = plain_worked.copy()
    for value in np.unique(period):
        rows = np.asarray(period == value)
        cut = score[rows & plain_worked]
        if len(cut):
            on_score[rows] |= score[rows] >= cut.min()
    return propensity(on_score, share)


def live_feedback(
    y: np.ndarray,
    score: np.ndarray,
    is_worked: np.ndarray,
    is_explored: np.ndarray,
    share: np.ndarray,
    period: np.ndarray,
    tolerance: float = BIAS_TOLERANCE,
) -> LiveFeedback | None:
    """Naive and IPW AUC of the live arrival score on the worked leads, with the bias
    warning; None when no lead has a logged draw."""
    y = np.asarray(y, dtype=int)
    if len(y) == 0:
        return None
    w = np.asarray(is_worked, dtype=bool)
    p = live_propensity(score, w, is_explored, share, period)
    both = len(np.unique(y[w])) == 2
    naive = float(roc_auc_score(y[w], score[w])) if both else None
    ipw = ipw_auc(y[w], score[w], p[w]) if both and np.all(np.asarray(share) > 0) else None
    warning = None if naive is None else _bias_message(naive, ipw, tolerance)
    return LiveFeedback(
        leads=len(y),
        worked=int(w.sum()),
        explored=int(np.asarray(is_explored, dtype=bool).sum()),
        naive=naive,
        ipw=ipw,
        warning=warning,
    )


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
    is_explored = np.zeros(n, dtype=bool)
    p_worked = np.zeros(n)
    for value in np.unique(period):
        rows = np.flatnonzero(period == value)
        capacity = round(len(rows) * capacity_share)
        boosted = explored(rng.random(len(rows)), share)
        queue = priority(score[rows], boosted, rng.random(len(rows)))
        is_worked[rows] = worked(queue, capacity)
        is_explored[rows] = boosted
        p_worked[rows] = propensity(would_be_worked(score[rows], boosted, capacity), share)
    y, score = np.asarray(y, dtype=int), np.asarray(score)
    estimates = estimate_auc(y, score, is_worked, p_worked)
    live = live_feedback(y, score, is_worked, is_explored, np.full(n, share), period)
    return replace(estimates, live=None if live is None else live.ipw)
