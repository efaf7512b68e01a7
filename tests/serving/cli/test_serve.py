"""`leadscore serve --workers 2`: two processes on one SQLite store take concurrent leads,
each stored once and scored, none refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from serving.store.leads import Store
from tests.serving.conftest import make_lead

KEY = "workers-test-key-0001"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_worker_processes_share_one_sqlite_store(tmp_path: Path) -> None:
    port = _free_port()
    database = tmp_path / "leads.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env |= {
        "LEADSCORE_DATA_DIR": str(tmp_path / "data"),
        "LEADSCORE_DATABASE_URL": f"sqlite:///{database}",
        "LEADSCORE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "LEADSCORE_API_KEYS": f"{KEY}:sdr:sdr-1",
        "LEADSCORE_MODEL_CHECK_SECONDS": "0",
        "LEADSCORE_REGISTRY_WAIT_SECONDS": "1",
        "OMP_NUM_THREADS": "1",
    }
    Store.open(f"sqlite:///{database}").close()  # migrated once, before two workers start
    command = [sys.executable, "-m", "serving", "serve", "--port", str(port), "--workers", "2"]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # two processes import the app at once
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "no answer within 300 s"
            time.sleep(0.2)
        started = (tmp_path / "serve.log").read_text()
        for _ in range(100):  # the second worker may still be starting
            if started.count("Started server process") >= 2:
                break
            time.sleep(0.2)
            started = (tmp_path / "serve.log").read_text()
        assert started.count("Started server process") == 2, started[-2000:]

        run = uuid.uuid4().hex[:6]

        def post(i: int) -> int:
            lead = make_lead(f"w-{run}-{i}", channel=["referral", "display"][i % 2])
            with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=30) as client:
                return client.post("/leads", json=lead).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(post, range(60)))
        assert codes == [201] * 60
        queue = httpx.get(f"{url}/queue", params={"limit": 100}, headers={"X-API-Key": KEY}).json()
        assert queue["total"] == 60
        assert all(item["probability"] is not None for item in queue["items"])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    if server.returncode not in (0, -signal.SIGTERM):
        pytest.fail(f"serve exited with {server.returncode}")
