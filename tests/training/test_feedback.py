"""The feedback loop: exploration, propensities and the IPW estimate of AUC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.feedback import (
    AucEstimates,
    bias_warning,
    estimate_auc,
    explored,
    ipw_auc,
    live_feedback,
    live_propensity,
    priority,
    propensity,
    simulate,
    worked,
    would_be_worked,
)


def test_ipw_auc_against_a_hand_computed_case() -> None:
    y = np.array([1, 1, 0, 0])
    score = np.array([0.9, 0.4, 0.5, 0.1])
    p = np.array([1.0, 0.5, 1.0, 0.25])  # weights 1, 2, 1, 4
    # pairs (positive, negative) ranked right, weighted: 0.9>0.5 (1x1), 0.9>0.1 (1x4),
    # 0.4>0.1 (2x4); over (1 + 2) x (1 + 4)
    assert ipw_auc(y, score, p) == pytest.approx(13 / 15)
    # the same as the unweighted AUC of each lead copied 1/propensity times
    copies = np.repeat(np.arange(4), [1, 2, 1, 4])
    assert ipw_auc(y, score, p) == pytest.approx(roc_auc_score(y[copies], score[copies]))
    with pytest.raises(ValueError, match="propensities"):
        ipw_auc(y, score, np.array([1.0, 0.0, 1.0, 1.0]))


def test_exploration_share() -> None:
    draws = np.random.default_rng(0).random(200_000)
    assert explored(draws).mean() == pytest.approx(0.05, abs=0.002)  # the default, 5%
    assert explored(draws, 0.2).mean() == pytest.approx(0.2, abs=0.003)
    assert not explored(draws, 0.0).any()
    with pytest.raises(ValueError, match="share"):
        explored(draws, 1.5)


def test_propensity_of_being_worked_by_hand() -> None:
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    boosted = np.array([False, False, False, False, True])
    queue = priority(score, boosted, np.zeros(5))
    assert worked(queue, 3).tolist() == [True, True, False, False, True]
    # unexplored, the boosted lead would rank 5th of 5 for 3 slots: not worked
    assert would_be_worked(score, boosted, 3).tolist() == [True, True, False, False, False]
    p = propensity(would_be_worked(score, boosted, 3), 0.05)
    assert p.tolist() == pytest.approx([1.0, 1.0, 0.05, 0.05, 0.05])


def test_ipw_corrects_the_queue_bias_a_naive_estimate_keeps() -> None:
    rng = np.random.default_rng(2)
    n = 60_000
    score = rng.beta(2, 5, n)
    y = (rng.random(n) < score).astype(int)
    month = np.repeat(np.arange(6), n // 6)
    off = simulate(score, y, month, capacity_share=0.2, share=0.0, rng=rng)
    on = simulate(score, y, month, capacity_share=0.2, share=0.05, rng=rng)
    assert off.ipw is None  # leads below the cut are never worked: nothing stands for them
    assert on.true == pytest.approx(roc_auc_score(y, score))
    assert on.ipw is not None
    assert abs(on.ipw - on.true) < 0.02
    assert abs(on.naive - on.true) > 0.05
    assert abs(off.naive - off.true) > 0.05
    assert on.worked_share == pytest.approx(0.2, abs=0.001)


def test_bias_warning() -> None:
    assert bias_warning(AucEstimates(true=0.8, naive=0.79, ipw=0.8, worked_share=0.2)) is None
    message = bias_warning(AucEstimates(true=0.8, naive=0.6, ipw=0.79, worked_share=0.2))
    assert message is not None
    assert "0.600" in message
    assert "0.790" in message
    assert "no exploration" in (bias_warning(AucEstimates(0.8, 0.6, None, 0.2)) or "")


def test_estimate_auc_needs_every_lead_reachable() -> None:
    y = np.array([1, 0, 1, 0])
    score = np.array([0.9, 0.2, 0.6, 0.4])
    est = estimate_auc(y, score, np.array([True, True, True, False]), np.array([1, 1, 1, 0.0]))
    assert est.ipw is None
    assert est.naive == 1.0


def test_live_propensity_against_a_hand_computed_case() -> None:
    # one period: the queue worked a, b (on their scores) and d (an exploration pick whose
    # score clears the lowest score worked unexplored, 0.6); c was skipped; e, explored and
    # worked, would not have been worked on its score
    score = np.array([0.9, 0.6, 0.5, 0.7, 0.2])
    is_worked = np.array([True, True, False, True, True])
    is_explored = np.array([False, False, False, True, True])
    share = np.full(5, 0.1)
    period = np.array(["2026-11"] * 5)
    p = live_propensity(score, is_worked, is_explored, share, period)
    assert p == pytest.approx([1.0, 1.0, 0.1, 1.0, 0.1])


def test_live_propensity_takes_each_periods_own_cut_off() -> None:
    score = np.array([0.8, 0.5, 0.6, 0.3])
    is_worked = np.array([True, True, True, True])
    is_explored = np.array([False, True, False, True])
    period = np.array(["a", "a", "b", "b"])
    p = live_propensity(score, is_worked, is_explored, np.full(4, 0.05), period)
    # 0.5 is under period a's cut-off (0.8); 0.3 is under period b's (0.6)
    assert p == pytest.approx([1.0, 0.05, 1.0, 0.05])


def _live_queue(share: float, seed: int) -> tuple[np.ndarray, ...]:
    """Months of a queue that works its top fifth, with the truth of every lead."""
    rng = np.random.default_rng(seed)
    n, months = 30_000, 10
    latent = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(latent - 1.5)))).astype(int)
    score = 1 / (1 + np.exp(-(latent + rng.normal(scale=1.0, size=n) - 1.5)))
    period = np.repeat(np.arange(months), n // months)
    is_worked = np.zeros(n, dtype=bool)
    boosted = np.zeros(n, dtype=bool)
    for month in range(months):
        rows = np.flatnonzero(period == month)
        boosted[rows] = explored(rng.random(len(rows)), share)
        queue = priority(score[rows], boosted[rows], rng.random(len(rows)))
        is_worked[rows] = worked(queue, len(rows) // 5)
    return y, score, is_worked, boosted, period


def test_the_live_ipw_auc_recovers_the_true_auc_where_the_naive_one_does_not() -> None:
    y, score, is_worked, boosted, period = _live_queue(share=0.05, seed=3)
    true = roc_auc_score(y, score)
    check = live_feedback(y, score, is_worked, boosted, np.full(len(y), 0.05), period)
    assert check is not None
    assert check.ipw is not None
    assert check.naive is not None
    assert abs(check.ipw - true) < 0.02
    assert abs(check.naive - true) > abs(check.ipw - true) + 0.02
    assert check.worked == int(is_worked.sum())
    assert check.explored == int(boosted.sum())
    assert "biased by the queue" in (check.warning or "")
    assert "Warning" in check.summary()


def test_the_live_check_without_exploration_says_it_cannot_tell() -> None:
    y, score, is_worked, boosted, period = _live_queue(share=0.0, seed=4)
    check = live_feedback(y, score, is_worked, boosted, np.zeros(len(y)), period)
    assert check is not None
    assert check.ipw is None
    assert "no exploration" in (check.warning or "")
    assert check.as_json()["auc_ipw"] is None


def test_a_simulation_also_gives_the_estimate_from_the_services_logs() -> None:
    y, score, _worked, _boosted, period = _live_queue(share=0.05, seed=5)
    run = simulate(score, y, period, capacity_share=0.2, share=0.05, rng=np.random.default_rng(2))
    assert run.ipw is not None
    assert run.live is not None
    assert abs(run.live - run.true) < 0.02
    assert abs(run.naive - run.true) > 0.04
    off = simulate(score, y, period, capacity_share=0.2, share=0.0, rng=np.random.default_rng(2))
    assert off.live is None
