"""The layers point one way (features <- training <- serving), and the API process stays
free of what only training needs (the trainer, the tuner, the plots).

The first test reads every module's imports, lazy ones inside functions included. The
second registers a real champion in a temporary MLflow store, then starts the app in a
fresh interpreter, loads that champion, scores a lead and lists what got imported.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from training.options import TrainOptions
from training.tracking.runs import log_training_run
from training.trainer import train_model

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("features", "training", "serving")
#: What the API process must never import: training-only weight.
TRAINING_ONLY = (
    "matplotlib",
    "optuna",
    "training.trainer",
    "training.splits",
    "training.tracking",
)


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _upward_imports(layer: str) -> list[str]:
    higher = LAYERS[LAYERS.index(layer) + 1 :]
    wrong = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in sorted(_imported(path)):
            if module.split(".")[0] in higher:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    return wrong


@pytest.mark.parametrize("layer", ["features", "training"])
def test_no_module_imports_a_higher_layer(layer: str) -> None:
    assert (ROOT / layer / "__init__.py").exists()
    assert _upward_imports(layer) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("def f():\n    from serving.app import create_app\n", encoding="utf-8")
    assert "serving.app" in _imported(module)


SERVE_AND_LIST = """
import json, sys
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.settings import ServingSettings

settings = ServingSettings(data_dir=sys.argv[1], mlflow_tracking_uri=sys.argv[2], demo=True)
app = create_app(settings)
lead = {"external_id": "layers-1", "arrived_at": "2026-11-02T10:00:00Z",
        "source": {"channel": "partner", "email": "anna@acme-steel.ru"}}
with TestClient(app) as client:
    answer = client.post("/leads", json=lead, headers={"X-API-Key": "demo-sdr-key"}).json()
    served = app.state.services.models.current.get("arrival", "sql")
print(json.dumps({
    "served": None if served is None else served.version,
    "model": answer.get("model"),
    "modules": sorted(sys.modules),
}))
"""


def test_the_api_process_loads_a_champion_without_training_code(tmp_path: Path) -> None:
    frame, _truth = generate_leads(n=3000, seed=3)
    data = prepare_frame(load_spec("demo"), frame)
    options = TrainOptions(known_at=KnownAt.ARRIVAL, params={"learning_rate": 0.2}, refit=False)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    _run, version = log_training_run(
        train_model(data, options),
        data_digest="layers",
        tracking_uri=tracking_uri,
        experiment="leadscore",
        artifact_root=tmp_path / "mlflow" / "artifacts",
    )
    assert version is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST, str(tmp_path / "data"), tracking_uri],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["served"] == str(version.version)
    assert report["model"] == {"name": "leadscore-arrival-sql", "version": str(version.version)}
    loaded = [
        name
        for name in report["modules"]
        if any(name == banned or name.startswith(f"{banned}.") for banned in TRAINING_ONLY)
    ]
    assert loaded == []
