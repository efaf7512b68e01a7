"""The first `make run`: `leadscore up` in a fresh data directory until /health answers.

Each scenario runs the real command as a subprocess (demo data generated, the demo models
trained and registered, the API started) in a new temporary data directory and times
until ``GET /health`` answers 200, noting when the command's own lines appear. "quiet"
runs alone; "one core busy" runs beside a CPU burner (a process spinning on one core).
The load average before and after each run is in the table: other work on the machine
shows there. It prints the table and writes the "First run" section of docs/benchmarks.md.

    python benchmarks/first_run.py                      # both scenarios, 60k demo leads
    python benchmarks/first_run.py --scenarios quiet --demo-rows 20000
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
from report import markdown_table, write_section

ROOT = Path(__file__).resolve().parents[1]
LEADSCORE = ROOT / ".venv" / "bin" / "leadscore"
TARGETS = {"quiet": 240.0, "one core busy": 480.0}
#: Lines of `leadscore up` whose first appearance is timed: (column, start of the line).
MILESTONES = (("demo data s", "demo data:"), ("models s", "API keys"))


@dataclass(frozen=True)
class FirstRun:
    scenario: str
    seconds: float
    milestones: dict[str, float]
    load_before: float
    load_after: float
    ok: bool


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _burner() -> subprocess.Popen[bytes]:
    """A process that keeps one core busy until it is stopped."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def first_run(scenario: str, demo_rows: int, limit_s: float) -> FirstRun:
    """One `leadscore up` in a fresh data directory, timed until /health answers."""
    burner = _burner() if scenario == "one core busy" else None
    try:
        if burner is not None:
            time.sleep(2)  # let the burner reach its core
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="leadscore-first-run-") as tmp:
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADSCORE_", "OMP_"))}
            env |= {"LEADSCORE_DATA_DIR": str(Path(tmp) / "data"), "NO_COLOR": "1"}
            log_path = Path(tmp) / "up.log"
            command = [str(LEADSCORE), "up", "--port", str(port), "--demo-rows", str(demo_rows)]
            with log_path.open("wb") as log:
                started = time.monotonic()
                process = subprocess.Popen(
                    command,
                    cwd=tmp,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                seen: dict[str, float] = {}
                ok = False
                try:
                    while time.monotonic() - started < limit_s and process.poll() is None:
                        text = log_path.read_text(errors="replace")
                        for column, start in MILESTONES:
                            if column not in seen and start in text:
                                seen[column] = time.monotonic() - started
                        if _healthy(f"http://127.0.0.1:{port}/health"):
                            ok = True
                            break
                        time.sleep(1)
                    seconds = time.monotonic() - started
                finally:
                    _stop(process)
            if not ok:
                print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        return FirstRun(scenario, seconds, seen, load_before, os.getloadavg()[0], ok)
    finally:
        if burner is not None:
            burner.terminate()
            burner.wait()


def _row(run: FirstRun) -> dict[str, object]:
    target = TARGETS[run.scenario]
    return {
        "scenario": run.scenario,
        **{column: run.milestones.get(column, float("nan")) for column, _ in MILESTONES},
        "until /health s": run.seconds if run.ok else float("nan"),
        "target s": f"<= {target:.0f}",
        "met": "yes" if run.ok and run.seconds <= target else "no",
        "load avg before": run.load_before,
        "load avg after": run.load_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="quiet,one core busy")
    parser.add_argument("--demo-rows", type=int, default=60_000)
    parser.add_argument("--limit", type=float, default=900.0, help="Give up after seconds.")
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    args = parser.parse_args()
    rows = []
    for scenario in args.scenarios.split(","):
        if scenario not in TARGETS:
            parser.error(f"unknown scenario {scenario!r}; use: {', '.join(TARGETS)}")
        run = first_run(scenario, args.demo_rows, args.limit)
        rows.append(_row(run))
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.no_write:
        return
    body = (
        f"`leadscore up --demo-rows {args.demo_rows}` (what the first `make run` runs) in a "
        "fresh data directory, as a subprocess, until `GET /health` answers: demo data "
        "generated, the four demo models trained with their stored parameters (no search) "
        "and registered, the API started. Columns give the seconds at which the demo data "
        "was ready, the models were registered (the API keys are printed) and /health "
        'answered. "one core busy" runs beside a process spinning on one core. A load '
        "average above the core count means other work shared the machine.\n\n"
        + markdown_table(table, digits=1)
    )
    write_section("first_run", "First run (`benchmarks/first_run.py`)", body)


if __name__ == "__main__":
    main()
