"""What a retrain is asked to do: the default maturity, window and settled share, the
promotion gates, and where the runs are recorded.

Standard library only, so the command line reads its defaults from here without loading
the training stack.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

#: Open leads older than this many days count as not converted.
DEFAULT_MATURITY_DAYS = 90
#: Complete calendar months in the out-of-time evaluation window.
DEFAULT_EVAL_MONTHS = 1
#: Share of a window's leads that must be settled for it to judge models.
DEFAULT_MIN_SETTLED_SHARE = 0.9


@dataclass(frozen=True)
class Gates:
    """Promotion gates; every threshold can be set from the command line."""

    auc_tolerance: float = 0.005  # challenger ROC-AUC may trail the champion's by this much
    max_ece: float = 0.03  # ECE on the window, above what sampling noise alone gives
    min_positives: int = 40  # settled positives in training (cold start below)
    min_negatives: int = 40  # settled negatives in training
    min_eval_positives: int = 10  # positives in the evaluation window
    max_psi: float = 0.25  # feature drift between training and window data
    allow_drift: tuple[str, ...] = ()  # features (output or source field) exempt from PSI

    def __post_init__(self) -> None:
        if self.auc_tolerance < 0 or not 0 < self.max_ece <= 1 or self.max_psi <= 0:
            raise ValueError(
                "gates: auc_tolerance must be >= 0, max_ece in (0, 1], max_psi > 0 "
                f"(got {self.auc_tolerance}, {self.max_ece}, {self.max_psi})"
            )
        if min(self.min_positives, self.min_negatives, self.min_eval_positives) < 1:
            raise ValueError("gates: minimum outcome counts must be at least 1")

    def digest(self) -> str:
        payload = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class MlflowTarget:
    """Where a retrain logs its runs and registers its challengers."""

    tracking_uri: str
    experiment: str
    artifact_root: Path | None
