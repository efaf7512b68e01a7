"""Moving the registry aliases by hand or after the gates, and the record of each retrain.

Aliases: ``champion`` is what the service scores with; when a new version is promoted the
version it replaces keeps the alias ``previous`` (and the new version remembers it in its
``replaced`` tag), so ``rollback`` can go back one step and then further back the chain.
Every retrain leaves an MLflow run tagged ``retrain.model``; its ``retrain.key`` (data
digest, window, gates) makes a repeated run with nothing new a no-op.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.metrics import Metrics
from training.registry import (
    CHAMPION,
    PREVIOUS,
    champion_version,
    ensure_experiment,
    prepare_store,
    set_alias,
)

REPLACED_TAG = "replaced"
RETRAIN_MODEL_TAG = "retrain.model"
RETRAIN_KEY_TAG = "retrain.key"


class PromotionError(ValueError):
    """An alias move that cannot be done (no such version, nothing to roll back to)."""


@dataclass(frozen=True)
class AliasChange:
    name: str
    champion: str  # the version now champion
    replaced: str | None  # the version that was champion before (None: none, or the same)
    previous: str | None  # the version the `previous` alias points at now

    def summary(self) -> str:
        if self.replaced is None:
            return f"{self.name}: version {self.champion} is champion (nothing replaced)"
        tail = f"; previous = {self.previous}" if self.previous else "; no previous version left"
        return f"{self.name}: champion {self.replaced} -> {self.champion}{tail}"


def _client(tracking_uri: str) -> MlflowClient:
    prepare_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _versions(client: MlflowClient, name: str) -> list[str]:
    try:
        found = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return []
    return sorted((str(v.version) for v in found), key=int)


def _check_version(client: MlflowClient, name: str, version: str) -> None:
    known = _versions(client, name)
    if not known:
        raise PromotionError(f"no registered model '{name}' (see `leadscore models`)")
    if str(version) not in known:
        raise PromotionError(
            f"model '{name}' has no version {version}; versions: {', '.join(known)}"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def promote(tracking_uri: str, name: str, version: str) -> AliasChange:
    """Make ``version`` the champion; the replaced champion becomes ``previous``."""
    client = _client(tracking_uri)
    version = str(version)
    _check_version(client, name, version)
    current = champion_version(tracking_uri, name)
    if current == version:
        previous = champion_version(tracking_uri, name, PREVIOUS)
        return AliasChange(name, version, None, previous)
    if current is not None:
        set_alias(tracking_uri, name, PREVIOUS, current)
        client.set_model_version_tag(name, version, REPLACED_TAG, current)
    set_alias(tracking_uri, name, CHAMPION, version)
    client.set_model_version_tag(name, version, "promoted_at", _now())
    return AliasChange(name, version, current, current)


def rollback(tracking_uri: str, name: str) -> AliasChange:
    """Back to the ``previous`` version; ``previous`` then moves one step further back."""
    client = _client(tracking_uri)
    target = champion_version(tracking_uri, name, PREVIOUS)
    if target is None:
        if not _versions(client, name):
            raise PromotionError(f"no registered model '{name}' (see `leadscore models`)")
        raise PromotionError(
            f"model '{name}' has no 'previous' version to roll back to; choose one with "
            "`leadscore promote MODEL VERSION`"
        )
    current = champion_version(tracking_uri, name)
    set_alias(tracking_uri, name, CHAMPION, target)
    earlier = client.get_model_version(name, target).tags.get(REPLACED_TAG)
    if earlier and earlier not in (target, current):
        set_alias(tracking_uri, name, PREVIOUS, earlier)
        previous: str | None = earlier
    else:
        client.delete_registered_model_alias(name, PREVIOUS)
        previous = None
    if current is not None:
        client.set_model_version_tag(name, current, "rolled_back_at", _now())
    return AliasChange(name, target, current, previous)


# --------------------------------------------------------------------------- retrain runs


@dataclass(frozen=True)
class RetrainRecord:
    run_id: str
    key: str
    decision: str
    version: str | None
    started: str


def latest_retrain(tracking_uri: str, experiment: str, name: str) -> RetrainRecord | None:
    """The most recent retrain run of model ``name`` (None when there is none)."""
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`{RETRAIN_MODEL_TAG}` = '{name}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    run = runs[0]
    tags = run.data.tags
    return RetrainRecord(
        run_id=run.info.run_id,
        key=tags.get(RETRAIN_KEY_TAG, ""),
        decision=tags.get("retrain.decision", ""),
        version=tags.get("retrain.version") or None,
        started=datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(
            timespec="seconds"
        ),
    )


def record_on_run(
    tracking_uri: str,
    run_id: str,
    tags: dict[str, str],
    metrics: dict[str, float],
    files: dict[str, str],
) -> None:
    """Add tags, metrics and text artifacts (file name -> content) to a finished run."""
    client = _client(tracking_uri)
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


def tag_version(tracking_uri: str, name: str, version: str, tags: dict[str, str]) -> None:
    client = _client(tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value[:5000])


def decision_json(payload: dict[str, object]) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n"


def _version_run(tracking_uri: str, name: str, version: str) -> Run | None:
    """The MLflow run that logged ``version`` (None when not known)."""
    client = _client(tracking_uri)
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
    client = _client(tracking_uri)
    experiment_id = ensure_experiment(tracking_uri, experiment, artifact_root)
    run = client.create_run(experiment_id, tags=tags, run_name=run_name)
    run_id = str(run.info.run_id)
    try:
        record_on_run(tracking_uri, run_id, {}, {}, files)
    finally:
        client.set_terminated(run_id)
    return run_id
