"""Training one model (known_at x target) with honest, out-of-time validation.

Each model is fitted with the recipe of :mod:`training.recipe` (features, early-stopped
LightGBM, calibration; a chained funnel target where the spec has one).

Headline metrics come from the test period (time split) or from pooled out-of-fold
predictions (stratified k-fold, for data with no time column). Baselines (logistic
regression, LightGBM defaults, the BANT points rule where BANT exists) are trained on the
same training rows (a stratified sample above ``TrainOptions.baseline_rows``) and scored
on the same test rows (the rule on a sample above that size, compared with LightGBM on the
same rows). The final model is fitted on all rows: on ordered data the evaluation's
early-stopped LightGBM refitted there for proportionally more rounds with its calibrator
kept (one fit), otherwise the recipe again; if a baseline beat LightGBM, the better model
is registered and flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import LeadData
from features.lead import BANT_COLUMNS
from features.pipeline import LeadFeaturizer
from features.spec import BacktestSplit, KnownAt, OrderedSplit
from training.baselines import fit_logistic, stratified_positions
from training.gbm import DEFAULT_PARAMS, fit_default_gbm, scale_learning_rate, tune_gbm
from training.metrics import Metrics, evaluate, per_channel
from training.model import LeadModel
from training.options import TrainOptions
from training.recipe import Candidate, chain_notes, fit_recipe, refit_final, subset
from training.rules import rule_probability
from training.splits import Fold, SplitPlan, TrainingError, inner_splits, plan_split
from training.threads import available_threads

Progress = Callable[[str], None]
#: LightGBM may trail the best baseline by this much ROC-AUC and still count as matching it.
MATCH_TOLERANCE = 0.002


@dataclass
class Evaluation:
    """Out-of-time (or out-of-fold) predictions of every model on the same rows."""

    rows: np.ndarray  # positions in the data set of the scored rows
    y: np.ndarray
    channels: np.ndarray
    predictions: dict[str, np.ndarray]
    metrics: dict[str, Metrics]
    calibration: list[str]
    best_iterations: list[int]
    uncalibrated_ece: float
    #: backtests: each model's metrics on each test window, in order (empty otherwise)
    windows: dict[str, list[Metrics]] = field(default_factory=dict)
    #: models scored on a sample of the test rows: their positions in ``y`` (the others
    #: are scored on every row)
    subsets: dict[str, np.ndarray] = field(default_factory=dict)
    #: training rows the trained baselines were fitted on (per fold, the mean)
    baseline_rows: int = 0

    def scored(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(labels, predictions) of the rows ``name`` was scored on."""
        at = self.subsets.get(name)
        return (self.y if at is None else self.y[at]), self.predictions[name]

    def window_mean(self, name: str, measure: str) -> float:
        """The mean over the backtest's windows of one measure (e.g. ``roc_auc``)."""
        return float(np.mean([getattr(m, measure) for m in self.windows[name]]))


@dataclass
class TrainResult:
    model: LeadModel
    evaluation: Evaluation
    split: SplitPlan
    params: dict[str, Any]
    best_iteration: int
    per_channel: pd.DataFrame
    rows_train: int
    rows_test: int
    time_range: tuple[str, str] | None
    chosen: str
    flagged: bool
    notes: list[str]
    #: arrival time of the newest lead the registered model was fitted on (ISO; None: no time)
    trained_until: str | None = None

    @property
    def headline(self) -> Metrics:
        return self.evaluation.metrics[self.chosen]


# ---------------------------------------------------------------- parameters, baselines


def _params(data: LeadData, options: TrainOptions, rows: int) -> dict[str, Any]:
    """LightGBM's parameters: defaults, the spec's, the options'; a thread count of 0
    (LightGBM's "all cores") becomes the cores this process may use."""
    params = {**DEFAULT_PARAMS, **data.spec.training.params, **options.params}
    if int(params.get("num_threads", 0)) <= 0:
        params["num_threads"] = available_threads()
    return scale_learning_rate(params, rows)


def _has_bant(data: LeadData) -> bool:
    """The BANT points rule applies where the data has BANT answers in the domain's columns."""
    return any(column in data.frame.columns for column in BANT_COLUMNS)


