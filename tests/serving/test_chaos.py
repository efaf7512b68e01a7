"""The short chaos run: the real service (uvicorn subprocess) on SQLite under a steady
client, SIGKILLed once mid-load and restarted. Nothing it acknowledged is lost, and what the kill
left unscored is scored within one sweep interval (benchmarks/chaos.py; the full run,
with PostgreSQL outages, is the benchmark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAOS = ROOT / "benchmarks" / "chaos.py"
SHORT = ["--backends", "sqlite", "--kills", "1", "--load-seconds", "1.5", "--sweep-seconds", "1"]
SHORT += ["--rate", "20", "--no-docs"]


def test_a_kill_under_load_loses_nothing_and_leaves_nothing_unscored(tmp_path: Path) -> None:
    figures = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    done = subprocess.run(
        [sys.executable, str(CHAOS), *SHORT, "--json", str(figures)],
        cwd=ROOT,
        env={**env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    (outcome,) = json.loads(figures.read_text(encoding="utf-8"))
    assert outcome["kills"] == 1
    assert len(outcome["restart_seconds"]) == 2  # the first start and the restart
    assert outcome["acknowledged"] > 0, done.stdout
    assert outcome["acknowledged_missing"] == 0, done.stdout
    assert outcome["unscored_after_recovery"] == 0, done.stdout
    assert outcome["errors_after_recovery"] == 0, done.stdout
    assert outcome["sweep_failure_logs"] == 0, done.stdout
    assert done.returncode == 0, done.stdout
