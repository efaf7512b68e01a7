from __future__ import annotations

import numpy as np

from training.calibration import fit_calibrator
from training.metrics import evaluate, expected_calibration_error, top_share


def test_ece_of_perfect_and_of_overconfident_predictions() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 50_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p * 1.6, 0, 1)) > 0.1


def test_calibrator_repairs_a_miscalibrated_score() -> None:
    rng = np.random.default_rng(1)
    logit = rng.normal(-1.5, 1.2, 20_000)
    y = (rng.uniform(size=logit.size) < 1 / (1 + np.exp(-logit))).astype(int)
    raw = 2.5 * logit + 1.0  # same ranking, badly scaled
    before = expected_calibration_error(y, 1 / (1 + np.exp(-raw)))
    calibrator = fit_calibrator(raw[:10_000], y[:10_000])
    after = expected_calibration_error(y[10_000:], calibrator.predict(raw[10_000:]))
    assert after < before / 3
    assert set(calibrator.cv_log_loss) <= {"isotonic", "sigmoid"}


def test_lift_and_capture_at_the_top() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    p = np.linspace(1, 0, 10)
    lift, capture = top_share(y, p, 0.2)
    assert lift == 5.0
    assert capture == 1.0
    metrics = evaluate(y, p)
    assert metrics.roc_auc == 1.0
    assert metrics.positives == 2
