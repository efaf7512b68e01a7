"""Training every model of a data set: the caller's options reach every model."""

from __future__ import annotations

from dataclasses import replace

from features.dataset import LeadData
from features.spec import KFoldSplit, KnownAt
from training.runner import plan_models, train_and_register
from training.settings import TrainingSettings
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
