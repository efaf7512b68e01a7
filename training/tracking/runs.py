"""Logging training runs to MLflow and reading back what a version's run recorded.

One run per trained model: tags (data set, known_at, target, split, data digest), the
LightGBM parameters, the test metrics of the chosen model and of each baseline, the
plots, the feature table, the importance table and the model card; the model itself is
logged as a pyfunc and registered under the registry's name.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, fields
from datetime import UTC
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema

from training.baselines import stratified_positions
from training.importance import importance_table
from training.metrics import Metrics
from training.registry import (
    CHAMPION,
    LeadModelPyfunc,
    champion_version,
    ensure_experiment,
    mlflow_client,
    model_name,
)
from training.tracking.card import model_card
from training.tracking.plots import gains_plot, importance_plot, pr_plot, reliability_plot, roc_plot
from training.trainer import Evaluation, TrainResult, feature_table

_REQUIREMENTS = ("lightgbm", "scikit-learn", "pandas", "numpy", "cloudpickle", "mlflow")


def pinned_requirements() -> list[str]:
    """The installed versions of what a logged model needs to load, pinned."""
    return [f"{name}=={dist_version(name)}" for name in _REQUIREMENTS]


#: Test rows the plots are drawn from (a stratified sample above it): the same curves,
#: whatever the size of the test period, for a fixed cost.
PLOT_ROWS = 20_000


def _plotted(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    at = stratified_positions(y, PLOT_ROWS)
    return y[at], p[at]


def _log_plots(result: TrainResult, folder: Path) -> None:
    evaluation = result.evaluation
    curves = {name: _plotted(*evaluation.scored(name)) for name in evaluation.predictions}
    y, chosen = curves[result.chosen]
    roc_plot(curves, folder / "roc.png")
    pr_plot(curves, folder / "pr.png")
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
    name = model_name(model.known_at, model.target, model.dataset)
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        mlflow.set_tags({**_run_tags(result, data_digest), **(extra_tags or {})})
        mlflow.log_params(_run_params(result))
        _log_test_metrics(result)
        _log_artifacts(result, sample)
        registered = _log_model(result, sample, name if register else None)
        version = None
        if registered is not None:
            version = _tag_version(tracking_uri, name, registered, result)
            if claim_champion and champion_version(tracking_uri, name) is None:
                mlflow_client(tracking_uri).set_registered_model_alias(
                    name, CHAMPION, version.version
                )
        return run.info.run_id, version


def _run_tags(result: TrainResult, data_digest: str) -> dict[str, str]:
    model = result.model
    return {
        "dataset": model.dataset,
        "known_at": model.known_at,
        "target": model.target,
        "model_kind": model.kind,
        "split": result.split.description,
        "data_digest": data_digest,
        "flagged": str(result.flagged).lower(),
        "trained_until": result.trained_until or "",
    }


def _run_params(result: TrainResult) -> dict[str, Any]:
    """The run's parameters; ``best_iteration`` only when the model is LightGBM (a
    logistic model has no boosting rounds)."""
    rounds = {"best_iteration": result.best_iteration} if result.model.kind == "lightgbm" else {}
    evaluation = result.evaluation
    return {
        **{f"lgbm.{k}": v for k, v in result.params.items()},
        **rounds,
        "calibration": ",".join(sorted(set(result.evaluation.calibration))),
        "split_kind": result.split.kind,
        "rows_train": result.rows_train,
        "rows_test": result.rows_test,
        "baseline_rows": evaluation.baseline_rows,
        "rule_rows": _rule_rows(evaluation),
        "time_range": "" if result.time_range is None else " .. ".join(result.time_range),
    }


def _rule_rows(evaluation: Evaluation) -> int:
    """Test rows the BANT rule was scored on (0: the data has no BANT answers)."""
    if "bant_rule" not in evaluation.predictions:
        return 0
    return len(evaluation.scored("bant_rule")[0])


def _log_test_metrics(result: TrainResult) -> None:
    """The chosen model's test metrics as ``test.*``, each baseline's as ``test.<name>.*``."""
    for candidate, metrics in result.evaluation.metrics.items():
        prefix = "" if candidate == result.chosen else f"{candidate}."
        mlflow.log_metrics(metrics.as_dict(prefix=f"test.{prefix}"))
    mlflow.log_metric("test.uncalibrated_valid_ece", result.evaluation.uncalibrated_ece)


def _log_artifacts(result: TrainResult, sample: pd.DataFrame | None) -> None:
    """Plots, the feature and per-channel tables, importance (on ``sample``), the card."""
    model = result.model
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _log_plots(result, folder)
        feature_table(model).to_csv(folder / "features.csv", index=False)
        result.per_channel.to_csv(folder / "per_channel.csv", index=False)
        if sample is not None and len(sample):
            importance = importance_table(model, sample)
            importance.to_csv(folder / "importance.csv", index=False)
            importance_plot(importance, "gain", "Importance by gain", folder / "imp_gain.png")
            importance_plot(
                importance, "mean_abs_shap", "Importance by mean |SHAP|", folder / "imp_shap.png"
            )
        (folder / "model_card.md").write_text(model_card(result), encoding="utf-8")
        (folder / "notes.json").write_text(json.dumps(result.notes, indent=2))
        mlflow.log_artifacts(str(folder))


def _log_model(
    result: TrainResult, sample: pd.DataFrame | None, registered_name: str | None
) -> str | None:
    """The model as an MLflow pyfunc (registered under ``registered_name`` if given); the
    registered version number, or None."""
    model = result.model
    example = None if sample is None else _input_example(sample, model.input_columns)
    signature = None
    if example is not None:
        signature = _optional_inputs(infer_signature(example, model.predict_proba(example)))
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=LeadModelPyfunc(model),
        signature=signature,
        input_example=example,
        pip_requirements=pinned_requirements(),
        registered_model_name=registered_name,
    )
    if registered_name is None or info.registered_model_version is None:
        return None
    return str(info.registered_model_version)


def _tag_version(tracking_uri: str, name: str, version: str, result: TrainResult) -> ModelVersion:
    """Headline facts on the registered version, so `leadscore models` reads them cheaply."""
    client = mlflow_client(tracking_uri)
    model = result.model
    tags = {
        "dataset": model.dataset,
        "roc_auc": f"{result.headline.roc_auc:.4f}",
        "model_kind": model.kind,
        "flagged": str(result.flagged).lower(),
        "trained_until": result.trained_until or "",
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    return client.get_model_version(name, version)


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


def record_on_run(
    tracking_uri: str,
    run_id: str,
    tags: dict[str, str],
    metrics: dict[str, float],
    files: dict[str, str],
) -> None:
    """Add tags, metrics and text artifacts (file name -> content) to a finished run."""
    client = mlflow_client(tracking_uri)
    for key, value in tags.items():
        client.set_tag(run_id, key, value[:5000])
    for name, number in metrics.items():
        if number == number:  # not NaN
            client.log_metric(run_id, name, float(number))
    with tempfile.TemporaryDirectory() as tmp:
        for file_name, content in files.items():
            path = Path(tmp) / file_name
            path.write_text(content, encoding="utf-8")
            client.log_artifact(run_id, str(path))


def artifact_location(tracking_uri: str, run_id: str) -> str:
    """Where a run's artifacts are: a local path for a file store, else the URI."""
    uri = str(mlflow_client(tracking_uri).get_run(run_id).info.artifact_uri)
    return uri.removeprefix("file://") if uri.startswith("file://") else uri


