"""Model quality on the demo data and the two real data sets, against baselines.

Usage: .venv/bin/python benchmarks/quality.py [--demo-rows 60000] [--only demo,x_education,olist]

Trains every stage x target with the spec's split (out-of-time where there is a time
column, stratified 5-fold for X Education), prints a table and writes it to
docs/benchmarks.md. For demo data the oracle AUC (the generator's true probabilities, on
the same test rows) shows the best achievable.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from report import markdown_table, write_section
from sklearn.metrics import roc_auc_score

from features.dataset import LeadData, load_dataset, prepare_frame
from features.demo import generate_leads
from features.spec import load_spec
from training.runner import plan_models
from training.trainer import TrainOptions, train_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks-quality.csv"
TARGETS = {"demo": 0.97, "x_education": 0.91, "olist": 0.68}  # x oracle for demo, absolute else
# Models a target applies to, where not all: X Education's 0.91 is for the model on every
# column but the sales-assigned ones (the reference setup: plain LightGBM 0.905),
# which is our qualified model; the arrival model also leaves out the last-activity columns.
TARGET_MODELS = {"x_education": {"qualified/converted"}}


def _oracle(
    frame: pd.DataFrame, data: LeadData, rows: np.ndarray, stage: str, target: str
) -> float:
    column = f"true_p_{target}" + ("_arrival" if stage == "arrival" else "")
    truth = frame.set_index("external_id")[column]
    p = truth.loc[data.ids[rows]].to_numpy()
    return float(roc_auc_score(data.targets[target][rows], p))


def _datasets(only: set[str], demo_rows: int) -> list[tuple[LeadData, pd.DataFrame | None]]:
    out: list[tuple[LeadData, pd.DataFrame | None]] = []
    if "demo" in only:
        frame, _truth = generate_leads(n=demo_rows, seed=42)
        out.append((prepare_frame(load_spec("demo"), frame, source=f"demo n={demo_rows}"), frame))
    for name in ("x_education", "olist"):
        if name not in only:
            continue
        spec = load_spec(name)
        path = spec.data_path()
        if path is None or not path.exists():
            print(f"skipping {name}: {path} not found (needs ../shared/data)", file=sys.stderr)
            continue
        out.append((load_dataset(spec), None))
    return out


def _merge_previous(table: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of data sets this run did not retrain (``--only``), from the last CSV."""
    previous = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if previous:
        from io import StringIO

        old = pd.read_csv(StringIO(previous))
        kept = old[~old["data set"].isin(table["data set"])]
        table = pd.concat([kept, table], ignore_index=True)
    order = {name: i for i, name in enumerate(TARGETS)}
    table = table.sort_values("data set", key=lambda s: s.map(order), kind="stable")
    RESULTS.write_text(table.to_csv(index=False), encoding="utf-8")
    return table.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-rows", type=int, default=60_000)
    parser.add_argument("--only", default="demo,x_education,olist")
    args = parser.parse_args()
    rows = []
    for data, frame in _datasets(set(args.only.split(",")), args.demo_rows):
        for stage, target in plan_models(data.spec, None, None):
            started = time.perf_counter()
            result = train_model(data, TrainOptions(known_at=stage, target=target, refit=False))
            metrics = result.evaluation.metrics
            ours = metrics["lightgbm"]
            oracle = (
                _oracle(frame, data, result.evaluation.rows, stage.value, target)
                if frame is not None
                else float("nan")
            )
            goal = TARGETS[data.spec.name] * (oracle if frame is not None else 1.0)
            model = f"{stage.value}/{target}"
            if model not in TARGET_MODELS.get(data.spec.name, {model}):
                goal = float("nan")
            rows.append(
                {
                    "data set": data.spec.name,
                    "model": model,
                    "split": result.split.kind,
                    "rows": len(data),
                    "test rows": result.rows_test,
                    "ROC-AUC": ours.roc_auc,
                    "LR AUC": metrics["logistic"].roc_auc,
                    "LGBM default AUC": metrics["lightgbm_default"].roc_auc,
                    "rule AUC": metrics["bant_rule"].roc_auc if "bant_rule" in metrics else np.nan,
                    "PR-AUC": ours.pr_auc,
                    "Brier": ours.brier,
                    "ECE": ours.ece,
                    "lift@10%": ours.lift_10,
                    "oracle AUC": oracle,
                    "target AUC": goal,
                    "met": "n/a" if np.isnan(goal) else "yes" if ours.roc_auc >= goal else "NO",
                    "registered": result.chosen,
                    "seconds": time.perf_counter() - started,
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    table = _merge_previous(pd.DataFrame(rows))
    print(table.to_string(index=False))
    body = (
        "Out-of-time test for demo (last 3 months) and Olist (train before 2018-03-01, test "
        "2018-03..05); stratified 5-fold for X Education (no time column). ROC-AUC etc. are "
        "for the calibrated LightGBM model; baselines are fitted on the same split. Demo "
        "target: ROC-AUC >= 0.97 x oracle AUC and ECE <= 0.02. The X Education target (0.91) "
        "is for the model on every column but the sales-assigned ones, the issue's reference "
        "setup: our qualified model; the arrival model also leaves out the last-activity "
        "columns (updated by sales after contact) and has no target. Demo won models are "
        "chained, P(sql) x P(won | sql) (docs/specs.md, `training.chain`).\n\n"
        + markdown_table(table)
    )
    write_section("quality", "Model quality (`benchmarks/quality.py`)", body)


if __name__ == "__main__":
    main()
