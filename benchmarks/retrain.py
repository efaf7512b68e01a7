"""Wall time of a monthly retrain over 12 months of leads at 5k and 100k leads a month.

Usage: .venv/bin/python benchmarks/retrain.py [--monthly 5000,100000] [--months 12]
           [--threads 0] [--runs 2,1]

One retrain is what `leadscore retrain` does for every model of the demo spec (arrival and
qualified x sql and won): settle the outcomes as of the retrain date, validate the data
through the spec, choose the window, train each challenger (features, LightGBM with early
stopping, calibration; the baselines too below 200k training rows), score it and the
champion on the window, PSI of every feature, tier changes of the open leads, log and
register it in MLflow with its decision. ``--runs`` per size: 1 = the first retrain (no
champion yet: every model is promoted); 2 = also the next month's run with champions in
place (forced on the same data, so the champions are loaded and scored too). Each size runs
in a fresh process (peak memory is its own); generating the demo data and creating the
empty MLflow store are not timed. Target: <= 5 minutes for 100k leads a month on the 2-core
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from report import markdown_table, write_section

PHASES = (
    ("settling outcomes", "settle + validate"),
    ("training the challenger", "train: features"),
    ("evaluation: LightGBM", "train: LightGBM"),
    ("evaluation: baselines", "train: baselines"),
    ("final model", "train: final fit"),
    ("scoring the champion", "judge: champion, PSI, tiers"),
    ("logging the challenger", "MLflow: log + register"),
)


class PhaseClock:
    """Turns progress messages into time spent per phase (until the next message)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._phase = "other"
        self._since = self._start = time.perf_counter()

    def __call__(self, message: str) -> None:
        now = time.perf_counter()
        if message:
            print(f"{now - self._start:8.1f}s  {message}", file=sys.stderr, flush=True)
        self.spent[self._phase] += now - self._since
        self._phase = next((name for key, name in PHASES if key in message), self._phase)
        self._since = now

    def stop(self) -> dict[str, float]:
        self("")
        return dict(self.spent)


def _action(report: Any) -> str:
    """'arrival-sql: refused (feature drift (PSI): ...)': what happened and why."""
    text = f"{report.name.removeprefix('leadscore-')}: {report.action.value}"
    failed = report.decision.failed if report.decision is not None else []
    if failed:
        text += " (" + "; ".join(r.message for r in failed) + ")"
    return text


def _child(monthly: int, months: int, runs: int) -> None:
    from datetime import date

    from features.demo import generate_leads
    from features.spec import load_spec
    from training.registry import ensure_experiment
    from training.retraining.config import MlflowTarget
    from training.retraining.cycle import RetrainConfig, retrain
    from training.retraining.labels import utc_timestamp

    frame, _ = generate_leads(n=monthly * months, seed=42, end=date(2026, 12, 31), months=months)
    spec = load_spec("demo")
    pairs = [(known_at, target) for known_at in spec.known_ats for target in spec.targets]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        target = MlflowTarget(
            f"sqlite:///{Path(tmp) / 'mlflow.db'}", "retrain-benchmark", Path(tmp) / "artifacts"
        )
        ensure_experiment(target.tracking_uri, target.experiment, target.artifact_root)
        config = RetrainConfig(as_of=utc_timestamp("2027-01-15"))
        plan = (("first (no champion)", False), ("monthly (champions in place)", True))
        for run, force in plan[:runs]:
            clock = PhaseClock()
            started = time.perf_counter()
            reports = retrain(
                frame,
                spec,
                pairs,
                RetrainConfig(**{**config.__dict__, "force": force}),
                target,
                source="benchmark",
                progress=clock,
            )
            seconds = time.perf_counter() - started
            out.append(
                {
                    "run": run,
                    "seconds": seconds,
                    "phases": clock.stop(),
                    "actions": [_action(r) for r in reports],
                    "windows": sorted({r.window.window.label for r in reports if r.window}),
                    "settled": max(len(r.settled.frame) for r in reports if r.settled),
                }
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[1]  # the 5-minute load: other work on the machine meanwhile
    print(json.dumps({"runs": out, "peak_mb": peak_mb, "load": round(load, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monthly", default="5000,100000", help="leads per month, comma-separated")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="OMP_NUM_THREADS for LightGBM (0: unset, the library default: every core)",
    )
    parser.add_argument(
        "--runs",
        default="2,1",
        help="retrains per size, in --monthly order: 2 = first + monthly, 1 = first only",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*(int(value) for value in args.child))
        return
    rows, phases, decisions = [], [], []
    sizes = [int(m) for m in args.monthly.split(",")]
    runs = [int(r) for r in args.runs.split(",")] + [1] * len(sizes)
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    for monthly, repeat in zip(sizes, runs, strict=False):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(monthly), str(args.months), str(repeat)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        print(f"({monthly}/month: {time.perf_counter() - started:.0f} s in all)", flush=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        for run in result["runs"]:
            rows.append(
                {
                    "leads/month": monthly,
                    "leads": monthly * args.months,
                    "settled": run["settled"],
                    "retrain": run["run"],
                    "models": len(run["actions"]),
                    "windows": ", ".join(run["windows"]),
                    "seconds": run["seconds"],
                    "minutes": run["seconds"] / 60,
                    "peak memory MB": result["peak_mb"],
                    "threads": args.threads or "all",
                    "load avg": result["load"],
                    "target": "<= 5 min" if monthly >= 100_000 else "",
                }
            )
            phases.append({"leads/month": monthly, "retrain": run["run"], **run["phases"]})
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
            print("   " + "; ".join(run["actions"]), flush=True)
            decisions.append(f"- {monthly}/month, {run['run']}: " + "; ".join(run["actions"]))
    table = pd.DataFrame(rows)
    spent = pd.DataFrame(phases).fillna(0.0)
    print(table.to_string(index=False))
    print(spent.to_string(index=False))
    body = (
        f"`leadscore retrain` on {args.months} months of demo leads for all four models "
        "(arrival/qualified x sql/won), from a data frame through the demo spec, as of "
        "2027-01-15, default gates and LightGBM parameters; each size in a fresh process "
        f"(OMP_NUM_THREADS={args.threads or 'unset'}; 'load avg' is the machine's 5-minute "
        "load at the end, other work included). "
        "The first retrain has no champion; the monthly one has champions in place (loaded "
        "from MLflow and scored on the window). Not timed: generating the data, creating the "
        "empty MLflow store.\n\n"
        + markdown_table(table, digits=1)
        + "\n\nWhere the time goes (seconds per phase, all four models):\n\n"
        + markdown_table(spent, digits=1)
        + "\n\nDecisions:\n\n"
        + "\n".join(decisions)
    )
    write_section("retrain", "Monthly retrain (`benchmarks/retrain.py`)", body)


if __name__ == "__main__":
    main()
