"""What one training run is asked to do: the moment, the target, the split overrides and
the fitting choices. Cheap to import, so the command line reads its defaults from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from features.spec import KnownAt


@dataclass(frozen=True)
class TrainOptions:
    known_at: KnownAt = KnownAt.ARRIVAL
    target: str = "sql"
    test_start: date | None = None  # overrides the spec's time split
    test_end: date | None = None
    valid_share: float = 0.2
    trials: int = 0  # Optuna trials on the validation slice (0: the tuned defaults)
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    refit: bool = True  # fit the final model on all rows (False: keep the evaluation fit)
    refit_on_valid: bool = True  # time split: refit on fit + recent slice (below a row limit)
    members: int = 5  # cross-fitted members for data without time (up to a row limit)
    #: the trained baselines are fitted on a stratified sample of at most this many
    #: training rows (0: every row)
    baseline_rows: int = 100_000
    #: the BANT rule is scored on a stratified sample of at most this many test rows, and
    #: compared with LightGBM on the same rows (0: every row)
    rule_rows: int = 20_000
    #: each outlook (time to conversion, deal value) is fitted on a random sample of at most
    #: this many leads (0: every lead); its notes state the size
    outlook_rows: int = 20_000