def _rule_scores(data: LeadData, rows: np.ndarray, known_at: KnownAt) -> np.ndarray:
    allowed = data.spec.features_for(known_at)
    columns = [c for f in allowed for c in f.input_columns if c in data.frame.columns]
    frame = data.frame.iloc[rows][columns]
    return rule_probability(frame.to_dict(orient="records"))


# ---------------------------------------------------------------- evaluation


def _baseline_predictions(
    data: LeadData,
    sample: np.ndarray,
    featurizer: LeadFeaturizer,
    x_test: np.ndarray,
    options: TrainOptions,
    params: dict[str, Any],
) -> dict[str, np.ndarray]:
    """The trained baselines fitted on the training rows ``sample``, scored on ``x_test``."""
    y = data.targets[options.target][sample]
    x_train = featurizer.transform(subset(data, sample))
    categorical = list(featurizer.categorical_indices_)
    logistic = fit_logistic(x_train, y, categorical)
    default = fit_default_gbm((x_train, y), categorical, options.seed, params["num_threads"])
    return {
        "logistic": 1 / (1 + np.exp(-logistic.raw_score(x_test))),
        "lightgbm_default": default.predict(x_test),
    }


def _rule_sample(
    data: LeadData, fold: Fold, options: TrainOptions
) -> tuple[np.ndarray, np.ndarray]:
    """(positions in the fold's test rows, the BANT rule's scores of them)."""
    y_all = data.targets[options.target]
    at = stratified_positions(y_all[fold.test], options.rule_rows, options.seed)
    return at, _rule_scores(data, fold.test[at], options.known_at)


@dataclass
class _Scored:
    """What the folds of an evaluation put together: every model's predictions on the
    test rows and what each fold's LightGBM fit reported."""

    predictions: dict[str, np.ndarray]
    calibration: list[str] = field(default_factory=list)
    best_iterations: list[int] = field(default_factory=list)
    raw_eces: list[float] = field(default_factory=list)
    rule_at: list[np.ndarray] = field(default_factory=list)
    baseline_rows: list[int] = field(default_factory=list)

    def add_fit(self, gbm: Candidate) -> None:
        self.calibration.append(gbm.model.calibration)
        self.best_iterations.append(gbm.best_iteration)
        self.raw_eces.append(gbm.raw_valid_ece)


def _evaluate(
    data: LeadData,
    plan: SplitPlan,
    options: TrainOptions,
    params: dict[str, Any],
    progress: Progress,
) -> tuple[Evaluation, Candidate]:
    """The recipe and the baselines on every fold's test rows; with the last fold's
    LightGBM fit (the final model when it is asked for on the same rows)."""
    y_all = data.targets[options.target]
    names = ["lightgbm", "logistic", "lightgbm_default"]
    if _has_bant(data):
        names.append("bant_rule")
    test_rows = np.concatenate([fold.test for fold in plan.folds])
    scored = _Scored({name: np.empty(len(test_rows)) for name in names})
    predictions = scored.predictions
    offset = 0
    for number, fold in enumerate(plan.folds, start=1):
        label = f"fold {number}/{len(plan.folds)}" if len(plan.folds) > 1 else "evaluation"
        progress(f"{label}: LightGBM")
        where = slice(offset, offset + len(fold.test))
        gbm = fit_recipe(data, fold.train, options, "lightgbm", params, plan.ordered)
        featurizer = gbm.model.featurizer
        x_test = featurizer.transform(subset(data, fold.test))
        gbm.tested = x_test if gbm.early else None
        predictions["lightgbm"][where] = gbm.model.probabilities(x_test)
        scored.add_fit(gbm)
        progress(f"{label}: baselines")
        sample = fold.train[
            stratified_positions(y_all[fold.train], options.baseline_rows, options.seed)
        ]
        scored.baseline_rows.append(len(sample))
        baselines = _baseline_predictions(data, sample, featurizer, x_test, options, params)
        for name, p in baselines.items():
            predictions[name][where] = p
        if "bant_rule" in predictions:
            at, rule = _rule_sample(data, fold, options)
            predictions["bant_rule"][where][at] = rule
            scored.rule_at.append(at + offset)
        offset += len(fold.test)
    return _evaluation(data, plan, options, test_rows, scored), gbm


