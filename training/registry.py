"""The MLflow model registry: model names, the one client helper, aliases, loading.

Registered models are named ``leadscore-<known_at>-<target>`` for the demo data set and
``leadscore-<dataset>-<known_at>-<target>`` otherwise; a moment's outlook (time to
conversion and expected value, ``training.outlook``) takes ``outlook`` for the target. The
first version of a model gets the alias ``champion``; later versions are promoted by the
retraining gates (or by hand).
When a new version is promoted the version it replaces keeps the alias ``previous`` (and
the new version remembers it in its ``replaced`` tag), so ``rollback`` can go back one
step and then further back the chain. The tracking URI always comes from the caller
(settings); nothing is set at import time.

A registry that cannot be reached is not a registry without champions: the alias look-up
raises :class:`RegistryUnreachableError` then, and :func:`bound_http_requests` bounds what
each MLflow HTTP request may cost (MLflow's own defaults wait minutes per call).

This module is what the scoring service imports to load champions: it must stay free of
the trainer, the plots and the tuner (run logging lives in the tracking package).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)
from mlflow.tracking import MlflowClient

from training.model import LeadModel
from training.outlook import OUTLOOK, LeadOutlook, Outlook

CHAMPION = "champion"
PREVIOUS = "previous"
#: A trained version held back for review (a baseline beat LightGBM): not served.
CANDIDATE = "candidate"
DEFAULT_DATASET = "demo"


def model_name(known_at: str, target: str, dataset: str = DEFAULT_DATASET) -> str:
    if dataset == DEFAULT_DATASET:
        return f"leadscore-{known_at}-{target}"
    return f"leadscore-{dataset}-{known_at}-{target}"


#: What the registry serves: a scoring model or a moment's outlook.
Served = TypeVar("Served", LeadModel, Outlook)


@dataclass(frozen=True)
class Versioned(Generic[Served]):
    """A served model with the registry name and version it was loaded as (and its run)."""

    name: str
    version: str
    model: Served
    run_id: str | None = None


#: A scoring model (``LeadModel``) as loaded: the versioned model of docs/architecture.md.
VersionedModel = Versioned[LeadModel]
#: A moment's outlook as loaded.
VersionedOutlook = Versioned[Outlook]


class LeadModelPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """The MLflow wrapper: ``predict`` returns calibrated probabilities for raw rows."""

    def __init__(self, model: LeadModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return self.model.predict_proba(model_input)


class OutlookPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """The MLflow wrapper of an outlook: ``predict`` returns one row of chances, value range
    and expected value per raw row."""

    def __init__(self, outlook: Outlook) -> None:
        self.outlook = outlook

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        rows = [_flat(o) for o in self.outlook.predict(model_input)]
        return pd.DataFrame(rows)


def _flat(outlook: LeadOutlook) -> dict[str, Any]:
    row = outlook.as_dict()
    return {**row.pop("within"), **row}


def outlook_name(known_at: str, dataset: str = DEFAULT_DATASET) -> str:
    """The registered name of a moment's outlook: the one naming rule, ``outlook`` for the
    target (``leadscore-arrival-outlook``)."""
    return model_name(known_at, OUTLOOK, dataset)


def mlflow_client(tracking_uri: str) -> MlflowClient:
    """The MLflow client for tracking and registry at ``tracking_uri`` (one store)."""
    prepare_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def prepare_store(tracking_uri: str) -> None:
    """Create the folder of an embedded SQLite store, so a fresh machine needs no setup."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


