"""Model quality as the people who use the scores feel it.

ROC-AUC and PR-AUC for ranking, log loss / Brier / expected calibration error for
"does 0.3 mean 30%", and lift / capture at the top of the queue for the SDR team.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

ECE_BINS = 15
_EPS = 1e-6


@dataclass(frozen=True)
class Metrics:
    rows: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    log_loss: float
    brier: float
    ece: float
    lift_10: float
    lift_20: float
    capture_10: float
    capture_20: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{key}": float(value) for key, value in asdict(self).items()}


def _has_both_classes(y: np.ndarray) -> bool:
    return bool(0 < y.sum() < len(y))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Weighted mean |observed rate - mean prediction| over equal-width probability bins."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    sum_p = np.bincount(index, weights=p, minlength=bins)
    sum_y = np.bincount(index, weights=y, minlength=bins)
    used = counts > 0
    gaps = np.abs(sum_y[used] - sum_p[used])
    return float(gaps.sum() / len(y))


def top_share(y: np.ndarray, p: np.ndarray, share: float) -> tuple[float, float]:
    """(lift, capture) of the top ``share`` of leads by score.

    Lift: conversion rate in the top share / overall rate. Capture: share of all
    positives found there.
    """
    n = len(y)
    k = max(1, round(n * share))
    order = np.argsort(-p, kind="stable")[:k]
    positives = float(np.sum(y))
    if positives == 0:
        return float("nan"), float("nan")
    top_rate = float(np.mean(y[order]))
    return top_rate / (positives / n), float(np.sum(y[order])) / positives


def evaluate(y: np.ndarray, p: np.ndarray) -> Metrics:
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    both = _has_both_classes(y)
    lift_10, capture_10 = top_share(y, p, 0.10)
    lift_20, capture_20 = top_share(y, p, 0.20)
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()) if len(y) else float("nan"),
        roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        log_loss=float(log_loss(y, p, labels=[0, 1])) if len(y) else float("nan"),
        brier=float(brier_score_loss(y, p)) if len(y) else float("nan"),
        ece=expected_calibration_error(y, p),
        lift_10=lift_10,
        lift_20=lift_20,
        capture_10=capture_10,
        capture_20=capture_20,
    )


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per probability bin: leads, mean prediction, observed rate (for the reliability plot)."""
    index = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": index, "p": p, "y": y})
    table = frame.groupby("bin").agg(
        leads=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")
    )
    return table.reset_index()


def per_channel(
    y: np.ndarray, p: np.ndarray, channels: np.ndarray, min_leads: int = 50
) -> pd.DataFrame:
    """AUC, conversion and mean prediction per channel; AUC left empty where it can't be judged."""
    frame = pd.DataFrame({"channel": channels.astype(str), "y": y, "p": p})
    rows = []
    for channel, group in frame.groupby("channel", sort=True):
        gy = group["y"].to_numpy()
        judged = len(group) >= min_leads and _has_both_classes(gy)
        rows.append(
            {
                "channel": channel,
                "leads": len(group),
                "positives": int(gy.sum()),
                "conversion": float(gy.mean()),
                "mean_predicted": float(group["p"].mean()),
                "roc_auc": float(roc_auc_score(gy, group["p"])) if judged else float("nan"),
            }
        )
    return pd.DataFrame(rows).sort_values("leads", ascending=False, ignore_index=True)
