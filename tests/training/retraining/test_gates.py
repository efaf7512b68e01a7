"""The promotion gates (tolerance, improvement, calibration with sampling noise, drift,
window positives, cold start) and tier changes under fixed cut-offs."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.dataset import LeadData, prepare_frame
from features.demo import generate_leads
from features.spec import load_spec
from features.tiers import Tiers
from training.metrics import Metrics, expected_calibration_error
from training.retraining.config import Gates
from training.retraining.drift import FeaturePsi
from training.retraining.gates import (
    cold_start,
    data_digest,
    ece_noise,
    evaluate_gates,
    tier_changes,
)
from training.retraining.settle import subset_data


def _metrics(auc: float, loss: float, ece: float, positives: int = 60, rows: int = 600) -> Metrics:
    return Metrics(
        rows=rows,
        positives=positives,
        base_rate=positives / rows,
        roc_auc=auc,
        pr_auc=0.3,
        log_loss=loss,
        brier=0.1,
        ece=ece,
        lift_10=2.0,
        lift_20=1.8,
        capture_10=0.2,
        capture_20=0.36,
    )


def _gates(decision: Any) -> dict[str, bool]:
    return {r.name: r.passed for r in decision.reasons}


STABLE = [FeaturePsi("channel", "channel", 0.05)]


def test_first_model_needs_no_champion() -> None:
    decision = evaluate_gates(_metrics(0.7, 0.4, 0.02), None, (100, 400), STABLE, Gates())
    assert decision.passed
    assert "no champion yet" in decision.reasons[2].message
    assert decision.summary() == "promote: every gate passed"


def test_auc_tolerance_and_improvement() -> None:
    champion = _metrics(0.80, 0.40, 0.02)
    worse = evaluate_gates(_metrics(0.79, 0.38, 0.02), champion, (100, 400), STABLE, Gates())
    assert _gates(worse)["ROC-AUC vs champion"] is False
    assert "-0.0100" in worse.failed[0].message
    within = evaluate_gates(_metrics(0.798, 0.39, 0.02), champion, (100, 400), STABLE, Gates())
    assert within.passed  # trails by 0.002 < 0.005, better on log loss
    assert "better on log loss" in within.reasons[3].message
    same = evaluate_gates(_metrics(0.80, 0.40, 0.02), champion, (100, 400), STABLE, Gates())
    assert _gates(same) == {**_gates(same), "better than champion": False}
    assert not same.passed  # the same model again promotes nothing
    looser = Gates(auc_tolerance=0.02)
    assert _gates(evaluate_gates(_metrics(0.79, 0.38, 0.02), champion, (100, 400), STABLE, looser))[
        "ROC-AUC vs champion"
    ]


def test_calibration_bound_counts_sampling_noise() -> None:
    gates = Gates(max_ece=0.03)
    assert evaluate_gates(
        _metrics(0.7, 0.4, 0.045), None, (100, 400), STABLE, gates, noise=0.02
    ).passed
    refused = evaluate_gates(_metrics(0.7, 0.4, 0.06), None, (100, 400), STABLE, gates, noise=0.02)
    assert [r.name for r in refused.failed] == ["calibration (ECE)"]
    assert refused.failed[0].threshold == pytest.approx(0.05)
    assert "0.0200 expected from sampling 600 leads" in refused.failed[0].message


def test_ece_noise_is_what_a_calibrated_model_shows() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.5, size=600)
    observed = [expected_calibration_error(rng.random(600) < p, p) for _ in range(300)]
    assert ece_noise(p) == pytest.approx(np.mean(observed), rel=0.15)
    assert ece_noise(np.repeat(p, 100)) == pytest.approx(ece_noise(p) / 10, rel=0.05)


def test_drift_gate_names_fields_and_honours_the_allow_list() -> None:
    rows = [
        FeaturePsi("channel", "channel", 0.05),
        FeaturePsi("email_kind", "email", 0.9),
        FeaturePsi("arrived_at_month", "arrived_at", 5.0, seasonal=True),
    ]
    refused = evaluate_gates(_metrics(0.7, 0.4, 0.02), None, (100, 400), rows, Gates())
    assert [r.name for r in refused.failed] == ["feature drift (PSI)"]
    assert "email_kind (email) 0.900" in refused.failed[0].message
    assert "arrived_at_month" not in refused.failed[0].message  # calendar parts never gate
    allowed = evaluate_gates(
        _metrics(0.7, 0.4, 0.02), None, (100, 400), rows, Gates(allow_drift=("email",))
    )
    assert allowed.passed
    assert "allowed: email_kind 0.900" in allowed.reasons[-1].message


def test_window_positives_and_cold_start() -> None:
    few = evaluate_gates(_metrics(0.7, 0.4, 0.02, positives=5), None, (100, 400), STABLE, Gates())
    assert [r.name for r in few.failed] == ["window positives"]
    gate = cold_start(12, 300, Gates(), "sql")
    assert not gate.passed
    assert "only 12 positive and 300 negative" in gate.message
    assert "28 more positive outcome(s) needed" in gate.message
    assert "fallback rule" in gate.message
    assert cold_start(40, 40, Gates(), "sql").passed
    assert "25 more negative" in cold_start(50, 15, Gates(), "won").message


def test_gate_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_ece"):
        Gates(max_ece=0)
    with pytest.raises(ValueError, match="at least 1"):
        Gates(min_positives=0)
    assert Gates().digest() != Gates(allow_drift=("email",)).digest()


def test_tier_changes_under_fixed_cutoffs() -> None:
    before = np.array([0.6, 0.3, 0.05, 0.2, 0.9])
    after = np.array([0.4, 0.3, 0.15, 0.26, 0.95])
    changes = tier_changes(before, after, Tiers(0.5, 0.25, 0.1))
    assert (changes.leads, changes.changed, changes.up, changes.down) == (5, 3, 2, 1)
    assert changes.matrix.loc["A", "B"] == 1
    assert changes.matrix.loc["D", "C"] == 1
    assert changes.matrix.to_numpy().sum() == 5
    assert changes.summary() == "3 of 5 open leads (60.0%) would change tier: 2 up, 1 down"


def _whole_frame_digest(data: LeadData) -> str:
    """The digest as it was computed before chunking: the whole frame hashed at once."""
    sha = hashlib.sha256(data.spec.name.encode())
    sha.update(pd.util.hash_pandas_object(data.frame, index=False).to_numpy().tobytes())
    for name in sorted(data.targets):
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(data.targets[name]).tobytes())
    return sha.hexdigest()[:16]


def test_the_digest_is_the_same_in_chunks_and_over_row_positions() -> None:
    frame, _ = generate_leads(n=400, seed=3)
    data = prepare_frame(load_spec("demo"), frame)
    whole = _whole_frame_digest(data)
    assert {data_digest(data, chunk_rows=size) for size in (1, 7, 400, 10_000)} == {whole}
    rows = np.flatnonzero(np.arange(len(data)) % 3 != 0)
    alone = subset_data(data, rows)
    assert data_digest(data, rows, chunk_rows=50) == _whole_frame_digest(alone)
    assert data_digest(data, rows) != whole


def test_unhashable_cells_are_digested_as_text_in_chunks() -> None:
    frame, _ = generate_leads(n=60, seed=3)
    data = prepare_frame(load_spec("demo"), frame)
    tags = pd.Series([["a"] if i == 50 else [] for i in range(len(data))], dtype=object)
    listed = replace(data, frame=data.frame.assign(tags=tags))
    sha = hashlib.sha256(data.spec.name.encode())
    text = listed.frame.astype(str)
    sha.update(pd.util.hash_pandas_object(text, index=False).to_numpy().tobytes())
    for name in sorted(data.targets):
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(data.targets[name]).tobytes())
    assert data_digest(listed, chunk_rows=20) == sha.hexdigest()[:16]
