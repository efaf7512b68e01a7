"""The promotion gates and what a retrain reports beside them.

:func:`evaluate_gates` evaluates and reports every gate: enough settled outcomes to fit
at all (cold start), enough positives in the window, ROC-AUC not worse than the
champion's by more than a tolerance and better on ROC-AUC or log loss, ECE within a bound
above sampling noise, no feature drifting (PSI) between training and window data unless
allowed. :func:`tier_changes` says how many leads would change tier (A-D, the service's
fixed probability cut-offs) under the challenger; :func:`data_digest` identifies the
settled data a retrain saw. The thresholds are :class:`Gates` (in ``config``); the
functions are pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import LeadData
from features.tiers import Tiers
from training.metrics import ECE_BINS, Metrics
from training.retraining.config import Gates
from training.retraining.drift import FeaturePsi

TIERS: tuple[str, ...] = ("A", "B", "C", "D")


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    value: float | None
    threshold: float | None
    message: str


@dataclass(frozen=True)
class Decision:
    passed: bool
    reasons: list[GateResult]

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.reasons if not r.passed]

    def summary(self) -> str:
        if self.passed:
            return "promote: every gate passed"
        return "refuse: " + "; ".join(r.message for r in self.failed)

    def as_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": [_jsonable(asdict(r)) for r in self.reasons]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def cold_start(positives: int, negatives: int, gates: Gates, target: str) -> GateResult:
    """Enough settled outcomes to fit a GBM? The message says how many more are needed."""
    short_pos = max(0, gates.min_positives - positives)
    short_neg = max(0, gates.min_negatives - negatives)
    passed = short_pos == 0 and short_neg == 0
    if passed:
        message = (
            f"{positives} positive and {negatives} negative settled outcomes for '{target}' "
            "in training"
        )
    else:
        needs = []
        if short_pos:
            needs.append(f"{short_pos} more positive")
        if short_neg:
            needs.append(f"{short_neg} more negative")
        message = (
            f"cold start: only {positives} positive and {negatives} negative settled outcomes "
            f"for '{target}' in training; a model needs at least {gates.min_positives} and "
            f"{gates.min_negatives}: {' and '.join(needs)} outcome(s) needed. Nothing is "
            "fitted; the service keeps scoring as it does (the fallback rule until a first "
            "model passes)"
        )
    return GateResult(
        "settled outcomes",
        passed,
        float(min(positives, negatives)),
        float(min(gates.min_positives, gates.min_negatives)),
        message,
    )


def _allowed(row: FeaturePsi, allow: Iterable[str]) -> bool:
    names = set(allow)
    return row.feature in names or row.source in names


def _drift_gate(psi_rows: list[FeaturePsi], gates: Gates) -> GateResult:
    gated = [r for r in psi_rows if not r.seasonal and not np.isnan(r.psi)]
    over = [r for r in gated if r.psi > gates.max_psi]
    blocking = sorted((r for r in over if not _allowed(r, gates.allow_drift)), key=lambda r: -r.psi)
    allowed = [r for r in over if _allowed(r, gates.allow_drift)]
    worst = max((r.psi for r in gated), default=float("nan"))
    if blocking:
        listed = ", ".join(f"{r.feature} ({r.source}) {r.psi:.3f}" for r in blocking[:5])
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        message = (
            f"feature drift between training and window data: PSI > {gates.max_psi} for "
            f"{listed}{more}; allow with --allow-drift FEATURE if intended"
        )
        return GateResult("feature drift (PSI)", False, blocking[0].psi, gates.max_psi, message)
    message = f"no feature with PSI > {gates.max_psi} (worst {worst:.3f})"
    if allowed:
        message += "; allowed: " + ", ".join(f"{r.feature} {r.psi:.3f}" for r in allowed)
    return GateResult("feature drift (PSI)", True, worst, gates.max_psi, message)


def ece_noise(probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """The ECE a perfectly calibrated model would show on this many leads, on average.

    In each probability bin the observed rate of ``n_b`` leads scatters around the mean
    prediction ``p_b`` with standard deviation sqrt(p_b (1 - p_b) / n_b); the mean absolute
    deviation is sqrt(2 / pi) of that. Weighted over the bins this is the ECE that sampling
    alone produces: about 0.03 for a window of 600 leads, 0.003 for 60,000.
    """
    p = np.asarray(probabilities, dtype=float)
    if len(p) == 0:
        return 0.0
    index = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    means = np.bincount(index, weights=p, minlength=bins) / np.maximum(counts, 1)
    spread = np.sqrt(means * (1 - means) / np.maximum(counts, 1))
    return float(np.sqrt(2 / np.pi) * np.sum(counts / len(p) * spread))


def evaluate_gates(
    challenger: Metrics,
    champion: Metrics | None,
    train_counts: tuple[int, int],
    psi_rows: list[FeaturePsi],
    gates: Gates,
    target: str = "target",
    noise: float = 0.0,
) -> Decision:
    """Every gate, in order, with its value, threshold and a sentence for people.

    ``noise`` is the ECE sampling alone gives on the window (:func:`ece_noise`); the
    calibration bound is ``gates.max_ece`` above it, so a small window is not refused for
    scatter that a perfectly calibrated model would show too.
    """
    reasons = [cold_start(*train_counts, gates, target)]
    eval_pos = challenger.positives
    reasons.append(
        GateResult(
            "window positives",
            eval_pos >= gates.min_eval_positives,
            float(eval_pos),
            float(gates.min_eval_positives),
            f"{eval_pos} positives among {challenger.rows} settled leads of the window "
            f"(at least {gates.min_eval_positives} needed to judge)",
        )
    )
    reasons += _comparison_gates(challenger, champion, gates)
    bound = gates.max_ece + noise
    allowance = f" + {noise:.4f} expected from sampling {challenger.rows} leads" if noise else ""
    reasons.append(
        GateResult(
            "calibration (ECE)",
            bool(challenger.ece <= bound),
            challenger.ece,
            bound,
            f"challenger ECE {challenger.ece:.4f} on the window (bound {gates.max_ece}{allowance})",
        )
    )
    reasons.append(_drift_gate(psi_rows, gates))
    return Decision(passed=all(r.passed for r in reasons), reasons=reasons)


def _comparison_gates(
    challenger: Metrics, champion: Metrics | None, gates: Gates
) -> list[GateResult]:
    if champion is None:
        note = "no champion yet: the first model only has to pass the other gates"
        return [
            GateResult("ROC-AUC vs champion", True, challenger.roc_auc, None, note),
            GateResult("better than champion", True, None, None, note),
        ]
    gap = challenger.roc_auc - champion.roc_auc
    floor = champion.roc_auc - gates.auc_tolerance
    auc_ok = bool(np.isfinite(gap) and gap >= -gates.auc_tolerance)
    auc = GateResult(
        "ROC-AUC vs champion",
        auc_ok,
        challenger.roc_auc,
        floor,
        f"challenger ROC-AUC {challenger.roc_auc:.4f} vs champion {champion.roc_auc:.4f} "
        f"({gap:+.4f}; may trail by at most {gates.auc_tolerance})",
    )
    better_auc = bool(challenger.roc_auc > champion.roc_auc)
    better_loss = bool(challenger.log_loss < champion.log_loss)
    which = [n for n, ok in (("ROC-AUC", better_auc), ("log loss", better_loss)) if ok]
    better = GateResult(
        "better than champion",
        better_auc or better_loss,
        challenger.log_loss,
        champion.log_loss,
        (f"better on {' and '.join(which)}" if which else "not better on ROC-AUC or log loss")
        + f" (log loss {challenger.log_loss:.4f} vs {champion.log_loss:.4f})",
    )
    return [auc, better]


@dataclass(frozen=True)
class TierChanges:
    leads: int
    changed: int
    up: int  # to a better tier
    down: int
    matrix: pd.DataFrame  # rows: tier now, columns: tier under the challenger

    def summary(self) -> str:
        if self.leads == 0:
            return "no open leads to compare"
        share = 100 * self.changed / self.leads
        return (
            f"{self.changed} of {self.leads} open leads ({share:.1f}%) would change tier: "
            f"{self.up} up, {self.down} down"
        )


def tier_changes(before: np.ndarray, after: np.ndarray, cutoffs: Tiers) -> TierChanges:
    """How many leads change tier between two scorings, with the full transition matrix."""
    now, then = cutoffs.of_many(before), cutoffs.of_many(after)
    rank = {tier: i for i, tier in enumerate(TIERS)}
    a = np.array([rank[t] for t in now], dtype=int)
    b = np.array([rank[t] for t in then], dtype=int)
    matrix = pd.crosstab(
        pd.Categorical(now, categories=TIERS),
        pd.Categorical(then, categories=TIERS),
        dropna=False,
    )
    matrix.index.name, matrix.columns.name = "now", "challenger"
    return TierChanges(
        leads=len(now),
        changed=int((a != b).sum()),
        up=int((b < a).sum()),
        down=int((b > a).sum()),
        matrix=matrix,
    )


#: Rows hashed at a time by :func:`data_digest`.
DIGEST_CHUNK_ROWS = 100_000


def data_digest(
    data: LeadData, rows: np.ndarray | None = None, chunk_rows: int = DIGEST_CHUNK_ROWS
) -> str:
    """A digest of the settled data a retrain sees: rows, values, times and labels.

    ``rows`` (positions, in order) digests those rows of ``data`` as the data set of only
    them would be digested. The frame is hashed ``chunk_rows`` rows at a time; every row's
    hash is its own, so the digest does not depend on the chunking.
    """
    sha = hashlib.sha256(data.spec.name.encode())
    positions = np.arange(len(data)) if rows is None else np.asarray(rows)
    for hashed in _row_hashes(data.frame, positions, chunk_rows):
        sha.update(hashed.tobytes())
    for name in sorted(data.targets):
        sha.update(name.encode())
        values = data.targets[name] if rows is None else data.targets[name][positions]
        sha.update(np.ascontiguousarray(values).tobytes())
    return sha.hexdigest()[:16]


def _row_hashes(frame: pd.DataFrame, rows: np.ndarray, chunk_rows: int) -> list[np.ndarray]:
    """The row hashes of ``frame``'s ``rows``, chunk by chunk; every cell's text is hashed
    instead when some cell cannot be hashed (lists), as for the whole frame at once."""
    chunks = [rows[start : start + chunk_rows] for start in range(0, len(rows), chunk_rows)]
    try:
        return [_hashed(frame.iloc[chunk]) for chunk in chunks]
    except TypeError:  # unhashable cells (lists): hash their text
        return [_hashed(frame.iloc[chunk].astype(str)) for chunk in chunks]


def _hashed(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()
