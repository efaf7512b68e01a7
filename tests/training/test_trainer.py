"""Training on real (small) demo data with real LightGBM: honesty checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from features.dataset import LeadData
from features.spec import KnownAt
from training.reasons import Wording
from training.splits import TrainingError, plan_split
from training.trainer import TrainOptions, train_model

FAST = {"learning_rate": 0.1}


def test_time_split_trains_before_and_tests_after(demo_data: LeadData) -> None:
    plan = plan_split(demo_data, "sql", TrainOptions())
    assert plan.kind == "time"
    fold = plan.folds[0]
    assert demo_data.times is not None
    assert demo_data.times[fold.train].max() < demo_data.times[fold.test].min()
    assert "out-of-time" in plan.description


def test_kfold_split_for_data_without_time(demo_data: LeadData) -> None:
    from features.spec import KFoldSplit

    spec = demo_data.spec.model_copy(update={"split": KFoldSplit(kind="stratified_kfold", folds=3)})
    plan = plan_split(replace(demo_data, spec=spec), "sql", TrainOptions())
    assert plan.kind == "stratified_kfold"
    assert len(plan.folds) == 3
    tested = np.sort(np.concatenate([f.test for f in plan.folds]))
    assert np.array_equal(tested, np.arange(len(demo_data)))
    assert "no out-of-time" in plan.description


def test_empty_test_period_is_refused(demo_data: LeadData) -> None:
    from datetime import date

    with pytest.raises(TrainingError, match="test period"):
        plan_split(demo_data, "sql", TrainOptions(test_start=date(2040, 1, 1)))


def test_arrival_model_never_reads_a_later_field(demo_data: LeadData) -> None:
    result = train_model(
        demo_data, TrainOptions(known_at=KnownAt.ARRIVAL, params=FAST, refit=False)
    )
    qualified = {
        column
        for feature in demo_data.spec.features
        if feature.known_at is KnownAt.QUALIFIED
        for column in feature.input_columns
    }
    assert qualified.isdisjoint(result.model.input_columns)
    # and changing every qualified answer leaves its scores unchanged
    rows = demo_data.frame.head(200).copy()
    before = result.model.predict_proba(rows)
    rng = np.random.default_rng(0)
    for column in qualified & set(rows.columns):
        rows[column] = rng.permutation(rows[column].to_numpy())
    assert np.array_equal(before, result.model.predict_proba(rows))


def test_lightgbm_learns_and_is_calibrated(demo_data: LeadData) -> None:
    result = train_model(
        demo_data, TrainOptions(known_at=KnownAt.QUALIFIED, params=FAST, refit=False)
    )
    metrics = result.evaluation.metrics
    assert metrics["lightgbm"].roc_auc > 0.7
    assert metrics["lightgbm"].roc_auc >= metrics["lightgbm_default"].roc_auc - 0.01
    assert "bant_rule" in metrics  # demo data has BANT answers
    # calibration on held-out data improves on the raw sigmoid of the booster's score
    assert metrics["lightgbm"].ece < 0.05
    assert result.evaluation.calibration[0] in {"isotonic", "sigmoid"}
    assert not result.per_channel.empty


def test_shuffled_labels_give_chance_auc(demo_data: LeadData) -> None:
    rng = np.random.default_rng(1)
    shuffled = dict(demo_data.targets)
    shuffled["sql"] = rng.permutation(shuffled["sql"])
    result = train_model(
        replace(demo_data, targets=shuffled),
        TrainOptions(known_at=KnownAt.QUALIFIED, params=FAST, refit=False),
    )
    assert abs(result.evaluation.metrics["lightgbm"].roc_auc - 0.5) < 0.05


def test_reasons_name_source_fields(demo_data: LeadData) -> None:
    result = train_model(
        demo_data, TrainOptions(known_at=KnownAt.QUALIFIED, params=FAST, refit=False)
    )
    scored = result.model.score(demo_data.frame.head(20), Wording(top_k=3))
    fields = {f.column for f in demo_data.spec.features}
    assert len(scored) == 20
    for lead in scored:
        assert 0 < lead.probability < 1
        assert lead.reasons, "every lead gets at least one reason"
        assert all(reason.field in fields and reason.phrase for reason in lead.reasons)
        ups = [r for r in lead.reasons if r.direction == "+"]
        downs = [r for r in lead.reasons if r.direction == "-"]
        assert len(ups) <= 3
        assert len(downs) <= 3


def test_won_is_chained_through_sql(demo_data: LeadData) -> None:
    from training.model import ChainEstimator, GbmEstimator

    assert demo_data.spec.funnel_parent("won") == "sql"
    assert demo_data.spec.funnel_parent("sql") is None
    options = TrainOptions(known_at=KnownAt.QUALIFIED, target="won", params=FAST, refit=False)
    result = train_model(demo_data, options)
    estimator = result.model.members[0].estimator
    assert isinstance(estimator, ChainEstimator)
    assert result.evaluation.metrics["lightgbm"].roc_auc > 0.75

    # its score is exactly P(sql) x P(won | sql) in log-odds
    matrix = result.model.transform(demo_data.frame.head(300))
    p_sql = 1 / (1 + np.exp(-estimator.first.raw_score(matrix)))
    p_won_given_sql = 1 / (1 + np.exp(-estimator.then.raw_score(matrix)))
    product = p_sql * p_won_given_sql
    assert np.allclose(estimator.raw_score(matrix), np.log(product / (1 - product)))

    # the second model learned from SQL leads only: it ranks won among them
    reached = demo_data.targets["sql"] == 1
    assert estimator.then.booster.num_trees() > 0
    assert reached.sum() < len(reached) / 2

    # reasons still name source fields, with the chained contributions (won is rare: most
    # fields move P(won) by less than the 1 pp a reason needs to be shown, so none is cut)
    scored = result.model.score(demo_data.frame.head(20), Wording(top_k=2, threshold_pp=0.0))
    assert all(lead.reasons for lead in scored)

    # the spec can turn the chain off: one model of won alone
    training = demo_data.spec.training.model_copy(update={"chain": False})
    direct_spec = demo_data.spec.model_copy(update={"training": training})
    direct = train_model(replace(demo_data, spec=direct_spec), options)
    assert isinstance(direct.model.members[0].estimator, GbmEstimator)


def test_chain_falls_back_when_targets_do_not_nest(demo_data: LeadData) -> None:
    from training.model import ChainEstimator

    rng = np.random.default_rng(3)
    targets = dict(demo_data.targets)
    targets["won"] = rng.permutation(targets["won"])  # won leads that never reached SQL
    options = TrainOptions(known_at=KnownAt.ARRIVAL, target="won", params=FAST, refit=False)
    result = train_model(replace(demo_data, targets=targets), options)
    # (on noise a baseline may win the registration; what matters is: no chain)
    assert not isinstance(result.model.members[0].estimator, ChainEstimator)
    [note] = [n for n in result.notes if "never reached 'sql'" in n]
    assert "fitted as one model" in note
    assert abs(result.evaluation.metrics["lightgbm"].roc_auc - 0.5) < 0.06


def test_chained_contributions_follow_the_score(demo_data: LeadData) -> None:
    """The linearised contributions move with the score: a lead's total tracks its log-odds."""
    options = TrainOptions(known_at=KnownAt.QUALIFIED, target="won", params=FAST, refit=False)
    model = train_model(demo_data, options).model
    matrix = model.transform(demo_data.frame.head(1000))
    estimator = model.members[0].estimator
    total = estimator.contributions(matrix).sum(axis=1)
    raw = estimator.raw_score(matrix)
    assert np.corrcoef(total, raw)[0, 1] > 0.9