def logged_importance(tracking_uri: str, run_id: str) -> pd.DataFrame | None:
    """The importance table a training run logged (source, gain, mean |SHAP|), or None
    when the run has none."""
    client = mlflow_client(tracking_uri)
    if not any(item.path == "importance.csv" for item in client.list_artifacts(run_id)):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, "importance.csv", tmp)
        return pd.read_csv(path)


def _version_run(tracking_uri: str, name: str, version: str) -> Run | None:
    """The MLflow run that logged ``version`` (None when not known)."""
    client = mlflow_client(tracking_uri)
    try:
        run_id = client.get_model_version(name, version).run_id
        return client.get_run(run_id) if run_id else None
    except MlflowException:
        return None


def _utc(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def trained_until(tracking_uri: str, name: str, version: str) -> pd.Timestamp | None:
    """The training cut-off a retrain recorded for ``version`` (None when not known)."""
    run = _version_run(tracking_uri, name, version)
    value = run.data.tags.get("retrain.trained_until") if run else None
    return _utc(value) if value else None


@dataclass(frozen=True)
class TrainingRecord:
    """What a version's training run logged about the data it was fitted and tested on."""

    fitted_until: pd.Timestamp | None  # the newest lead it was fitted on (None: unknown)
    test: Metrics | None  # its own out-of-sample test (None: not logged)


def training_record(tracking_uri: str, name: str, version: str) -> TrainingRecord:
    """The ``trained_until`` tag (runs logged before it existed: the end of the data's time
    range, never earlier than the truth) and the ``test.*`` metrics of ``version``'s run."""
    run = _version_run(tracking_uri, name, version)
    if run is None:
        return TrainingRecord(None, None)
    tags, params = run.data.tags, run.data.params
    text = tags.get("trained_until") or params.get("time_range", "").partition(" .. ")[2]
    return TrainingRecord(_utc(text) if text else None, _logged_test(run.data.metrics))


def _logged_test(logged: dict[str, float]) -> Metrics | None:
    """``Metrics`` from a training run's ``test.*`` metrics (None if any is missing)."""
    names = [f.name for f in fields(Metrics)]
    if any(f"test.{name}" not in logged for name in names):
        return None
    values: dict[str, Any] = {name: logged[f"test.{name}"] for name in names}
    values["rows"], values["positives"] = int(values["rows"]), int(values["positives"])
    return Metrics(**values)


def log_report_run(
    tracking_uri: str,
    experiment: str,
    artifact_root: Path | None,
    run_name: str,
    tags: dict[str, str],
    files: dict[str, str],
) -> str:
    """A run holding a report (e.g. the drift report) as text artifacts; its id."""
    client = mlflow_client(tracking_uri)
    experiment_id = ensure_experiment(tracking_uri, experiment, artifact_root)
    run = client.create_run(experiment_id, tags=tags, run_name=run_name)
    run_id = str(run.info.run_id)
    try:
        record_on_run(tracking_uri, run_id, {}, {}, files)
    finally:
        client.set_terminated(run_id)
    return run_id
