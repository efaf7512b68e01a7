"""What `leadscore train` costs beside a plain `lightgbm.train` of the final model's rounds.

Usage: .venv/bin/python benchmarks/train_overhead.py [--sizes 100000,1000000] [--repeats 3]
       [--before REV] [--no-write]

One process per size (and per code version): demo leads over 22 months, of which the
trainer gets the first 20 (about the size asked for) and the last 2 are a "future" no run
has seen. In that process, interleaved and repeated: `leadscore train`'s code path
(`train_and_register` for arrival/sql: evaluation, baselines, final model, MLflow logging
and registration into a fresh store created before the clock starts) and a plain
`lightgbm.train` of the final model's rounds with its parameters on its matrix (the
featurizer's output on every row, built outside the clock), both on one thread. Medians
are reported. With ``--before REV`` the training package at that commit (read with
`git archive`, nothing checked out) runs the same child once per size, beside today's, on
the same data: its test and future AUC/ECE are the quality this change must keep.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from report import before_tree, load_average, markdown_table, publish, short_rev

ROOT = Path(__file__).resolve().parents[1]
MONTHS, FUTURE_MONTHS = 22, 2


def _data(rows: int) -> tuple[object, object]:
    """(the trainer's LeadData, the future leads' LeadData) for about ``rows`` training leads."""
    from datetime import date

    from features.dataset import prepare_frame
    from features.demo import generate_leads
    from features.spec import load_spec

    frame, _ = generate_leads(
        n=round(rows * MONTHS / (MONTHS - FUTURE_MONTHS)),
        seed=42,
        end=date(2026, 12, 31),
        months=MONTHS,
    )
    cut = pd.Timestamp("2026-11-01", tz="UTC")
    arrived = pd.to_datetime(frame["arrived_at"], utc=True)
    future = frame[arrived >= cut].reset_index(drop=True)
    spec = load_spec("demo")
    data = prepare_frame(spec, frame[arrived < cut].reset_index(drop=True), source="demo")
    return data, prepare_frame(spec, future, source="future")


def _train_once(data: object, store: Path) -> tuple[float, object]:
    from features.spec import KnownAt
    from training.options import TrainOptions
    from training.registry import ensure_experiment
    from training.runner import plan_models, train_and_register
    from training.settings import TrainingSettings

    settings = TrainingSettings(data_dir=store)
    ensure_experiment(settings.tracking_uri, settings.mlflow_experiment, settings.artifact_root)
    pairs = plan_models(data.spec, [KnownAt.ARRIVAL], ["sql"])  # type: ignore[attr-defined]
    started = time.perf_counter()
    [trained] = train_and_register(data, "bench", settings, pairs, TrainOptions())  # type: ignore[arg-type]
    return time.perf_counter() - started, trained


def _plain_once(model: object, data: object) -> tuple[float, int]:
    """A plain lightgbm.train of ``model``'s booster rounds on its own matrix (one booster)."""
    import lightgbm as lgb

    booster = model.members[0].estimator.boosters[0]  # type: ignore[attr-defined]
    featurizer = model.featurizer  # type: ignore[attr-defined]
    matrix = featurizer.transform(data.frame)  # type: ignore[attr-defined]
    y = data.targets["sql"]  # type: ignore[attr-defined]
    rounds = booster.current_iteration()
    params = {k: v for k, v in booster.params.items() if k != "num_iterations"}
    started = time.perf_counter()
    dataset = lgb.Dataset(
        matrix,
        label=y,
        categorical_feature=list(featurizer.categorical_indices_),
        free_raw_data=False,
        params={"verbosity": -1},
    )
    lgb.train(params, dataset, num_boost_round=rounds)
    return time.perf_counter() - started, rounds


