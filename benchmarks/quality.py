"""Model quality on the demo data and the real data sets, against baselines.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/quality.py [--demo-rows 60000]
       [--only demo,x_education,olist,bank_marketing,crm_sales]

Trains every stage x target with the spec's split (out-of-time where there is a time
column, by row order for the bank data, stratified 5-fold for X Education), prints a table
and writes it to docs/benchmarks.md. The bank data is also run as a 5-fold and as an
expanding backtest over row order (the ROC-AUC of a backtest is the mean of its windows;
each window is listed below the table). For demo data the oracle AUC (the generator's true
probabilities, on the same test rows) shows the best achievable.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from report import markdown_table, write_section
from sklearn.metrics import roc_auc_score

from features.dataset import LeadData, load_dataset, prepare_frame
from features.demo import generate_leads
from features.spec import BacktestSplit, KFoldSplit, Split, load_spec
from training.runner import plan_models
from training.trainer import TrainOptions, TrainResult, train_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks-quality.csv"
TARGETS = {"demo": 0.97, "x_education": 0.91, "olist": 0.68}  # x oracle for demo, absolute else
#: Targets of one split of a data set (the issue's, for the bank data's two settings).
SPLIT_TARGETS = {("bank_marketing", "ordered"): 0.72, ("bank_marketing", "stratified_kfold"): 0.805}
#: The order of the data sets in the table.
ORDER = ("demo", "x_education", "olist", "bank_marketing", "crm_sales")
#: Other splits a data set is also run with, beside its spec's.
EXTRA_SPLITS: dict[str, list[Split]] = {
    "bank_marketing": [
        KFoldSplit(kind="stratified_kfold", folds=5, seed=0),
        BacktestSplit(kind="expanding", windows=4, test_share=0.05),
    ]
}
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
    for name in ORDER[1:]:
        if name not in only:
            continue
        spec = load_spec(name)
        path = spec.data_path()
        if path is None or not path.exists():
            print(f"skipping {name}: {path} not found (needs ../shared/data)", file=sys.stderr)
            continue
        data = load_dataset(spec)
        out.append((data, None))
        for split in EXTRA_SPLITS.get(name, []):
            out.append((replace(data, spec=spec.model_copy(update={"split": split})), None))
    return out


def _auc(result: TrainResult, name: str) -> float:
    """ROC-AUC of one model: pooled, or the mean over a backtest's windows."""
    if result.split.windows:
        return result.evaluation.window_mean(name, "roc_auc")
    return result.evaluation.metrics[name].roc_auc


def _window_lines(data: LeadData, result: TrainResult) -> list[str]:
    """One line per backtest window: rows, positives and each model's ROC-AUC and ECE."""
    lines = []
    windows = result.evaluation.windows
    for number, fold in enumerate(result.split.folds):
        y = data.targets[result.model.target][fold.test]
        scores = ", ".join(
            f"{name} {windows[name][number].roc_auc:.3f} (ECE {windows[name][number].ece:.3f})"
            for name in ("lightgbm", "logistic", "lightgbm_default")
        )
        lines.append(
            f"- {data.spec.name} {result.split.kind} window {number + 1}: rows "
            f"{fold.test[0] + 1}..{fold.test[-1] + 1}, {y.mean():.1%} positive, trained on "
            f"{len(fold.train)} rows; ROC-AUC {scores}"
        )
    return lines


