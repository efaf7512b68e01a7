"""notebooks/channel_review.ipynb runs clean, top to bottom, on a demo store and MLflow.

The notebook reads its lead store and MLflow registry from the LEADSCORE_* settings, so the
test points those at a temporary SQLite store and a temporary MLflow store holding a real
registered champion, and runs the notebook in a real Jupyter kernel (nbclient) started
from this interpreter through a kernel spec written for the test (no installed kernel spec
needed).

The committed notebook carries the outputs of this run: ``make notebook`` runs this test
with LEADSCORE_SAVE_NOTEBOOK set, and the executed notebook is written back, with the
parameters cell as committed and the temporary paths shortened.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import load_spec
from serving.settings import ServingSettings
from serving.store.leads import Store
from tests.serving.demo_store import fill_store
from tests.training.channels.demo_model import train_demo_model
from training.tracking.runs import log_training_run

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "channel_review.ipynb"
KERNEL = "leadscore-test"
#: Where the executed notebook is written when set (``make notebook``).
SAVE_ENV = "LEADSCORE_SAVE_NOTEBOOK"
#: The parameters of the test run, said in the saved notebook next to its outputs.
RUN_PARAMETERS = {"CHANNEL": "paid_search", "MIN_LEADS": 30, "MIN_CONVERSIONS": 3}


def _kernel_spec(root: Path) -> Path:
    """A kernel spec that starts ipykernel with this interpreter; returns its JUPYTER_PATH."""
    folder = root / "jupyter" / "kernels" / KERNEL
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "leadscore (test)",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return root / "jupyter"


def _set_parameters(notebook: nbformat.NotebookNode, **values: object) -> None:
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    lines = cell.source.splitlines()
    for name, value in values.items():
        lines = [f"{name} = {value!r}" if line.startswith(f"{name} =") else line for line in lines]
    cell.source = "\n".join(lines)


def _save(
    executed: nbformat.NotebookNode, committed: nbformat.NotebookNode, root: Path, path: Path
) -> None:
    """Write the executed notebook with the committed parameters cell and the temporary
    folder shown as ``demo/``, noting what the outputs came from."""
    saved = copy.deepcopy(executed)
    for cell, original in zip(saved.cells, committed.cells, strict=True):
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = original.source
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = output["text"].replace(str(root), "demo")
    used = ", ".join(f"{name}={value!r}" for name, value in RUN_PARAMETERS.items())
    saved.cells[0].source = committed.cells[0].source.split("\n\n_The outputs")[0] + (
        f"\n\n_The outputs below come from a demo run (2,500 synthetic leads, 400 of them in "
        f"the lead store; {used}). `make notebook` refreshes them._"
    )
    nbformat.write(saved, path)


def _text(notebook: nbformat.NotebookNode) -> str:
    parts: list[str] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_channel_review_notebook_runs_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ServingSettings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'leads.db'}"
    )
    frame, _truth = generate_leads(n=2500, seed=31)
    data = prepare_frame(load_spec("demo"), frame)
    result = train_demo_model(data)
    _run, version = log_training_run(
        result,
        data_digest="test",
        tracking_uri=settings.tracking_uri,
        experiment=settings.mlflow_experiment,
        artifact_root=settings.artifact_root,
        sample=data.frame.head(200),
    )
    assert version is not None
    store = Store.open(settings.store_url)
    try:
        fill_store(store, frame.tail(400).to_dict(orient="records"))
    finally:
        store.close()

    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", settings.store_url)
    monkeypatch.setenv("JUPYTER_PATH", str(_kernel_spec(tmp_path)))
    committed = nbformat.read(NOTEBOOK, as_version=4)
    notebook = copy.deepcopy(committed)
    _set_parameters(notebook, **RUN_PARAMETERS)
    client = NotebookClient(
        notebook,
        timeout=240,
        kernel_name=KERNEL,
        # run where Jupyter starts it: in notebooks/, not at the top of the checkout
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails

    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = _text(notebook)
    assert "400 leads arrived in the period 'all'" in text
    assert f"leadscore-qualified-sql v{version.version}" in text
    assert "channel: paid_search (ok)" in text
    assert "raises the chance of SQL" in text
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 5
    written = settings.data_dir / "reports" / "channels-all" / "channel_report.html"
    assert written.exists()
    if save_to := os.environ.get(SAVE_ENV):
        _save(notebook, committed, tmp_path, Path(save_to))