#: MLflow 3 shows an experiment by its kind; leadscore's runs are model development, so the
#: UI opens on runs, metrics and models (without it, on traces and GenAI views).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def ensure_experiment(tracking_uri: str, name: str, artifact_root: Path | None) -> str:
    """The experiment's id, creating it (with a local artifact folder) if needed; marked as
    a model-development experiment, also when it was created before that mark existed."""
    client = mlflow_client(tracking_uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return str(found.experiment_id)
    location = None
    if artifact_root is not None:
        artifact_root.mkdir(parents=True, exist_ok=True)
        location = artifact_root.as_uri()
    return str(
        client.create_experiment(
            name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
        )
    )


class RegistryUnreachableError(RuntimeError):
    """The registry did not answer (down, refused, timed out, failing): not "no champion"."""


#: What MLflow answers for a model or alias that does not exist (the alias look-up of an
#: unknown alias is an invalid parameter on MLflow's stores).
_NOT_FOUND = frozenset(
    ErrorCode.Name(code) for code in (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE)
)

#: The environment variables MLflow reads before every HTTP request it makes.
HTTP_TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"
HTTP_RETRIES_VARIABLE = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
HTTP_BACKOFF_VARIABLE = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"


def http_limits(timeout_seconds: int, max_retries: int, backoff_factor: int = 1) -> dict[str, str]:
    """The MLflow variables that bound one HTTP request: the connect and read timeout,
    the retries (the first one at once, then after ``backoff_factor`` x 2, x 4 ... s)."""
    return {
        HTTP_TIMEOUT_VARIABLE: str(timeout_seconds),
        HTTP_RETRIES_VARIABLE: str(max_retries),
        HTTP_BACKOFF_VARIABLE: str(backoff_factor),
    }


def bound_http_requests(timeout_seconds: int, max_retries: int, backoff_factor: int = 1) -> None:
    """Bound every HTTP request MLflow makes in this process (an ``http(s)://`` tracking
    URI): without it one look-up on a server that does not answer takes minutes (MLflow
    waits 120 s per attempt and retries 7 times). Sets the process environment, which
    MLflow reads at each request: call it once, when the process starts serving."""
    os.environ.update(http_limits(timeout_seconds, max_retries, backoff_factor))


def champion_version(tracking_uri: str, name: str, alias: str = CHAMPION) -> str | None:
    """The version the alias points at, or None (no such model or alias). A registry that
    does not answer raises :class:`RegistryUnreachableError`."""
    try:
        return str(mlflow_client(tracking_uri).get_model_version_by_alias(name, alias).version)
    except MlflowException as error:
        if error.error_code in _NOT_FOUND:
            return None
        raise RegistryUnreachableError(
            f"the model registry did not answer: {error.message}"
        ) from error


def _load_wrapper(tracking_uri: str, name: str, version: str) -> tuple[Any, str | None]:
    """The python model registered as ``name`` ``version``, and its run."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    run_id = pyfunc.metadata.run_id if pyfunc.metadata is not None else None
    return pyfunc.unwrap_python_model(), run_id or None


def load_version(tracking_uri: str, name: str, version: str) -> VersionedModel:
    wrapper, run_id = _load_wrapper(tracking_uri, name, version)
    return VersionedModel(name, str(version), wrapper.model, run_id)


def load_outlook(tracking_uri: str, name: str, alias: str = CHAMPION) -> VersionedOutlook | None:
    """The outlook behind ``name@alias``, or None when there is none."""
    version = champion_version(tracking_uri, name, alias)
    if version is None:
        return None
    wrapper, run_id = _load_wrapper(tracking_uri, name, version)
    if not isinstance(wrapper, OutlookPyfunc):
        raise TypeError(f"{name} v{version} is not an outlook")
    return VersionedOutlook(name, version, wrapper.outlook, run_id)


def load_champion(tracking_uri: str, name: str, alias: str = CHAMPION) -> VersionedModel | None:
    """The model behind ``name@alias``, or None when there is none."""
    version = champion_version(tracking_uri, name, alias)
    if version is None:
        return None
    return load_version(tracking_uri, name, version)


def set_alias(tracking_uri: str, name: str, alias: str, version: str) -> None:
    mlflow_client(tracking_uri).set_registered_model_alias(name, alias, version)


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
    client = mlflow_client(tracking_uri)
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


REPLACED_TAG = "replaced"


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
    client = mlflow_client(tracking_uri)
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
    if champion_version(tracking_uri, name, CANDIDATE) == version:
        client.delete_registered_model_alias(name, CANDIDATE)  # no longer waiting for a call
    return AliasChange(name, version, current, current)


def rollback(tracking_uri: str, name: str) -> AliasChange:
    """Back to the ``previous`` version; ``previous`` then moves one step further back."""
    client = mlflow_client(tracking_uri)
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


def tag_version(tracking_uri: str, name: str, version: str, tags: dict[str, str]) -> None:
    client = mlflow_client(tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value[:5000])


class ModelNotFoundError(LookupError):
    """A model reference the registry cannot resolve; the message says what was tried."""


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION`` -> (name, alias, version)."""
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name, alias, None
    if "/" in reference:
        name, version = reference.rsplit("/", 1)
        return name, None, version
    return reference, CHAMPION, None


def resolve_model(tracking_uri: str, reference: str) -> VersionedModel:
    """A registered model by ``NAME`` (its champion), ``NAME@ALIAS`` or ``NAME/VERSION``."""
    name, alias, version = split_reference(reference.strip())
    if version is None:
        version = champion_version(tracking_uri, name, alias or CHAMPION)
        if version is None:
            raise ModelNotFoundError(
                f"no model '{name}' with alias '{alias}' in the registry at {tracking_uri} "
                "(list them with `leadscore models`)"
            )
    try:
        return load_version(tracking_uri, name, version)
    except MlflowException as error:
        raise ModelNotFoundError(f"cannot load model '{name}' version {version}: {error}") from None
