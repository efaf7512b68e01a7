"""Plots logged with every training run (matplotlib, written as PNG files).

The ROC and precision-recall plots take each model's own (labels, predictions): a model
may be scored on a sample of the test rows."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from training.metrics import reliability_table


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


Curves = dict[str, tuple[np.ndarray, np.ndarray]]  # model -> (labels, predictions)


def roc_plot(curves: Curves, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name, linewidth=2 if name == "lightgbm" else 1)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def pr_plot(curves: Curves, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, (y, p) in curves.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=name, linewidth=2 if name == "lightgbm" else 1)
    y = next(iter(curves.values()))[0]
    ax.axhline(float(np.mean(y)), color="grey", linestyle=":", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    ax.legend(loc="upper right")
    return _save(fig, path)


def reliability_plot(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    table = reliability_table(y, p)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = float(max(table["predicted"].max(), table["observed"].max(), 0.05)) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    ax.scatter(table["predicted"], table["observed"], s=np.sqrt(table["leads"]) * 3, zorder=3)
    ax.plot(table["predicted"], table["observed"], label="calibrated model")
    ax.set(
        xlabel="predicted probability",
        ylabel="observed rate",
        title="Reliability (test; dot size = leads)",
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left")
    return _save(fig, path)


def gains_plot(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    order = np.argsort(-p, kind="stable")
    captured = np.cumsum(y[order]) / max(1, int(np.sum(y)))
    share = np.arange(1, len(y) + 1) / len(y)
    lift = captured / share
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    left.plot(share, captured, label="model")
    left.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    left.set(xlabel="share of leads called (by score)", ylabel="share of conversions found")
    left.set_title("Cumulative gains")
    left.legend(loc="lower right")
    start = max(1, len(y) // 100)
    right.plot(share[start:], lift[start:])
    right.axhline(1.0, color="grey", linestyle=":")
    right.set(xlabel="share of leads called (by score)", ylabel="lift", title="Lift")
    return _save(fig, path)


def importance_plot(table: pd.DataFrame, column: str, title: str, path: Path) -> Path:
    top = table.sort_values(column, ascending=True).tail(20)
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.32 * len(top) + 1)))
    ax.barh(top["source"], top[column])
    ax.set(xlabel=column, title=title)
    return _save(fig, path)
