"""One real retrain cycle on a temporary MLflow store: promote, no-op repeat, refusal,
aliases, the large-data path, and a champion fitted on the window judged by its own test."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from features.dataset import LeadData, prepare_frame
from features.demo import generate_leads
from features.lead import BANT_COLUMNS
from features.spec import KnownAt, load_spec
from training.registry import (
    PREVIOUS,
    PromotionError,
    champion_version,
    ensure_experiment,
    load_champion,
    promote,
    rollback,
)
from training.retraining import challenger, cycle
from training.retraining.config import MlflowTarget
from training.retraining.cycle import RetrainConfig, retrain
from training.retraining.labels import utc_timestamp
from training.retraining.records import RETRAIN_KEY_TAG
from training.retraining.report import Action, ModelReport
from training.retraining.settle import subset_data
from training.retraining.window import Window
from training.settings import TrainingSettings


def test_a_retrain_cycle_on_a_real_registry(
    mlflow_settings: TrainingSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, _truth = generate_leads(n=3600, seed=11, end=date(2026, 6, 30), months=6)
    spec = load_spec("demo")
    target = MlflowTarget(
        mlflow_settings.tracking_uri, "retrain-test", mlflow_settings.artifact_root
    )
    pairs = [(KnownAt.ARRIVAL, "sql")]
    config = RetrainConfig(as_of=utc_timestamp("2026-06-15"), params={"learning_rate": 0.1})
    name = "leadscore-arrival-sql"

    dry = retrain(frame, spec, pairs, RetrainConfig(**{**config.__dict__, "dry_run": True}), target)
    assert dry[0].action is Action.WOULD_PROMOTE
    assert champion_version(target.tracking_uri, name) is None  # a dry run registers nothing

    [first] = retrain(frame, spec, pairs, config, target)
    assert first.action is Action.PROMOTED, first.message
    assert first.version == "1"
    assert champion_version(target.tracking_uri, name) == "1"
    client = MlflowClient(tracking_uri=target.tracking_uri, registry_uri=target.tracking_uri)
    assert first.run_id is not None
    tags = client.get_run(first.run_id).data.tags
    assert tags["retrain.decision"] == "promoted"
    assert tags["retrain.window"] == "2026-05"
    assert tags["gate.calibration_ece"] == "pass"
    assert tags["retrain.trained_until"].startswith("2026-05-01")
    path = client.download_artifacts(first.run_id, "decision.json", str(mlflow_settings.data_dir))
    decision = json.loads(Path(path).read_text())
    assert decision["action"] == "promoted"
    assert [g["passed"] for g in decision["decision"]["reasons"]] == [True] * 6
    assert decision["tier_changes"]["leads"] > 0
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"decision.json", "drift.md", "drift.html", "tier_changes.csv"} <= artifacts

    champion = load_champion(target.tracking_uri, name)
    assert champion is not None
    known_later = [c for c in champion.model.input_columns if c in BANT_COLUMNS or c[:2] == "q_"]
    assert known_later == []  # the arrival model never reads qualification answers

    [again] = retrain(frame, spec, pairs, config, target)
    assert again.action is Action.UNCHANGED
    assert again.run_id == first.run_id

    # forced: the same data gives the same model, which is not better: refused, registered
    [forced] = retrain(
        frame, spec, pairs, RetrainConfig(**{**config.__dict__, "force": True}), target
    )
    assert forced.action is Action.REFUSED
    assert forced.decision is not None
    assert [r.name for r in forced.decision.failed] == ["better than champion"]
    assert forced.version == "2"
    assert champion_version(target.tracking_uri, name) == "1"
    assert client.get_model_version(name, "2").tags["retrain.decision"] == "refused"

    # the aliases by hand: promote a refused version after review, then roll back twice
    change = promote(target.tracking_uri, name, "2")
    assert (change.champion, change.replaced) == ("2", "1")
    assert champion_version(target.tracking_uri, name, PREVIOUS) == "1"
    back = rollback(target.tracking_uri, name)
    assert (back.champion, back.replaced, back.previous) == ("1", "2", None)
    assert champion_version(target.tracking_uri, name, PREVIOUS) is None
    with pytest.raises(PromotionError, match="no 'previous' version"):
        rollback(target.tracking_uri, name)
    with pytest.raises(PromotionError, match="has no version 7; versions: 1, 2"):
        promote(target.tracking_uri, name, "7")

    # on large data the production recipe is fitted alone (here: pretend 100 rows is large)
    monkeypatch.setattr(challenger, "FULL_TRAINING_MAX_ROWS", 100)
    [lean] = retrain(
        frame, spec, pairs, RetrainConfig(**{**config.__dict__, "force": True}), target
    )
    assert lean.version == "3"
    assert any("production recipe was fitted alone" in note for note in lean.notes)
    assert lean.challenger_kind == "lightgbm"
    assert lean.challenger is not None
    assert first.challenger is not None
    assert lean.challenger.rows == first.challenger.rows  # the same window
    assert lean.decision is not None
    assert lean.action is (Action.PROMOTED if lean.decision.passed else Action.REFUSED)


def test_a_champion_fitted_on_the_window_is_judged_by_its_own_test(
    mlflow_settings: TrainingSettings,
) -> None:
    """`leadscore train` fits the final model on every lead, the window's too: scored there
    it would look better than any challenger. It is compared by its logged test instead."""
    from training.registry import ensure_experiment
    from training.tracking.runs import log_training_run, training_record
    from training.trainer import TrainOptions, train_model

    frame, _truth = generate_leads(n=3600, seed=12, end=date(2026, 6, 30), months=6)
    spec = load_spec("demo")
    target = MlflowTarget(mlflow_settings.tracking_uri, "in-sample", mlflow_settings.artifact_root)
    ensure_experiment(target.tracking_uri, target.experiment, target.artifact_root)
    data = prepare_frame(spec, frame, source="demo")
    trained = train_model(data, TrainOptions(params={"learning_rate": 0.1}))  # refit on all
    assert data.times is not None
    assert trained.trained_until == data.times.max().isoformat()
    log_training_run(
        trained,
        data_digest="all",
        tracking_uri=target.tracking_uri,
        experiment=target.experiment,
        artifact_root=target.artifact_root,
    )
    champion = load_champion(target.tracking_uri, "leadscore-arrival-sql")
    assert champion is not None
    assert training_record(target.tracking_uri, champion.name, "1").fitted_until == (
        data.times.max()
    )

    config = RetrainConfig(
        as_of=utc_timestamp("2026-06-15"), params={"learning_rate": 0.1}, dry_run=True
    )
    [report] = retrain(frame, spec, [(KnownAt.ARRIVAL, "sql")], config, target)
    assert report.champion is not None
    assert report.champion.roc_auc == pytest.approx(trained.headline.roc_auc)
    assert report.champion.rows == trained.headline.rows
    [note] = [n for n in report.notes if "in-sample" in n]
    assert "window 2026-05" in note
    assert "its own out-of-time test" in note
    # the challenger is judged against that figure, whichever way it goes
    auc_gate = next(g for g in report.decision.reasons if g.name == "ROC-AUC vs champion")
    assert f"{trained.headline.roc_auc:.4f}" in auc_gate.message


def _copying(shared: LeadData, rows: np.ndarray, window: Window) -> tuple[LeadData, None]:
    """The earlier path: every target a data set of its own rows."""
    return subset_data(shared, rows), None


def test_row_positions_of_the_shared_data_retrain_as_a_copy_per_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On large data (here: pretend 100 rows is large) the won models work on positions of
    the data set they share with sql: the same reports and run records as with a copy."""
    frame, _truth = generate_leads(n=3000, seed=11, end=date(2026, 6, 30), months=6)
    spec = load_spec("demo")
    pairs = [(known_at, t) for known_at in spec.known_ats for t in spec.targets]
    config = RetrainConfig(as_of=utc_timestamp("2026-07-15"), params={"learning_rate": 0.1})
    monkeypatch.setattr(challenger, "FULL_TRAINING_MAX_ROWS", 100)
    shared: dict[str, list[tuple[ModelReport, dict[str, str]]]] = {}
    kept: list[bool] = []
    choose = cycle._target_data

    def noted(data: LeadData, rows: np.ndarray, window: Window) -> tuple[LeadData, Any]:
        chosen = choose(data, rows, window)
        kept.append(chosen[1] is not None)
        return chosen

    monkeypatch.setattr(cycle, "_target_data", noted)
    for way in ("positions", "copies"):
        if way == "copies":
            monkeypatch.setattr(cycle, "_target_data", _copying)
        target = MlflowTarget(f"sqlite:///{tmp_path / way}.db", "same", tmp_path / way)
        ensure_experiment(target.tracking_uri, target.experiment, target.artifact_root)
        reports = retrain(frame, spec, pairs, config, target)
        client = MlflowClient(tracking_uri=target.tracking_uri, registry_uri=target.tracking_uri)
        shared[way] = [(r, client.get_run(str(r.run_id)).data.tags) for r in reports]
    assert kept == [False, True]  # sql: every shared row; won: positions of some
    won = [r for r, _tags in shared["positions"] if r.target == "won"]
    assert won
    assert all(r.settled is not None for r in won)
    assert all(r.challenger is not None for r in won)
    assert len({r.challenger.rows for r in won if r.challenger is not None}) == 1
    for (mine, my_tags), (theirs, their_tags) in zip(
        shared["positions"], shared["copies"], strict=True
    ):
        assert {**mine.as_json(), "run_id": None} == {**theirs.as_json(), "run_id": None}
        assert mine.notes == theirs.notes
        for key in ("data_digest", RETRAIN_KEY_TAG, "retrain.decision", "retrain.trained_until"):
            assert my_tags[key] == their_tags[key], key


def test_a_sample_of_row_positions_is_the_sample_of_their_data_set() -> None:
    frame, _truth = generate_leads(n=400, seed=5)
    data = prepare_frame(load_spec("demo"), frame)
    rows = np.flatnonzero(np.arange(len(data)) % 5 != 2)
    alone = subset_data(data, rows)
    expected = alone.frame.sample(n=50, random_state=7)
    pd.testing.assert_frame_equal(cycle._sample(data, rows, 50, 7), expected)
    pd.testing.assert_frame_equal(cycle._sample(alone, None, 50, 7), expected)
