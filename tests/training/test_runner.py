"""Training every model of a data set: the caller's options reach every model; each run
says its steps and where it is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from features.dataset import LeadData
from features.spec import KFoldSplit, KnownAt
from training.runner import TOP_FEATURES, plan_models, time_left, train_and_register
from training.settings import TrainingSettings
from training.threads import available_threads
from training.trainer import TrainOptions


def test_every_option_of_the_base_reaches_each_model(
    demo_data: LeadData, mlflow_settings: TrainingSettings
) -> None:
    # without a time column the trainer cross-fits `members` models; 2 instead of the default 5
    spec = demo_data.spec.model_copy(update={"split": KFoldSplit(kind="stratified_kfold")})
    data = replace(demo_data, spec=spec, times=None)
    base = TrainOptions(params={"learning_rate": 0.2}, refit=False, members=2)
    pairs = plan_models(data.spec, [KnownAt.ARRIVAL], ["sql"])
    trained = train_and_register(data, "test", mlflow_settings, pairs, base, register=False)
    assert len(trained[0].result.model.members) == 2


def test_without_refit_the_evaluation_fit_is_the_final_model_and_the_run_reports_itself(
    demo_data: LeadData, mlflow_settings: TrainingSettings
) -> None:
    said: list[str] = []
    pairs = plan_models(demo_data.spec, [KnownAt.ARRIVAL], ["sql"])
    [trained] = train_and_register(
        demo_data,
        "test",
        mlflow_settings,
        pairs,
        TrainOptions(refit=False),
        register=False,
        progress=said.append,
    )
    result = trained.result
    # fitted once: the served model is the one the test period measured
    test_rows = result.evaluation.rows
    served = result.model.predict_proba(demo_data.frame.iloc[test_rows])
    assert np.array_equal(served, result.evaluation.predictions["lightgbm"])
    prefix = "model 1 of 1 leadscore-arrival-sql: "
    assert f"{prefix}final model: the evaluation fit" in said
    assert [line for line in said if line.startswith(prefix)][-1] == f"{prefix}logging to MLflow"
    assert said[-1].startswith("outlooks skipped: the export demo(n=12000, seed=7) is not a file")
    assert result.params["num_threads"] == available_threads()
    # where the run is and what drives the model, read back from what the run logged
    assert trained.run_id is not None
    assert trained.alias is None  # not registered
    assert trained.artifacts is not None
    assert (Path(trained.artifacts) / "importance.csv").is_file()
    values = [value for _source, value in trained.top_features]
    assert len(values) == TOP_FEATURES
    assert values == sorted(values, reverse=True)
    assert values[-1] > 0


def test_the_time_left_is_the_mean_model_time_times_the_models_left() -> None:
    assert time_left(40.0, 0, 4) == ""  # nothing measured yet
    assert time_left(40.0, 1, 4) == ", about 2 min left"
    assert time_left(20.0, 2, 4) == ", about 20 s left"
    assert time_left(1.0, 1, 2) == ", about 5 s left"
    assert time_left(99.0, 4, 4) == ""
