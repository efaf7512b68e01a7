"""What the admin page shows: the models in service with their registry facts, the last
retrain of each with its gate table and drift report, the API keys in use (names and
roles); and the alias moves (promote, rollback) followed by a reload of the champions.

The registry is read only when the service loads its champions from one
(``RegistryLoader``); a service fed from memory has nothing to promote. Pure shaping
functions take what the registry answered; the ``read_*`` functions ask it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from features.i18n import N_
from serving.api.auth import ApiKey, KeyRing
from serving.api.deps import Services
from serving.modelset import RegistryLoader, Slot, load_model_set

#: The headline metrics of a version's test (the ``test.*`` metrics of its run).
HEADLINE = ("roc_auc", "log_loss", "ece", "lift_10")
CHAMPION, PREVIOUS = "champion", "previous"
#: The retrain decisions the page names (``retrain.decision`` tags; translated where shown).
DECISION_WORDS = (N_("promoted"), N_("refused"), N_("not decided"))


@dataclass(frozen=True)
class VersionFacts:
    version: str
    aliases: list[str]
    kind: str
    created: str
    trained_until: str | None
    metrics: dict[str, float]
    run_id: str | None
    run_url: str | None


@dataclass(frozen=True)
class ModelLine:
    """One expected model: its slot, the version in service and its registry versions."""

    name: str
    known_at: str
    target: str
    serving: str | None  # the version in service; None: the fallback rule scores
    run_id: str | None
    versions: list[VersionFacts] = field(default_factory=list)

    @property
    def champion(self) -> str | None:
        return next((v.version for v in self.versions if CHAMPION in v.aliases), None)

    @property
    def previous(self) -> str | None:
        return next((v.version for v in self.versions if PREVIOUS in v.aliases), None)

    @property
    def in_service(self) -> VersionFacts | None:
        return next((v for v in self.versions if v.version == self.serving), None)


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    value: str
    threshold: str
    message: str


@dataclass(frozen=True)
class RetrainView:
    model: str
    started: str
    decision: str
    version: str | None
    message: str
    window: str | None
    gates: list[Gate]
    drift: Markup | None  # the drift report, rendered from its Markdown
    run_url: str | None


def run_url(ui_url: str | None, experiment_id: str | None, run_id: str | None) -> str | None:
    """The MLflow UI's page of a run, when a UI address is known."""
    if not ui_url or not run_id or not experiment_id:
        return None
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def ui_address(configured: str | None, tracking_uri: str) -> str | None:
    """The MLflow UI: as configured, else the tracking server when it is one (http)."""
    if configured:
        return configured
    return tracking_uri if tracking_uri.startswith(("http://", "https://")) else None


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def gates_of(decision: Mapping[str, Any] | None) -> list[Gate]:
    """The gate table of a retrain's ``decision.json`` (its ``decision.reasons``)."""
    reasons = (decision or {}).get("reasons") or []
    return [
        Gate(
            name=str(reason.get("name", "")),
            passed=bool(reason.get("passed")),
            value=_number(reason.get("value")),
            threshold=_number(reason.get("threshold")),
            message=str(reason.get("message", "")),
        )
        for reason in reasons
        if isinstance(reason, Mapping)
    ]


def key_holders(ring: KeyRing) -> list[ApiKey]:
    """The keys in use, as names and roles, by role then name."""
    return sorted((holder for _digest, holder in ring.holders()), key=lambda k: (k.role, k.name))


def registry_uri(services: Services) -> str | None:
    """The registry's tracking URI when the service loads champions from one."""
    loader = services.loader
    return loader.tracking_uri if isinstance(loader, RegistryLoader) else None


def model_lines(
    names: Mapping[Slot, str],
    serving: Mapping[str, tuple[str, str | None]],
    versions: Mapping[str, list[VersionFacts]],
) -> list[ModelLine]:
    """Every expected model, by name, with the version in service (``serving``: name ->
    (version, run id)) and its registry versions (``versions``: name -> versions)."""
    lines = []
    for (known_at, target), name in sorted(names.items(), key=lambda item: item[1]):
        version, run_id = serving.get(name, (None, None))
        lines.append(ModelLine(name, known_at, target, version, run_id, versions.get(name, [])))
    return lines


# ------------------------------------------------------------------- registry reads


