"""Scale: the issue's benchmarks, one part per section of docs/benchmarks.md.

Usage: .venv/bin/python benchmarks/scale.py batch [--rows 1000000] [--repeats 3]

Parts (each writes its own section; only ``batch`` exists so far, the others of the issue
go in as functions of the same shape and a sub-command each):

- ``batch`` ("scale-batch"): batch scoring of ``--rows`` demo leads, as leads/s and as
  ratios to raw ``Booster.predict`` on the same rows, side by side in one run (each
  variant ``--repeats`` times, interleaved, medians): (a) raw ``Booster.predict`` of the
  featurized matrix, (b) the ``LeadModel`` path (featurize + predict + calibrate) on the
  prepared frame, (c) the same with the ``compiled`` extra (lleaves), (d) ``score_file``
  streaming the Parquet file chunk by chunk (read, prepare through the spec, score, write)
  plain and (e) compiled, (f) a Dask ``LocalCluster`` of 2 workers x 1 thread scoring the
  partitioned data set. Every variant runs LightGBM on 1 thread per process (the Dask
  row uses 2 processes). Then the peak memory (RSS) of the real ``leadscore score``
  command streaming a quarter of the rows and all of them, in fresh processes: constant
  when streaming works. Demo leads are generated once (``--generate`` rows) and repeated
  with new ids up to ``--rows``; the model is trained on ``--train-rows`` of them.
- later: retrain at 60k / 1.2M / 10M (item 1), train vs plain LightGBM (item 2), HTTP 1
  vs 2 workers (item 5), queue/claim latency with 1M stored leads (item 6).

The machine is shared: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before LightGBM loads: 1 thread per process
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from report import markdown_table, write_section  # noqa: E402

from features.dataset import prepare_frame  # noqa: E402
from features.demo import generate_leads  # noqa: E402
from features.spec import KnownAt, load_spec  # noqa: E402
from training import compiled, distributed  # noqa: E402
from training.batch import score_file, scoring_spec  # noqa: E402
from training.model import GbmEstimator, LeadModel  # noqa: E402
from training.trainer import TrainOptions, fit_final  # noqa: E402

OUTCOMES = ["status", "stage_reached", "status_history", "closed_at", "deal_value"]


def demo_leads(generate: int, rows: int) -> pd.DataFrame:
    """``generate`` demo leads repeated with fresh ids up to ``rows`` rows."""
    frame, _truth = generate_leads(n=generate, seed=42)
    copies = []
    for copy in range(-(-rows // generate)):
        part = frame.copy()
        part["external_id"] = part["external_id"] + f"-{copy}"
        copies.append(part)
    return pd.concat(copies, ignore_index=True).head(rows)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def peak_rss_mb(args: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of a command run to its end (its children included), in MB,
    read from the kernel's accounting of the finished child (ru_maxrss)."""
    code = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def register_champion(model_data: pd.DataFrame, data_dir: Path) -> None:
    """The benchmark's model trained again through the real trainer and registered as
    champion in a fresh MLflow store, for the `leadscore score` runs."""
    from training.settings import TrainingSettings
    from training.tracking.runs import log_training_run
    from training.trainer import train_model

    settings = TrainingSettings(data_dir=data_dir)
    data = prepare_frame(load_spec("demo"), model_data)
    result = train_model(data, TrainOptions(target="sql", refit=False))
    log_training_run(
        result,
        data_digest="bench",
        tracking_uri=settings.tracking_uri,
        experiment="bench",
        artifact_root=settings.artifact_root,
    )