def _merge_previous(table: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of data sets this run did not retrain (``--only``), from the last CSV."""
    previous = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if previous:
        from io import StringIO

        old = pd.read_csv(StringIO(previous))
        kept = old[~old["data set"].isin(table["data set"])]
        table = pd.concat([kept, table], ignore_index=True)
    order = {name: i for i, name in enumerate(ORDER)}
    table = table.sort_values("data set", key=lambda s: s.map(order), kind="stable")
    RESULTS.write_text(table.to_csv(index=False), encoding="utf-8")
    return table.reset_index(drop=True)


def _row(
    data: LeadData, frame: pd.DataFrame | None, result: TrainResult, seconds: float
) -> dict[str, object]:
    metrics = result.evaluation.metrics
    ours = metrics["lightgbm"]
    stage, target = result.model.known_at, result.model.target
    oracle = (
        _oracle(frame, data, result.evaluation.rows, stage, target)
        if frame is not None
        else float("nan")
    )
    name, kind = data.spec.name, result.split.kind
    goal = SPLIT_TARGETS.get((name, kind), TARGETS.get(name, float("nan")))
    goal *= oracle if frame is not None else 1.0
    model = f"{stage}/{target}"
    if model not in TARGET_MODELS.get(name, {model}):
        goal = float("nan")
    auc = _auc(result, "lightgbm")
    return {
        "data set": name,
        "model": model,
        "split": kind,
        "rows": len(data),
        "test rows": result.rows_test,
        "ROC-AUC": auc,
        "LR AUC": _auc(result, "logistic"),
        "LGBM default AUC": _auc(result, "lightgbm_default"),
        "rule AUC": metrics["bant_rule"].roc_auc if "bant_rule" in metrics else np.nan,
        "PR-AUC": ours.pr_auc,
        "Brier": ours.brier,
        "ECE": ours.ece,
        "LR ECE": metrics["logistic"].ece,
        "LGBM default ECE": metrics["lightgbm_default"].ece,
        "lift@10%": ours.lift_10,
        "oracle AUC": oracle,
        "target AUC": goal,
        "met": "n/a" if np.isnan(goal) else "yes" if auc >= goal else "NO",
        "registered": result.chosen,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-rows", type=int, default=60_000)
    parser.add_argument("--only", default=",".join(ORDER))
    args = parser.parse_args()
    rows = []
    windows: list[str] = []
    for data, frame in _datasets(set(args.only.split(",")), args.demo_rows):
        for stage, target in plan_models(data.spec, None, None):
            started = time.perf_counter()
            result = train_model(data, TrainOptions(known_at=stage, target=target, refit=False))
            rows.append(_row(data, frame, result, time.perf_counter() - started))
            if result.split.windows:
                windows += _window_lines(data, result)
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    table = _merge_previous(pd.DataFrame(rows))
    print(table.to_string(index=False))
    print("\n".join(windows))
    body = (
        "Out-of-time test for demo (last 3 months) and Olist (train before 2018-03-01, test "
        "2018-03..05); stratified 5-fold for X Education (no time column). ROC-AUC etc. are "
        "for the calibrated LightGBM model; baselines are fitted on the same split (LR: "
        "logistic regression, LGBM default: plain LightGBM with library defaults). Demo "
        "target: ROC-AUC >= 0.97 x oracle AUC and ECE <= 0.02. The X Education target (0.91) "
        "is for the model on every column but the sales-assigned ones, the issue's reference "
        "setup: our qualified model; the arrival model also leaves out the last-activity "
        "columns (updated by sales after contact) and has no target. Demo won models are "
        "chained, P(sql) x P(won | sql) (docs/specs.md, `training.chain`).\n\n"
        "Bank Marketing (`bank-full.csv`, `duration` dropped) is read as delivered through "
        "its spec: `ordered` is the first 80% of rows -> the last 20% (a later phase of the "
        "campaign with 31.6% positives against 11.7% overall: strong drift; target 0.72), "
        "`stratified_kfold` the 5-fold reference (target 0.805), `expanding` a backtest of 4 "
        "consecutive windows of 5% of the rows at the end, each trained on every earlier "
        "row (its AUC columns are the mean over the windows, listed below). CRM sales "
        "(Maven) joins accounts, products and sales teams, keeps closed deals only "
        "(Won/Lost) and tests from 2017-07-01: it has almost no signal, it proves the spec.\n\n"
        + markdown_table(table)
        + ("\n\n" + "\n".join(windows) if windows else "")
    )
    write_section("quality", "Model quality (`benchmarks/quality.py`)", body)


if __name__ == "__main__":
    main()
