"""The record each retrain leaves in MLflow, read back to make a repeated run a no-op.

Every retrain leaves an MLflow run tagged ``retrain.model``; its ``retrain.key`` (data
digest, window, gates) makes a repeated run with nothing new a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from training.registry import mlflow_client

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