def read_model_lines(services: Services, ui_url: str | None) -> list[ModelLine]:
    """The models in service, with their registry versions when there is a registry."""
    assert services.models is not None
    current = services.models.current
    serving = {served.name: (served.version, served.run_id) for served in current.models.values()}
    uri = registry_uri(services)
    if uri is None:
        return model_lines(current.names, serving, {})
    from training.registry import list_versions, mlflow_client

    client = mlflow_client(uri)
    expected = set(current.names.values())
    versions: dict[str, list[VersionFacts]] = {}
    for row in list_versions(uri):
        if row.name not in expected:
            continue
        detail = client.get_model_version(row.name, row.version)
        run_id = detail.run_id or None
        experiment = client.get_run(run_id).info.experiment_id if run_id else None
        metrics = {m: row.metrics[f"test.{m}"] for m in HEADLINE if f"test.{m}" in row.metrics}
        versions.setdefault(row.name, []).append(
            VersionFacts(
                version=row.version,
                aliases=row.aliases,
                kind=row.kind,
                created=row.created[:16].replace("T", " "),
                trained_until=detail.tags.get("trained_until") or None,
                metrics=metrics,
                run_id=run_id,
                run_url=run_url(ui_url, experiment, run_id),
            )
        )
    return model_lines(current.names, serving, versions)


def read_retrains(
    services: Services, names: Iterable[str], ui_url: str | None
) -> list[RetrainView]:
    """The last retrain of each model, with its gates and drift report, if one is recorded."""
    uri = registry_uri(services)
    if uri is None:
        return []
    from training.registry import mlflow_client
    from training.retraining.records import latest_retrain

    client = mlflow_client(uri)
    experiment = services.settings.mlflow_experiment
    found = []
    for name in names:
        record = latest_retrain(uri, experiment, name)
        if record is None:
            continue
        run = client.get_run(record.run_id)
        payload = _artifact_json(client, record.run_id, "decision.json")
        window = (payload.get("window") or {}) if isinstance(payload.get("window"), dict) else {}
        found.append(
            RetrainView(
                model=name,
                started=record.started.replace("T", " "),
                decision=record.decision or DECISION_WORDS[-1],
                version=record.version,
                message=str(payload.get("message") or run.data.tags.get("retrain.reasons", "")),
                window=str(window.get("label")) if window.get("label") else None,
                gates=gates_of(payload.get("decision")),
                drift=markdown_html(_artifact_text(client, record.run_id, "drift.md")),
                run_url=run_url(ui_url, run.info.experiment_id, record.run_id),
            )
        )
    return found


def markdown_html(text: str | None) -> Markup | None:
    """A report written in Markdown (tables included) as HTML for a page; raw HTML in the
    text is escaped, not passed through."""
    if text is None:
        return None
    return Markup(MarkdownIt("js-default").render(text))


def _artifact_text(client: Any, run_id: str, path: str) -> str | None:
    """An artifact of a run as text; None when the run has none by that name."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as folder:
        try:
            local = client.download_artifacts(run_id, path, folder)
        except (MlflowException, OSError):
            return None
        return Path(local).read_text(encoding="utf-8")


def _artifact_json(client: Any, run_id: str, path: str) -> dict[str, Any]:
    text = _artifact_text(client, run_id, path)
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


# ------------------------------------------------------------------- alias moves


def reload_champions(services: Services) -> None:
    """Load the champion of every model now (as ``POST /admin/models/reload`` does)."""
    assert services.models is not None
    dataset = services.settings.dataset
    services.models.update(
        lambda current: load_model_set(services.loader, dataset, previous=current)
    )


def move_alias(services: Services, name: str, version: str | None) -> str:
    """Promote ``version`` of ``name`` (None: roll back to ``previous``), then reload the
    champions; what changed, in words. Raises ``PromotionError`` for a move the registry
    refuses."""
    from training.registry import promote, rollback

    uri = registry_uri(services)
    assert uri is not None
    change = rollback(uri, name) if version is None else promote(uri, name, version)
    reload_champions(services)
    return change.summary()


@dataclass(frozen=True)
class OutboxView:
    """The CRM outbox as the admin page shows it: rows per state, and the rows waiting or
    given up (newest first)."""

    counts: dict[str, int]
    entries: list[Any]


def outbox_view(services: Services, limit: int = 50) -> OutboxView:
    from serving.store.outbox import outbox_counts, outbox_entries

    assert services.store is not None
    return OutboxView(outbox_counts(services.store), outbox_entries(services.store, limit=limit))
