"""Train and register the models of a data set: every known_at x target, one MLflow run each."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mlflow.entities.model_registry import ModelVersion

from features.dataset import LeadData
from features.spec import DatasetSpec, KnownAt
from training.registry import model_name
from training.settings import TrainingSettings
from training.tracking.runs import log_training_run
from training.trainer import TrainOptions, TrainResult, train_model

IMPORTANCE_SAMPLE = 5000


@dataclass(frozen=True)
class Trained:
    name: str
    result: TrainResult
    run_id: str | None
    version: ModelVersion | None


def file_digest(path: Path) -> str:
    """A short content digest of a data file (tags every run trained on it)."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda message: say(f"{prefix}: {message}")


def plan_models(
    spec: DatasetSpec, known_ats: list[KnownAt] | None, targets: list[str] | None
) -> list[tuple[KnownAt, str]]:
    """Every (known_at, target) pair to train; unknown names raise ValueError naming the
    valid ones."""
    available = spec.known_ats
    chosen = known_ats or available
    for known_at in chosen:
        if known_at not in available:
            valid = ", ".join(s.value for s in available)
            raise ValueError(
                f"no features are known at '{known_at.value}' in this spec; use: {valid}"
            )
    chosen_targets = targets or list(spec.targets)
    for target in chosen_targets:
        if target not in spec.targets:
            raise ValueError(
                f"unknown target '{target}'; the spec defines: {', '.join(spec.targets)}"
            )
    return [(s, t) for s in chosen for t in chosen_targets]


def train_and_register(
    data: LeadData,
    digest: str,
    settings: TrainingSettings,
    pairs: list[tuple[KnownAt, str]],
    base: TrainOptions,
    register: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Trained]:
    """Train each (known_at, target) with ``base``'s other options, log it to MLflow and
    register it (first version: champion)."""
    say = progress or (lambda _message: None)
    sample = data.frame.sample(n=min(IMPORTANCE_SAMPLE, len(data)), random_state=0)
    out: list[Trained] = []
    for known_at, target in pairs:
        name = model_name(known_at.value, target, data.spec.name)
        options = replace(base, known_at=known_at, target=target)
        result = train_model(data, options, progress=_prefixed(say, name))
        say(f"{name}: logging to MLflow")
        run_id, version = log_training_run(
            result,
            data_digest=digest,
            tracking_uri=settings.tracking_uri,
            experiment=settings.mlflow_experiment,
            artifact_root=settings.artifact_root,
            register=register,
            sample=sample,
        )
        out.append(Trained(name=name, result=result, run_id=run_id, version=version))
    return out
