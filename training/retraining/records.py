"""The record each retrain leaves in MLflow, and reading it back.

A retrain that fits a challenger logs it as a training run (registered, never claiming
the champion alias itself) tagged ``retrain.model``, then records the decision on that
run: one ``gate.<name>`` tag per gate, the champion's window metrics, ``decision.json``,
the drift report and the tier changes. The run's ``retrain.key`` (data digest, window,
gates) makes a repeated run with nothing new a no-op.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from training.registry import mlflow_client, tag_version
from training.retraining.config import MlflowTarget
from training.retraining.drift import render_html, render_markdown
from training.retraining.gates import Decision
from training.retraining.report import ModelReport
from training.tracking.runs import log_training_run, record_on_run
from training.trainer import TrainResult

RETRAIN_MODEL_TAG = "retrain.model"
RETRAIN_KEY_TAG = "retrain.key"


@dataclass(frozen=True)
class RetrainRecord:
    run_id: str
    key: str
    decision: str
    version: str | None
    started: str


def latest_retrain(tracking_uri: str, experiment: str, name: str) -> RetrainRecord | None:
    """The most recent retrain run of model ``name`` (None when there is none)."""
    client = mlflow_client(tracking_uri)
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


def decision_json(payload: dict[str, object]) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n"


def verdict(decision: Decision) -> str:
    """The ``retrain.decision`` tag of a decision."""
    return "promoted" if decision.passed else "refused"


def log_challenger(
    result: TrainResult,
    digest: str,
    where: MlflowTarget,
    sample: pd.DataFrame,
    tags: dict[str, str],
) -> tuple[str, str | None]:
    """Log and register the challenger's run, without claiming the champion alias.

    Returns (run id, registered version).
    """
    run_id, version = log_training_run(
        result,
        digest,
        where.tracking_uri,
        where.experiment,
        where.artifact_root,
        sample=sample,
        extra_tags=tags,
        claim_champion=False,
    )
    return run_id, None if version is None else str(version.version)


def record_decision(report: ModelReport, tracking_uri: str) -> None:
    """Put the decision on the challenger's run and its registered version."""
    decision, window = report.decision, report.window
    assert decision is not None
    assert window is not None
    assert report.run_id is not None
    gate_tags = {f"gate.{_slug(r.name)}": "pass" if r.passed else "fail" for r in decision.reasons}
    tags = {
        "retrain.version": report.version or "",
        "retrain.reasons": decision.summary(),
        "retrain.tier_changes": report.tiers.summary() if report.tiers else "",
        **gate_tags,
    }
    champion = {} if report.champion is None else report.champion.as_dict("window.champion.")
    record_on_run(tracking_uri, report.run_id, tags, champion, _artifacts(report))
    if report.version is not None:
        labels = {"retrain.decision": verdict(decision), "retrain.window": window.window.label}
        tag_version(tracking_uri, report.name, report.version, labels)


def _artifacts(report: ModelReport) -> dict[str, str]:
    files = {"decision.json": decision_json(report.as_json())}
    if report.drift is not None:
        files["drift.md"] = render_markdown(report.drift)
        files["drift.html"] = render_html(report.drift)
    if report.tiers is not None:
        files["tier_changes.csv"] = report.tiers.matrix.to_csv()
    return files


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
