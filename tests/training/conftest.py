"""Small real data for training tests: demo leads generated on the fly, a temp MLflow store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.dataset import LeadData, load_dataset, prepare_frame
from features.demo import generate_leads
from features.spec import load_spec
from training.settings import TrainingSettings
from training.tracking.runs import log_training_run
from training.trainer import TrainResult

DEMO_ROWS = 12_000
#: What a CRM export of leads still to score lacks: the outcome columns.
OUTCOMES = ["status", "stage_reached", "status_history", "closed_at", "deal_value"]


@pytest.fixture(scope="session")
def demo_data() -> LeadData:
    frame, _truth = generate_leads(n=DEMO_ROWS, seed=7)
    return prepare_frame(load_spec("demo"), frame, source="demo(n=12000, seed=7)")


@pytest.fixture(scope="session")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[LeadData, pd.DataFrame]:
    """A demo export file of 6,000 leads over 20 months, loaded, and the frame as written."""
    frame, _ = generate_leads(n=6_000, seed=11)
    path = tmp_path_factory.mktemp("export") / "leads.parquet"
    frame.to_parquet(path)
    return load_dataset(load_spec("demo"), path), frame


@pytest.fixture
def mlflow_settings(tmp_path: Path) -> TrainingSettings:
    return TrainingSettings(data_dir=tmp_path / "data")


def register(
    result: TrainResult, settings: TrainingSettings, sample: pd.DataFrame | None = None
) -> str:
    """Log and register a trained model in the settings' MLflow store; its version."""
    _run, version = log_training_run(
        result,
        data_digest="test",
        tracking_uri=settings.tracking_uri,
        experiment="test",
        artifact_root=settings.artifact_root,
        sample=sample,
    )
    assert version is not None
    return str(version.version)
