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
- ``retrain`` ("scale-retrain"): ``leadscore retrain`` of the demo spec's four models on
  ``--leads`` demo leads (comma-separated sizes, 12 months each), each size in a fresh
  process: seconds, peak memory (RSS, the kernel's ``ru_maxrss``), KB per lead, KB per
  lead at the margin (the difference to the next smaller size) and the peak RSS of each
  phase (sampled every 20 ms by a thread, from the progress messages of the retrain). As
  with ``leadscore retrain --data FILE``, the measured process reads the leads from a
  Parquet file (through the spec's reader) that another process generated and wrote
  (``--cache DIR`` keeps and reuses those files); the frame read is held throughout (it is
  the caller's); neither generating nor reading it is timed.
- later: train vs plain LightGBM (item 2), HTTP 1 vs 2 workers (item 5), queue/claim
  latency with 1M stored leads (item 6).

The machine is shared: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before LightGBM loads: 1 thread per process
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
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


# --------------------------------------------------------------------------- retrain

#: Retrain phases told apart by their progress messages (benchmarks/retrain.py's), plus
#: the data read before the retrain starts.
RETRAIN_PHASES = (
    ("settling outcomes", "settle + validate"),
    ("training the challenger", "train"),
    ("evaluation: LightGBM", "train"),
    ("evaluation: baselines", "train"),
    ("final model", "train"),
    ("scoring the champion", "judge"),
    ("logging the challenger", "MLflow"),
)


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class PhaseMemory:
    """The peak RSS of each retrain phase, sampled by a thread; the phase follows the
    retrain's progress messages."""

    def __init__(self, first: str) -> None:
        self.phase = first
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.note()

    def note(self) -> None:
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss_mb())

    def __call__(self, message: str) -> None:
        self.note()
        self.phase = next((name for key, name in RETRAIN_PHASES if key in message), self.phase)
        print(f"{rss_mb():8.0f} MB  {message}", file=sys.stderr, flush=True)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.note()
        return self.peaks


def retrain_data(leads: int, months: int, path: Path) -> None:
    """``leads`` demo leads over ``months`` months written to ``path`` as Parquet (the
    frame's dtypes kept), as ``leadscore demo-data`` writes them; run in its own process so
    the measured one never holds the generator's garbage."""
    from datetime import date

    frame, _ = generate_leads(n=leads, seed=42, end=date(2026, 12, 31), months=months)
    frame.to_parquet(path, index=False)


def leads_file(leads: int, months: int, cache: Path) -> Path:
    """The Parquet file of ``leads`` demo leads in ``cache``, generated by a child process
    unless it is there already."""
    path = cache / f"demo-{leads}-{months}m.parquet"
    if not path.is_file():
        print(f"generating {leads:,} demo leads into {path}", flush=True)
        partial = path.with_suffix(".partial")
        command = [sys.executable, __file__, "retrain-data", str(leads), str(months)]
        subprocess.run([*command, str(partial)], check=True)
        partial.rename(path)
    return path


def retrain_child(path: Path) -> None:
    """One retrain of the four demo models on the leads in ``path``, read as
    ``leadscore retrain --data`` reads them; prints its figures as JSON."""
    from features.dataset import read_table
    from training.registry import ensure_experiment
    from training.retraining.config import MlflowTarget
    from training.retraining.cycle import RetrainConfig, retrain
    from training.retraining.labels import utc_timestamp

    memory = PhaseMemory("read data")
    spec = load_spec("demo")
    frame = read_table(path, spec.format, spec.read)
    memory.phase = "data held"
    memory.note()
    frame_mb = float(frame.memory_usage(deep=True).sum()) / 2**20
    pairs = [(known_at, target) for known_at in spec.known_ats for target in spec.targets]
    with tempfile.TemporaryDirectory() as tmp:
        target = MlflowTarget(
            f"sqlite:///{Path(tmp) / 'mlflow.db'}", "scale-retrain", Path(tmp) / "artifacts"
        )
        ensure_experiment(target.tracking_uri, target.experiment, target.artifact_root)
        config = RetrainConfig(as_of=utc_timestamp("2027-01-15"))
        started = time.perf_counter()
        reports = retrain(frame, spec, pairs, config, target, source=str(path), progress=memory)
        seconds = time.perf_counter() - started
    phases = memory.stop()
    result = {
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "frame_mb": frame_mb,
        "phases": phases,
        "actions": [r.action.value for r in reports],
    }
    print(json.dumps(result))


def retrain_rows(args: argparse.Namespace) -> list[dict[str, object]]:
    """One fresh process per size; its figures as table rows."""
    rows: list[dict[str, object]] = []
    previous: tuple[int, float] | None = None
    with tempfile.TemporaryDirectory(prefix="leadscore-scale-") as scratch:
        cache = Path(args.cache or scratch)
        cache.mkdir(parents=True, exist_ok=True)
        for leads in (int(n) for n in args.leads.split(",") if n):
            row = retrain_row(args, leads, leads_file(leads, args.months, cache), previous)
            previous = (leads, float(str(row["peak MB"])))
            rows.append(row)
    return rows


def retrain_row(
    args: argparse.Namespace, leads: int, path: Path, previous: tuple[int, float] | None
) -> dict[str, object]:
    """One size's retrain in a fresh process, as a table row."""
    print(f"retrain at {leads:,} leads", flush=True)
    done = subprocess.run(
        [sys.executable, __file__, "retrain-child", str(path)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak = float(result["peak_mb"])
    margin = float("nan")
    if previous is not None:
        margin = (peak - previous[1]) * 1024 / (leads - previous[0])
    row = {
        "leads": f"{leads:,}",
        "code": args.label,
        "seconds": float(result["seconds"]),
        "peak MB": peak,
        "KB per lead": peak * 1024 / leads,
        "KB per lead at the margin": margin,
        "raw frame MB": float(result["frame_mb"]),
        **{f"{name} MB": float(mb) for name, mb in result["phases"].items()},
        "models": ", ".join(result["actions"]),
    }
    print(row, flush=True)
    return row


def retrain_part(args: argparse.Namespace) -> None:
    table = pd.DataFrame(retrain_rows(args)) if args.leads else pd.DataFrame()
    print(table.to_string(index=False))
    for earlier in reversed(args.before or []):  # rows of earlier runs, shown first
        table = pd.concat([pd.read_json(earlier, orient="records"), table], ignore_index=True)
    if "models" in table.columns:  # last, after the phases of every run shown
        table = table[[c for c in table.columns if c != "models"] + ["models"]]
    if args.save:
        table.to_json(args.save, orient="records")
    load = os.getloadavg()
    body = (
        "`leadscore retrain` of the demo spec's four models (arrival/qualified x sql/won) "
        f"on demo leads over {args.months} months, as of 2027-01-15, default gates; each "
        "size in a fresh process, OMP_NUM_THREADS=1. The leads are generated by another "
        "process and written to Parquet; the measured process reads that file as "
        "`leadscore retrain --data FILE` does (rows up to 'lean' generated the frame in the "
        "measured process itself: their 'generate data' column holds what 'read data' "
        "holds now, plus the generator's leftovers). Peak MB: the process's peak RSS "
        "(interpreter, libraries and the frame read included); KB per lead at the "
        "margin: the peak's growth per lead from the next smaller size; a phase's MB: the "
        "largest RSS sampled (every 20 ms) during it ('data held': after reading the "
        "file). Load average at the end: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared machine).\n\n"
        + markdown_table(table, digits=1)
        + "\n\nTargets: 4 models at 1.2M leads <= 2.5 GB peak and <= 1.5 KB per lead at "
        "the margin; 10M leads within 24 GB."
    )
    if args.write:
        title = "Scale: retrain memory (`benchmarks/scale.py retrain`)"
        write_section("scale-retrain", title, body)
    else:
        print(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parts = parser.add_subparsers(dest="part", required=True)
    scoring = parts.add_parser("batch", help="batch scoring at 1M leads (scale-batch)")
    scoring.add_argument("--rows", type=int, default=1_000_000)
    scoring.add_argument("--generate", type=int, default=100_000)
    scoring.add_argument("--train-rows", type=int, default=50_000)
    scoring.add_argument("--repeats", type=int, default=3)
    scoring.add_argument("--chunk", type=int, default=100_000)
    retraining = parts.add_parser("retrain", help="retrain memory per size (scale-retrain)")
    retraining.add_argument(
        "--leads", default="60000,300000", help="sizes to measure ('' : none, only --before)"
    )
    retraining.add_argument("--months", type=int, default=12)
    retraining.add_argument("--label", default="now", help="the code measured (table column)")
    retraining.add_argument("--save", help="also keep the rows as JSON in this file")
    retraining.add_argument(
        "--before", action="append", help="rows of an earlier run (--save) shown first"
    )
    retraining.add_argument(
        "--cache", help="keep the generated Parquet files here and reuse them (default: none)"
    )
    retraining.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    child = parts.add_parser("retrain-child", help=argparse.SUPPRESS)
    child.add_argument("path", type=Path)
    writer = parts.add_parser("retrain-data", help=argparse.SUPPRESS)
    writer.add_argument("leads", type=int)
    writer.add_argument("months", type=int)
    writer.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.part == "batch":
        batch(args)
    elif args.part == "retrain":
        retrain_part(args)
    elif args.part == "retrain-child":
        retrain_child(args.path)
    elif args.part == "retrain-data":
        retrain_data(args.leads, args.months, args.path)


if __name__ == "__main__":
    main()
