"""Small real data for training tests: demo leads generated on the fly, a temp MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.dataset import LeadData, prepare_frame
from features.demo import generate_leads
from features.spec import load_spec
from training.settings import TrainingSettings

DEMO_ROWS = 12_000


@pytest.fixture(scope="session")
def demo_data() -> LeadData:
    frame, _truth = generate_leads(n=DEMO_ROWS, seed=7)
    return prepare_frame(load_spec("demo"), frame, source="demo(n=12000, seed=7)")


@pytest.fixture
def mlflow_settings(tmp_path: Path) -> TrainingSettings:
    return TrainingSettings(data_dir=tmp_path / "data")
