"""MLflow: logging training runs, the model registry and its aliases, loading champions.

Registered models are named ``leadscore-<stage>-<target>`` for the demo data set and
``leadscore-<dataset>-<stage>-<target>`` otherwise. The first version of a model gets the
alias ``champion``; later versions are promoted by the retraining gates (or by hand). The
tracking URI always comes from the caller (settings); nothing is set at import time.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from training.card import model_card
from training.importance import importance_table
from training.model import LeadModel
from training.plots import gains_plot, importance_plot, pr_plot, reliability_plot, roc_plot
from training.trainer import TrainResult, feature_table

CHAMPION = "champion"
PREVIOUS = "previous"
DEFAULT_DATASET = "demo"
_REQUIREMENTS = ("lightgbm", "scikit-learn", "pandas", "numpy", "cloudpickle", "mlflow")


def model_name(stage: str, target: str, dataset: str = DEFAULT_DATASET) -> str:
    if dataset == DEFAULT_DATASET:
        return f"leadscore-{stage}-{target}"
    return f"leadscore-{dataset}-{stage}-{target}"


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    model: LeadModel


class LeadModelPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """The MLflow wrapper: ``predict`` returns calibrated probabilities for raw rows."""

    def __init__(self, model: LeadModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self.model.predict_proba(model_input)


def _client(tracking_uri: str) -> MlflowClient:
    prepare_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def prepare_store(tracking_uri: str) -> None:
    """Create the folder of an embedded SQLite store, so a fresh machine needs no setup."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def ensure_experiment(tracking_uri: str, name: str, artifact_root: Path | None) -> str:
    """The experiment's id, creating it (with a local artifact folder) if needed."""
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if artifact_root is not None:
        artifact_root.mkdir(parents=True, exist_ok=True)
        location = artifact_root.as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def _pinned_requirements() -> list[str]:
    return [f"{name}=={dist_version(name)}" for name in _REQUIREMENTS]


def _log_plots(result: TrainResult, folder: Path) -> None:
    evaluation = result.evaluation
    y, chosen = evaluation.y, evaluation.predictions[result.chosen]
    roc_plot(y, evaluation.predictions, folder / "roc.png")
    pr_plot(y, evaluation.predictions, folder / "pr.png")
    reliability_plot(y, chosen, folder / "reliability.png")
    gains_plot(y, chosen, folder / "gains_lift.png")


def log_training_run(
    result: TrainResult,
    data_digest: str,
    tracking_uri: str,
    experiment: str,
    artifact_root: Path | None,
    register: bool = True,
    sample: pd.DataFrame | None = None,
    extra_tags: dict[str, str] | None = None,
    claim_champion: bool = True,
) -> tuple[str, ModelVersion | None]:
    """Log one trained model with its metrics, plots and card; register it. (run id, version)

    With ``claim_champion`` (the default) the first registered version of a model becomes
    its champion; the retraining gates pass False and move the alias themselves.
    """
    model = result.model
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    experiment_id = ensure_experiment(tracking_uri, experiment, artifact_root)
    name = model_name(model.stage, model.target, model.dataset)
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        mlflow.set_tags(
            {
                "dataset": model.dataset,
                "stage": model.stage,
                "target": model.target,
                "model_kind": model.kind,
                "split": result.split.description,
                "data_digest": data_digest,
                "flagged": str(result.flagged).lower(),
                "trained_until": result.trained_until or "",
                **(extra_tags or {}),
            }
        )
        mlflow.log_params(
            {
                **{f"lgbm.{k}": v for k, v in result.params.items()},
                "best_iteration": result.best_iteration,
                "calibration": ",".join(sorted(set(result.evaluation.calibration))),
                "split_kind": result.split.kind,
                "rows_train": result.rows_train,
                "rows_test": result.rows_test,
                "time_range": "" if result.time_range is None else " .. ".join(result.time_range),
            }
        )
        for candidate, metrics in result.evaluation.metrics.items():
            prefix = "" if candidate == result.chosen else f"{candidate}."
            mlflow.log_metrics(metrics.as_dict(prefix=f"test.{prefix}"))
        mlflow.log_metric("test.uncalibrated_valid_ece", result.evaluation.uncalibrated_ece)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _log_plots(result, folder)
            features = feature_table(model)
            features.to_csv(folder / "features.csv", index=False)
            result.per_channel.to_csv(folder / "per_channel.csv", index=False)
            if sample is not None and len(sample):
                importance = importance_table(model, sample)
                importance.to_csv(folder / "importance.csv", index=False)
                importance_plot(importance, "gain", "Importance by gain", folder / "imp_gain.png")
                importance_plot(
                    importance,
                    "mean_abs_shap",
                    "Importance by mean |SHAP|",
                    folder / "imp_shap.png",
                )
            (folder / "model_card.md").write_text(model_card(result), encoding="utf-8")
            (folder / "notes.json").write_text(json.dumps(result.notes, indent=2))
            mlflow.log_artifacts(str(folder))
        example = None if sample is None else _input_example(sample, model.input_columns)
        signature = None
        if example is not None:
            signature = _optional_inputs(infer_signature(example, model.predict_proba(example)))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=LeadModelPyfunc(model),
            signature=signature,
            input_example=example,
            pip_requirements=_pinned_requirements(),
            registered_model_name=name if register else None,
        )
        version = None
        if register and info.registered_model_version is not None:
            client = _client(tracking_uri)
            version = client.get_model_version(name, str(info.registered_model_version))
            for key, value in {
                "dataset": model.dataset,
                "roc_auc": f"{result.headline.roc_auc:.4f}",
                "model_kind": model.kind,
                "flagged": str(result.flagged).lower(),
                "trained_until": result.trained_until or "",
            }.items():
                client.set_model_version_tag(name, version.version, key, value)
            if claim_champion and champion_version(tracking_uri, name) is None:
                client.set_registered_model_alias(name, CHAMPION, version.version)
        return run.info.run_id, version