def _child(rows: int, repeats: int) -> None:
    from training.metrics import evaluate

    data, future = _data(rows)
    train_s: list[float] = []
    plain_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(repeats):
            seconds, trained = _train_once(data, Path(tmp) / f"store{repeat}")
            train_s.append(seconds)
            plain, rounds = _plain_once(trained.result.model, data)  # type: ignore[attr-defined]
            plain_s.append(plain)
            print(f"  repeat {repeat + 1}: train {seconds:.1f} s, plain {plain:.1f} s", flush=True)
    result = trained.result  # type: ignore[attr-defined]
    metrics = result.evaluation.metrics
    served = evaluate(
        future.targets["sql"],  # type: ignore[attr-defined]
        result.model.predict_proba(future.frame),  # type: ignore[attr-defined]
    )
    fitted_on = getattr(result.evaluation, "baseline_rows", 0) or result.rows_train
    print(
        json.dumps(
            {
                "rows": len(data),  # type: ignore[arg-type]
                "train_s": statistics.median(train_s),
                "plain_s": statistics.median(plain_s),
                "rounds": rounds,
                "test_auc": metrics["lightgbm"].roc_auc,
                "test_ece": metrics["lightgbm"].ece,
                "future_auc": served.roc_auc,
                "future_ece": served.ece,
                "logistic_auc": metrics["logistic"].roc_auc,
                "default_auc": metrics["lightgbm_default"].roc_auc,
                "rule_auc": metrics["bant_rule"].roc_auc,
                "baseline_rows": fitted_on,
                "rule_rows": metrics["bant_rule"].rows,
                "flagged": result.flagged,
            }
        )
    )


def _run(rows: int, repeats: int, tree: Path | None) -> dict[str, object]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(rows), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines = done.stdout.strip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    return dict(json.loads(lines[-1]))


def _row(code: str, figures: dict[str, object], repeats: int) -> dict[str, object]:
    train, plain = float(figures["train_s"]), float(figures["plain_s"])  # type: ignore[arg-type]
    return {
        "leads": figures["rows"],
        "code": code,
        "repeats": repeats,
        "train s": train,
        "plain lgb.train s": plain,
        "ratio": train / plain,
        "final rounds": figures["rounds"],
        "test AUC": figures["test_auc"],
        "test ECE": figures["test_ece"],
        "future AUC": figures["future_auc"],
        "future ECE": figures["future_ece"],
        "logistic AUC": figures["logistic_auc"],
        "default LGBM AUC": figures["default_auc"],
        "rule AUC": figures["rule_auc"],
        "baselines fitted on": figures["baseline_rows"],
        "rule scored on": figures["rule_rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="an earlier commit whose training/ runs beside today's")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(int(args.child[0]), int(args.child[1]))
        return
    loads = [f"start {load_average()}"]
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        before = short_rev(args.before) if args.before else None
        tree = before_tree(before, Path(tmp)) if before else None
        for size in [int(s) for s in args.sizes.split(",")]:
            if tree is not None:
                print(f"{size}: {before} ...", flush=True)
                rows.append(_row(f"before ({before})", _run(size, 1, tree), 1))
            print(f"{size}: now ...", flush=True)
            rows.append(_row("now", _run(size, args.repeats, None), args.repeats))
            loads.append(f"after {size}: {load_average()}")
    table = pd.DataFrame(rows)
    body = (
        "`leadscore train`'s code path for one model (arrival/sql: evaluation, baselines, "
        "final model, MLflow logging and registration) beside a plain `lightgbm.train` of "
        "the final model's rounds on the same matrix with the same parameters, one thread "
        "each (`OMP_NUM_THREADS=1`), interleaved in one process per size; medians of the "
        "repeats. `future` is two months of leads after the data every run saw, scored by "
        "the served (final) model; `test` is the run's own out-of-time evaluation. Target "
        "at 1M leads: ratio <= 2.5.\n\n"
        f"Load average (1 / 5 / 15 min): {'; '.join(loads)}.\n\n" + markdown_table(table, digits=4)
    )
    publish(
        "train_overhead",
        "Train overhead (`benchmarks/train_overhead.py`)",
        body,
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