def _evaluation(
    data: LeadData, plan: SplitPlan, options: TrainOptions, test_rows: np.ndarray, scored: _Scored
) -> Evaluation:
    """The :class:`Evaluation` of the folds' predictions on ``test_rows``: metrics on the
    rows each model was scored on, and per window for backtests."""
    predictions = scored.predictions
    y = data.targets[options.target][test_rows]
    subsets: dict[str, np.ndarray] = {}
    scored_by_rule = np.concatenate(scored.rule_at) if scored.rule_at else test_rows
    if len(scored_by_rule) < len(test_rows):  # a sample: its rows only
        subsets["bant_rule"] = scored_by_rule
        predictions["bant_rule"] = predictions["bant_rule"][scored_by_rule]
    windows: dict[str, list[Metrics]] = {}
    if plan.windows:
        bounds = np.cumsum([0, *(len(fold.test) for fold in plan.folds)])
        windows = {
            name: [_window(y, p, subsets.get(name), a, b) for a, b in pairwise(bounds)]
            for name, p in predictions.items()
        }
    return Evaluation(
        subsets=subsets,
        baseline_rows=int(np.mean(scored.baseline_rows)),
        windows=windows,
        rows=test_rows,
        y=y,
        channels=data.channels[test_rows],
        predictions=predictions,
        metrics={
            name: evaluate(y if name not in subsets else y[subsets[name]], p)
            for name, p in predictions.items()
        },
        calibration=scored.calibration,
        best_iterations=scored.best_iterations,
        uncalibrated_ece=float(np.mean(scored.raw_eces)),
    )


def _window(y: np.ndarray, p: np.ndarray, at: np.ndarray | None, a: int, b: int) -> Metrics:
    """One backtest window's metrics of a model scored on every row or on positions ``at``."""
    if at is None:
        return evaluate(y[a:b], p[a:b])
    inside = (at >= a) & (at < b)
    return evaluate(y[at[inside]], p[inside])


def _lightgbm_auc_beside(evaluation: Evaluation, name: str) -> float:
    """LightGBM's ROC-AUC on the rows ``name`` was scored on (its own when every row)."""
    at = evaluation.subsets.get(name)
    if at is None:
        return evaluation.metrics["lightgbm"].roc_auc
    return evaluate(evaluation.y[at], evaluation.predictions["lightgbm"][at]).roc_auc


def _choose(evaluation: Evaluation) -> tuple[str, bool, list[str]]:
    """LightGBM unless a trained baseline beats it (each compared on the rows it was scored
    on); the rule is never registered."""
    metrics = evaluation.metrics
    rivals = {k: v.roc_auc for k, v in metrics.items() if k != "lightgbm"}
    ours = {k: _lightgbm_auc_beside(evaluation, k) for k in rivals}
    notes: list[str] = []
    beaten = {k: auc for k, auc in rivals.items() if auc > ours[k] + MATCH_TOLERANCE}
    if not beaten:
        return "lightgbm", False, notes
    for name, auc in sorted(beaten.items(), key=lambda kv: -kv[1]):
        rows = evaluation.subsets.get(name)
        where = "the same split" if rows is None else f"the same {len(rows)} sampled test rows"
        notes.append(
            f"LightGBM (ROC-AUC {ours[name]:.4f}) lost to the {name} baseline ({auc:.4f}) on "
            + where
        )
    if "logistic" in beaten:
        notes.append("registering the logistic-regression model instead, flagged for review")
        return "logistic", True, notes
    notes.append("registering LightGBM anyway (the winner is not a trainable model); flagged")
    return "lightgbm", True, notes