def _input_example(sample: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A few rows of the model's raw input, as text.

    The pipeline parses text exactly as it parses typed values (CSV exports arrive as
    text), and text keeps MLflow's schema check away from NaN in boolean columns and from
    timezone-aware timestamps, which its schemas cannot hold.
    """
    example = sample.head(5)[[c for c in columns if c in sample.columns]].copy()
    for column in example.columns:
        values = example[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        example[column] = values.map(lambda v: None if _missing(v) else str(v)).astype("string")
    return example


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


def _optional_inputs(signature: ModelSignature) -> ModelSignature:
    """Every input may be missing (unknown answers are normal for a lead)."""
    inputs = Schema(
        [ColSpec(spec.type, spec.name, required=False) for spec in signature.inputs.inputs]
    )
    return ModelSignature(inputs=inputs, outputs=signature.outputs)


def champion_version(tracking_uri: str, name: str, alias: str = CHAMPION) -> str | None:
    """The version the alias points at, or None (no such model or alias)."""
    try:
        return str(_client(tracking_uri).get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def load_version(tracking_uri: str, name: str, version: str) -> LoadedModel:
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    wrapper = pyfunc.unwrap_python_model()
    return LoadedModel(name=name, version=str(version), model=wrapper.model)


def load_champion(tracking_uri: str, name: str, alias: str = CHAMPION) -> LoadedModel | None:
    """The model behind ``name@alias``, or None when there is none."""
    version = champion_version(tracking_uri, name, alias)
    if version is None:
        return None
    return load_version(tracking_uri, name, version)


def set_alias(tracking_uri: str, name: str, alias: str, version: str) -> None:
    _client(tracking_uri).set_registered_model_alias(name, alias, version)


@dataclass(frozen=True)
class VersionRow:
    name: str
    version: str
    aliases: list[str]
    created: str
    dataset: str
    kind: str
    flagged: bool
    metrics: dict[str, float]


def list_versions(tracking_uri: str) -> list[VersionRow]:
    """Every registered leadscore model version with aliases and headline test metrics."""
    client = _client(tracking_uri)
    rows: list[VersionRow] = []
    for registered in client.search_registered_models(max_results=1000):
        if not registered.name.startswith("leadscore-"):
            continue
        aliases: dict[str, list[str]] = {}
        for alias, version in (registered.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in client.search_model_versions(f"name='{registered.name}'"):
            metrics: dict[str, float] = {}
            if mv.run_id:
                try:
                    metrics = dict(client.get_run(mv.run_id).data.metrics)
                except MlflowException:
                    metrics = {}
            rows.append(
                VersionRow(
                    name=registered.name,
                    version=str(mv.version),
                    aliases=sorted(aliases.get(str(mv.version), [])),
                    created=pd.Timestamp(mv.creation_timestamp, unit="ms").isoformat(),
                    dataset=mv.tags.get("dataset", ""),
                    kind=mv.tags.get("model_kind", ""),
                    flagged=mv.tags.get("flagged") == "true",
                    metrics=metrics,
                )
            )
    return sorted(rows, key=lambda r: (r.name, -int(r.version)))
