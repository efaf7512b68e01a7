"""Which project modules one `POST /leads` runs through, in call order.

Run it inside a checkout (``cwd`` = the checkout, ``PYTHONPATH`` = the checkout): it trains
a tiny arrival model on generated demo leads, publishes it in memory, starts the app on a
temporary SQLite store, posts one lead under a profiler and prints one JSON line. It uses
only names every version of the project has had, so `structure.py` can run it on an
older commit too.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

LAYERS = ("features", "training", "serving")


def _train() -> Any:
    from features.dataset import prepare_frame
    from features.demo import generate_leads
    from features.spec import KnownAt, load_spec
    from training.trainer import TrainOptions, train_model

    frame, _truth = generate_leads(n=3000, seed=3)
    data = prepare_frame(load_spec("demo"), frame)
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    moment = "known_at" if "known_at" in names else "stage"
    options = TrainOptions(**{moment: KnownAt.ARRIVAL}, params={"learning_rate": 0.2})
    return train_model(data, dataclasses.replace(options, refit=False)).model


def _module(frame: FrameType | None) -> str | None:
    if frame is None:
        return None
    name = str(frame.f_globals.get("__name__", ""))
    return name if name.split(".")[0] in LAYERS else None


class Tracer:
    """Records (caller module, callee module) of every call between project modules while
    ``active``; installed in every thread (the test client serves from its own thread)."""

    def __init__(self) -> None:
        self.active = False
        self.calls: list[tuple[str, str]] = []

    def __call__(self, frame: FrameType, event: str, _arg: Any) -> None:
        if not self.active or event != "call":
            return
        callee, caller = _module(frame), _module(frame.f_back)
        if callee is not None and caller is not None and callee != caller:
            self.calls.append((caller, callee))

    def install(self) -> None:
        threading.setprofile(self)
        sys.setprofile(self)


def main() -> None:
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.modelset import MemoryLoader
    from serving.settings import ServingSettings

    loader = MemoryLoader()
    loader.publish("leadscore-arrival-sql", "1", _train())
    lead = {
        "external_id": "trace-1",
        "arrived_at": "2026-11-02T10:00:00Z",
        "source": {"channel": "partner", "email": "anna@acme-steel.ru"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        settings = ServingSettings(data_dir=Path(tmp), demo=True, model_check_seconds=0)
        tracer = Tracer()
        tracer.install()
        with TestClient(create_app(settings, loader)) as client:
            tracer.active = True
            code = client.post("/leads", json=lead, headers={"X-API-Key": "demo-sdr-key"})
            tracer.active = False
        sys.setprofile(None)
    print(json.dumps({"status": code.status_code, "calls": tracer.calls}))


if __name__ == "__main__":
    main()