def _tuned(
    data: LeadData, plan: SplitPlan, options: TrainOptions, params: dict[str, Any], say: Progress
) -> dict[str, Any]:
    """``params`` tuned with Optuna on the first fold's validation slice, when trials are
    asked for (options first, then the spec); otherwise ``params`` as they are."""
    trials = options.trials or data.spec.training.trials
    if trials <= 0:
        return params
    first = plan.folds[0]
    y = data.targets[options.target]
    fit_rows, valid_rows = inner_splits(first.train, y, plan.ordered, replace(options, members=1))[
        0
    ]
    featurizer = LeadFeaturizer(spec=data.spec, known_at=options.known_at.value)
    featurizer.fit(subset(data, first.train))
    say(f"tuning LightGBM: {trials} trials on the validation slice")
    return tune_gbm(
        (featurizer.transform(subset(data, fit_rows)), y[fit_rows]),
        (featurizer.transform(subset(data, valid_rows)), y[valid_rows]),
        list(featurizer.categorical_indices_),
        params,
        trials,
        seed=options.seed,
    )


def train_model(
    data: LeadData, options: TrainOptions, progress: Progress | None = None
) -> TrainResult:
    """Evaluate the recipe out of time, then fit the final model (see module docstring)."""
    say = progress or (lambda _message: None)
    if options.target not in data.targets:
        known = ", ".join(data.targets)
        raise TrainingError(f"unknown target '{options.target}'; the spec defines: {known}")
    if options.known_at not in data.spec.known_ats:
        raise TrainingError(f"the spec has no features known at '{options.known_at.value}'")
    plan = plan_split(data, options.target, options)
    params = _params(data, options, len(data))
    params = _tuned(data, plan, options, params, say)
    evaluation, last_fit = _evaluate(data, plan, options, params, say)
    chosen, flagged, notes = _choose(evaluation)
    notes += chain_notes(data, options.target)
    all_rows = np.arange(len(data))
    if plan.kind == "rolling":
        span = len(plan.folds[-1].train)
        say(f"final model: fitting on the last {span} rows (the rolling window)")
        fitted_rows = all_rows[-span:]
    elif options.refit or len(plan.folds) > 1:
        say("final model: fitting on all rows")
        fitted_rows = all_rows
    else:
        say("final model: the evaluation fit")
        fitted_rows = plan.folds[0].train
    final: Candidate | None = None
    if chosen == "lightgbm" and fitted_rows is plan.folds[-1].train:
        final = last_fit  # the same recipe on the same rows: fitted once
    elif chosen == "lightgbm" and plan.ordered:
        final = refit_final(data, fitted_rows, options, last_fit, plan.folds[-1])
    if final is None:
        final = fit_recipe(data, fitted_rows, options, chosen, params, plan.ordered)
    final.model.flagged = flagged
    final.model.notes = notes
    times = data.times
    return TrainResult(
        model=final.model,
        evaluation=evaluation,
        split=plan,
        params=params,
        best_iteration=final.best_iteration,
        per_channel=per_channel(evaluation.y, evaluation.predictions[chosen], evaluation.channels),
        rows_train=int(np.mean([len(f.train) for f in plan.folds])),
        rows_test=int(sum(len(f.test) for f in plan.folds)),
        time_range=None if times is None else (times.min().isoformat(), times.max().isoformat()),
        chosen=chosen,
        flagged=flagged,
        notes=notes,
        trained_until=None if times is None else times[fitted_rows].max().isoformat(),
    )


def feature_table(model: LeadModel) -> pd.DataFrame:
    """Output features with the source field and the known_at at which it becomes known."""
    spec_by_column = {f.column: f for f in model.featurizer.spec.features}
    sources = list(model.featurizer.feature_sources_)
    return pd.DataFrame(
        {
            "feature": list(model.featurizer.get_feature_names_out()),
            "source": sources,
            "type": [spec_by_column[s].type.value for s in sources],
            "known_at": [spec_by_column[s].known_at.value for s in sources],
        }
    )


def fit_final(data: LeadData, options: TrainOptions, rows: np.ndarray | None = None) -> LeadModel:
    """The production recipe alone on all rows, or on ``rows`` (positions, in order, as if
    the data held only them, without copying it): features + LightGBM + calibration."""
    rows = np.arange(len(data)) if rows is None else rows
    params = _params(data, options, len(rows))
    by_time = data.times is not None or isinstance(data.spec.split, OrderedSplit | BacktestSplit)
    return fit_recipe(data, rows, options, "lightgbm", params, by_time).model
