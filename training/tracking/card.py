"""The model card: a Markdown page logged with every model, for whoever reviews it."""

from __future__ import annotations

import pandas as pd

from training.model import ChainEstimator, LeadModel
from training.trainer import TrainResult, feature_table

_COLUMNS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_10", "capture_10", "lift_20")


def _fmt(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.4f}"


def metrics_markdown(result: TrainResult) -> str:
    header = "| model | " + " | ".join(_COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(_COLUMNS) + 1)]
    for name, metrics in result.evaluation.metrics.items():
        values = metrics.as_dict()
        mark = " (registered)" if name == result.chosen else ""
        lines.append(f"| {name}{mark} | " + " | ".join(_fmt(values[c]) for c in _COLUMNS) + " |")
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(none)"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _classifier(model: LeadModel) -> str:
    if isinstance(model.members[0].estimator, ChainEstimator):
        parent = model.featurizer.spec.funnel_parent(model.target)
        return (
            f"{model.kind}, chained through the funnel: P({parent}) from every lead x "
            f"P({model.target} | {parent}) from the leads that reached {parent}"
        )
    return model.kind


def _baseline_rows(result: TrainResult) -> str:
    """How many rows the baselines were fitted and scored on (a sample on large data)."""
    evaluation = result.evaluation
    fitted = (
        f"Trained baselines fitted on {evaluation.baseline_rows} of {result.rows_train} "
        "training rows"
    )
    if evaluation.baseline_rows < result.rows_train:
        fitted += " (a stratified sample)"
    rule = evaluation.subsets.get("bant_rule")
    if rule is None:
        return fitted + "; every model scored on the same test rows."
    return (
        f"{fitted}; the BANT rule scored on a stratified sample of {len(rule)} of the "
        f"{result.rows_test} test rows (compared with LightGBM on the same rows)."
    )


def model_card(result: TrainResult) -> str:
    model = result.model
    headline = result.headline
    flags = "\n".join(f"- **{note}**" for note in result.notes) or "- none"
    time_range = " .. ".join(result.time_range) if result.time_range else "no time column"
    calibration = ", ".join(sorted(set(result.evaluation.calibration)))
    return f"""# Model card: {model.dataset} / {model.known_at} / {model.target}

**What it predicts**: the probability that a lead reaches `{model.target}`, scored at the
`{model.known_at}` moment (it only reads fields known by then).
**Classifier**: {_classifier(model)}, calibrated ({calibration}).

## Validation
{result.split.description}.
Rows: {result.rows_train} for training (per fold), {result.rows_test} scored out of sample.
Data time range: {time_range}.

Headline (out of sample, calibrated): ROC-AUC **{headline.roc_auc:.4f}**,
PR-AUC {headline.pr_auc:.4f}, Brier {headline.brier:.4f}, ECE {headline.ece:.4f},
lift at the top 10% {headline.lift_10:.2f} (captures {headline.capture_10:.0%} of conversions).

{metrics_markdown(result)}

{_baseline_rows(result)}

## Flags
{flags}

## Per channel (out of sample)
{_table(result.per_channel)}

## Features and when they become known
{_table(feature_table(model))}

## Limits
- Scores are priorities, not verdicts: a low-scored lead still gets its SDR call.
- Personal data (e-mail, phone, names, message text) only enters through derived signals.
- Metrics hold for leads like the training data; watch the drift report after changes in
  channels, campaigns or forms.
"""
