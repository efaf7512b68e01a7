"""A real MLflow registry for the admin page's tests: one small LightGBM model trained on
demo leads, registered twice as ``leadscore-arrival-sql`` (versions 1 and 2), version 2
promoted (so version 1 is ``previous``). Built once per test module, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from training.registry import model_name, promote
from training.tracking.runs import log_training_run
from training.trainer import TrainOptions, train_model

NAME = model_name(KnownAt.ARRIVAL.value, "sql", "demo")


def tracking_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def build_registry(folder: Path) -> str:
    """The registry in ``folder``; its tracking URI."""
    frame, _truth = generate_leads(n=1500, seed=5)
    data = prepare_frame(load_spec("demo"), frame, source="demo(n=1500, seed=5)")
    options = TrainOptions(known_at=KnownAt.ARRIVAL, params={"learning_rate": 0.2}, refit=False)
    result = train_model(data, options)
    uri = tracking_uri(folder)
    for _ in range(2):
        log_training_run(result, "test", uri, "leadscore", folder / "artifacts", sample=None)
    promote(uri, NAME, "2")
    return uri


def copy_registry(source: Path, target: Path) -> str:
    """A copy of the registry's database (the artifacts stay where they are: read only)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "mlflow.db", target / "mlflow.db")
    return tracking_uri(target)
