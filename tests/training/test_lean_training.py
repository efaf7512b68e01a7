"""A leaner training run: baselines on a stated sample above a size, the refit rule, the
final model refitted from the evaluation's early-stopped fit, plots drawn on a sample."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from features.dataset import LeadData
from features.pipeline import LeadFeaturizer
from features.pipeline.encoders import OTHER
from features.spec import KnownAt
from training.baselines import stratified_positions
from training.metrics import evaluate
from training.model import ChainEstimator
from training.recipe import REFIT_MAX_ROWS, _vocabulary, refits_on_valid
from training.settings import TrainingSettings
from training.tracking.card import model_card
from training.trainer import Evaluation, TrainOptions, _choose, train_model

from .conftest import register

FAST = {"learning_rate": 0.1}


def test_a_stratified_sample_keeps_each_class_share_in_order() -> None:
    y = np.r_[np.zeros(9_000, dtype=int), np.ones(1_000, dtype=int)]
    np.random.default_rng(0).shuffle(y)
    at = stratified_positions(y, 2_000, seed=1)
    assert len(at) == 2_000 == len(np.unique(at))
    assert np.all(np.diff(at) > 0)  # original order
    assert y[at].sum() == 200  # the positives' 10% share, exactly
    assert np.array_equal(stratified_positions(y, 0), np.arange(len(y)))  # 0: every row
    assert np.array_equal(stratified_positions(y, 10_000), np.arange(len(y)))  # not below


def test_above_the_size_baselines_are_sampled_and_the_run_says_how_many(
    demo_data: LeadData, mlflow_settings: TrainingSettings
) -> None:
    options = TrainOptions(
        known_at=KnownAt.QUALIFIED, params=FAST, refit=False, baseline_rows=3_000, rule_rows=900
    )
    result = train_model(demo_data, options)
    evaluation = result.evaluation
    assert result.rows_train > 3_000
    assert result.rows_test > 900
    assert evaluation.baseline_rows == 3_000
    rule_rows = evaluation.subsets["bant_rule"]
    assert len(rule_rows) == 900 == evaluation.metrics["bant_rule"].rows
    assert len(evaluation.predictions["bant_rule"]) == 900
    # the rule's figures are its own on those rows, not LightGBM's rows
    y, p = evaluation.scored("bant_rule")
    assert evaluation.metrics["bant_rule"] == evaluate(y, p)
    # trained baselines are still scored on every test row, like LightGBM
    assert evaluation.metrics["logistic"].rows == result.rows_test
    card = model_card(result)
    assert f"fitted on 3000 of {result.rows_train} training rows (a stratified sample)" in card
    assert f"sample of 900 of the {result.rows_test} test rows" in card
    version = register(result, mlflow_settings)
    client = MlflowClient(mlflow_settings.tracking_uri)
    run = client.get_run(client.get_model_version("leadscore-qualified-sql", version).run_id)
    assert run.data.params["baseline_rows"] == "3000"
    assert run.data.params["rule_rows"] == "900"
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    assert (artifacts / "roc.png").stat().st_size > 0


def test_below_the_size_every_row_is_used(demo_data: LeadData) -> None:
    result = train_model(demo_data, TrainOptions(params=FAST, refit=False))
    assert result.evaluation.baseline_rows == result.rows_train
    assert result.evaluation.subsets == {}
    assert "every model scored on the same test rows" in model_card(result)


def test_a_rule_is_compared_with_lightgbm_on_the_rows_it_was_scored_on() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4_000)
    lightgbm = np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.1, 4_000)
    sampled = np.arange(0, 4_000, 4)
    lightgbm[sampled] = rng.random(len(sampled))  # no skill on the rule's rows
    rule = np.where(y[sampled] == 1, 0.6, 0.4) + rng.normal(0, 0.2, len(sampled))
    predictions = {"lightgbm": lightgbm, "bant_rule": rule}
    evaluation = Evaluation(
        rows=np.arange(4_000),
        y=y,
        channels=np.array(["web"] * 4_000),
        predictions=predictions,
        metrics={"lightgbm": evaluate(y, lightgbm), "bant_rule": evaluate(y[sampled], rule)},
        calibration=["sigmoid"],
        best_iterations=[10],
        uncalibrated_ece=0.0,
        subsets={"bant_rule": sampled},
    )
    # overall LightGBM beats the rule; on the rule's own rows it does not: that counts
    assert evaluation.metrics["lightgbm"].roc_auc > evaluation.metrics["bant_rule"].roc_auc
    chosen, flagged, notes = _choose(evaluation)
    assert (chosen, flagged) == ("lightgbm", True)
    assert "on the same 1000 sampled test rows" in notes[0]


@pytest.mark.parametrize(
    ("rows", "by_time", "asked", "expected"),
    [
        (REFIT_MAX_ROWS - 1, True, True, True),
        (REFIT_MAX_ROWS, True, True, False),  # from the limit on: the refit measured no gain
        (1_000, False, True, False),  # rows without order: the validation slice is random
        (1_000, True, False, False),  # not asked for
    ],
)
def test_the_refit_on_fit_and_validation_rows_follows_its_rule(
    rows: int, by_time: bool, asked: bool, expected: bool
) -> None:
    assert refits_on_valid(rows, by_time, TrainOptions(refit_on_valid=asked)) is expected


def _rounds(result_model: object) -> list[int]:
    members = result_model.members  # type: ignore[attr-defined]
    return [b.current_iteration() for m in members for b in m.estimator.boosters]


def test_the_final_model_is_the_evaluation_fit_refitted_on_all_rows(demo_data: LeadData) -> None:
    options = TrainOptions(known_at=KnownAt.ARRIVAL, params=FAST, refit=True)
    result = train_model(demo_data, options)
    evaluated = train_model(
        demo_data, TrainOptions(known_at=KnownAt.ARRIVAL, params=FAST, refit=False)
    )
    fold = result.split.folds[0]
    fit_rows = round(len(fold.train) * (1 - options.valid_share))
    # one fit on every row, for the evaluation's early-stopped rounds scaled by the rows
    [rounds] = _rounds(result.model)
    assert rounds == round(result.best_iteration * len(demo_data) / fit_rows)
    assert result.best_iteration == evaluated.best_iteration
    # the evaluation below the limit was refitted on fit + validation rows the same way
    assert _rounds(evaluated.model) == [round(result.best_iteration * len(fold.train) / fit_rows)]
    # the calibrator learned on the early-stopped scores is kept, the featurizer refitted
    assert result.model.members[0].calibrator.model_ is not None
    kept, fresh = evaluated.model.members[0].calibrator, result.model.members[0].calibrator
    assert kept.method == fresh.method
    assert kept.cv_log_loss == fresh.cv_log_loss
    # the final model knows every category that a pipeline fitted on all rows knows
    everything = LeadFeaturizer(spec=demo_data.spec, known_at="arrival").fit(demo_data.frame)
    assert _vocabulary(result.model.featurizer) == _vocabulary(everything)
    assert result.trained_until == demo_data.times.max().isoformat()
    probabilities = result.model.predict_proba(demo_data.frame.iloc[fold.test])
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_a_chained_model_is_refitted_part_by_part(demo_data: LeadData) -> None:
    options = TrainOptions(known_at=KnownAt.QUALIFIED, target="won", params=FAST, refit=True)
    result = train_model(demo_data, options)
    assert result.chosen == "lightgbm"
    estimator = result.model.members[0].estimator
    assert isinstance(estimator, ChainEstimator)
    first, second = _rounds(result.model)
    assert first > 0
    assert second > 0
    scores = result.model.predict_proba(demo_data.frame.head(200))
    assert np.all((scores > 0) & (scores < 1))


def test_a_pipeline_learns_only_its_category_lists(demo_data: LeadData) -> None:
    """What the final model's reuse of the evaluation's features rests on: two pipelines
    that know the same categories give the same features (category codes may differ)."""
    half = LeadFeaturizer(spec=demo_data.spec, known_at="qualified")
    half.fit(demo_data.frame.iloc[: len(demo_data) // 2])
    whole = LeadFeaturizer(spec=demo_data.spec, known_at="qualified").fit(demo_data.frame)
    rows = demo_data.frame.iloc[-3_000:]
    a, b = half.transform(rows), whole.transform(rows)
    categorical = set(whole.categorical_indices_)
    assert categorical
    for j, name in enumerate(whole.feature_names_):
        if j not in categorical:
            assert np.array_equal(a[:, j], b[:, j], equal_nan=True), name
            continue
        labels_a = np.asarray(half.categories_[name], dtype=object)[a[:, j].astype(int)]
        labels_b = np.asarray(whole.categories_[name], dtype=object)[b[:, j].astype(int)]
        known = np.isin(labels_b, half.categories_[name]) & (labels_a != OTHER)
        assert np.array_equal(labels_a[known], labels_b[known]), name


@pytest.mark.parametrize("test_start", [None, date(2026, 9, 1)])
def test_the_final_booster_is_lightgbm_on_its_own_features_of_every_row(
    demo_data: LeadData, test_start: date | None
) -> None:
    options = TrainOptions(params=FAST, refit=True, test_start=test_start)
    result = train_model(demo_data, options)
    frame, fold = demo_data.frame, result.split.folds[0]
    on_train = LeadFeaturizer(spec=demo_data.spec, known_at="arrival").fit(frame.iloc[fold.train])
    on_all = LeadFeaturizer(spec=demo_data.spec, known_at="arrival").fit(frame)
    # the default test period brings categories the training rows lack (a fresh pipeline);
    # a shorter one does not (the evaluation's pipeline and features are kept)
    reused = _vocabulary(on_train) == _vocabulary(on_all)
    assert reused is (test_start is not None)
    served = result.model.featurizer
    assert served.categories_ == (on_train if reused else on_all).categories_
    booster = result.model.members[0].estimator.booster
    matrix = served.transform(frame)
    params = {k: v for k, v in booster.params.items() if k != "num_iterations"}
    plain = lgb.train(
        params,
        lgb.Dataset(
            matrix,
            label=demo_data.targets["sql"],
            categorical_feature=list(served.categorical_indices_),
            params={"verbosity": -1},
        ),
        num_boost_round=booster.current_iteration(),
    )
    assert np.allclose(
        plain.predict(matrix, raw_score=True), booster.predict(matrix, raw_score=True)
    )