def test_calibration_improves_ece_on_demo_data(demo_data: LeadData) -> None:
    """Up-weighted positives (a common imbalance fix) inflate the booster's probabilities;
    the calibrator fitted on the validation slice brings them back on the test period."""
    from training.metrics import expected_calibration_error

    options = TrainOptions(
        known_at=KnownAt.QUALIFIED,
        params={**FAST, "scale_pos_weight": 5.0},
        refit=False,
        refit_on_valid=False,
    )
    result = train_model(demo_data, options)
    test_rows = result.split.folds[0].test
    matrix = result.model.transform(demo_data.frame.iloc[test_rows])
    y = demo_data.targets["sql"][test_rows]
    raw = 1 / (1 + np.exp(-result.model.members[0].estimator.raw_score(matrix)))
    calibrated = result.model.probabilities(matrix)
    before, after = expected_calibration_error(y, raw), expected_calibration_error(y, calibrated)
    assert before > 0.05  # the weighted booster overstates every lead's chance
    assert after < 0.04
    assert after < before / 3
    assert abs(calibrated.mean() - y.mean()) < 0.03  # "0.2" means about 20% again


def test_trials_tune_on_the_validation_slice_before_evaluating(demo_data: LeadData) -> None:
    said: list[str] = []
    options = TrainOptions(known_at=KnownAt.ARRIVAL, params=FAST, trials=2, refit=False)
    result = train_model(demo_data, options, progress=said.append)
    assert said.index("tuning LightGBM: 2 trials on the validation slice") < len(said) - 1
    assert result.headline.roc_auc > 0.6