def batch(args: argparse.Namespace) -> None:
    spec = load_spec("demo")
    work = Path(tempfile.mkdtemp(prefix="leadscore-scale-"))
    print(f"generating {args.generate} demo leads, repeated to {args.rows}", flush=True)
    leads = demo_leads(args.generate, args.rows)
    source = work / "leads.parquet"
    leads.drop(columns=OUTCOMES).to_parquet(source, row_group_size=100_000)
    parts = work / "parts"
    distributed.write_partitioned(leads.drop(columns=OUTCOMES), parts, 8)
    print(f"training the arrival/sql model on {args.train_rows} leads", flush=True)
    train = prepare_frame(spec, leads.head(args.train_rows))
    model = fit_final(train, TrainOptions(target="sql"))
    estimator = model.members[0].estimator
    assert isinstance(estimator, GbmEstimator)
    booster = estimator.booster
    frame = prepare_frame(scoring_spec(spec, KnownAt.ARRIVAL), leads).frame
    del leads
    matrix = model.transform(frame)
    fast: LeadModel | None = None
    if compiled.available():
        started = time.perf_counter()
        fast = compiled.compiled_model(model, work / "compiled")
        print(f"compiled in {time.perf_counter() - started:.1f} s", flush=True)
    variants: dict[str, Callable[[], object]] = {
        "raw Booster.predict (matrix)": lambda: booster.predict(
            matrix, raw_score=True, num_threads=1
        ),
        "LeadModel.predict_proba (frame)": lambda: model.predict_proba(frame),
        "score_file streaming (Parquet -> Parquet)": lambda: score_file(
            model, spec, source, work / "out.parquet", chunk_rows=args.chunk
        ),
    }
    if fast is not None:
        variants["LeadModel, compiled (frame)"] = lambda: fast.predict_proba(frame)
        variants["score_file streaming, compiled"] = lambda: score_file(
            fast, spec, source, work / "out-fast.parquet", chunk_rows=args.chunk
        )
    cluster = distributed.connect("local", workers=2, threads_per_worker=1)
    client = cluster.__enter__()
    variants["Dask LocalCluster 2x1 (partitioned Parquet)"] = lambda: distributed.scores_frame(
        client, model, spec, str(parts)
    ).compute()
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        for name, run in variants.items():
            seconds[name].append(timed(run))
            print(f"  repeat {repeat + 1}: {name}: {seconds[name][-1]:.2f} s", flush=True)
    cluster.__exit__(None, None, None)
    base = statistics.median(seconds["raw Booster.predict (matrix)"])
    rows = []
    for name, values in seconds.items():
        median = statistics.median(values)
        rows.append(
            {
                "path": name,
                "median s": median,
                "leads/s": args.rows / median,
                "x raw Booster.predict": base / median,
            }
        )
    speed = pd.DataFrame(rows)
    memory = streaming_memory(args, leads_file=source, work=work)
    load = os.getloadavg()
    print(speed.to_string(index=False))
    print(memory.to_string(index=False))
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    extra = "installed" if fast is not None else "not installed"
    body = (
        f"{args.rows:,} demo leads ({args.generate:,} generated, repeated with new ids), the "
        f"arrival/sql model trained on {args.train_rows:,} of them ({booster.num_trees()} "
        f"trees); LightGBM on 1 thread per process; each path {args.repeats} times, "
        f"interleaved, medians; the compiled extra (lleaves) {extra}; chunks of "
        f"{args.chunk:,} rows. Load average during the run: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared machine).\n\n"
        + markdown_table(speed, digits=2)
        + "\n\nPeak memory (RSS) of `leadscore score --no-compiled` streaming Parquet -> "
        "Parquet, in a fresh process each (the interpreter and libraries included):\n\n"
        + markdown_table(memory, digits=0)
        + "\n\nTargets: batch scoring >= 2x raw `Booster.predict` with the extra, >= 1x "
        "without."
    )
    write_section("scale-batch", "Scale: batch scoring (`benchmarks/scale.py batch`)", body)


def streaming_memory(args: argparse.Namespace, leads_file: Path, work: Path) -> pd.DataFrame:
    """Peak RSS of the real command on a quarter of the rows and on all of them."""
    import pyarrow.parquet as pq

    data_dir = work / "data"
    print("registering a champion for the `leadscore score` runs", flush=True)
    sample, _ = generate_leads(n=args.train_rows, seed=42)
    register_champion(sample, data_dir)
    env = {**os.environ, "LEADSCORE_DATA_DIR": str(data_dir)}
    table = pq.read_table(leads_file)
    rows = []
    for share in (4, 1):
        count = args.rows // share
        path = work / f"leads-{count}.parquet"
        pq.write_table(table.slice(0, count), path, row_group_size=100_000)
        command = [
            str(ROOT / ".venv" / "bin" / "leadscore"),
            "score",
            "--data",
            str(path),
            "--out",
            str(work / f"scored-{count}.parquet"),
            "--chunk-size",
            str(args.chunk),
            "--no-compiled",
        ]
        started = time.perf_counter()
        peak = peak_rss_mb(command, env)
        took = time.perf_counter() - started
        rows.append(
            {
                "leads": f"{count:,}",
                "input MB": path.stat().st_size / 1e6,
                "peak RSS MB": peak,
                "seconds": took,
            }
        )
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parts = parser.add_subparsers(dest="part", required=True)
    scoring = parts.add_parser("batch", help="batch scoring at 1M leads (scale-batch)")
    scoring.add_argument("--rows", type=int, default=1_000_000)
    scoring.add_argument("--generate", type=int, default=100_000)
    scoring.add_argument("--train-rows", type=int, default=50_000)
    scoring.add_argument("--repeats", type=int, default=3)
    scoring.add_argument("--chunk", type=int, default=100_000)
    args = parser.parse_args()
    if args.part == "batch":
        batch(args)


if __name__ == "__main__":
    main()
