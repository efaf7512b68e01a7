"""Training one model (known_at x target) with honest, out-of-time validation.

Recipe, the same for evaluation and for the final model:
1. the feature pipeline is fitted on the training rows (for the moment the model scores,
   ``known_at``: an ``arrival`` model never reads a field known later);
2. LightGBM is trained on the earlier part of the training rows and early-stopped on the
   most recent slice of them (``valid_share``), never on the test period;
3. a calibrator (isotonic or sigmoid, chosen by validation) is fitted on that same slice.

A later funnel target (``won``, when the spec also has ``sql`` on the same status column)
is fitted as two LightGBM models, P(sql) on every lead and P(won | sql) on the leads that
reached SQL, whose product is calibrated as one score (``training.chain`` in the spec
turns this off). The rare target borrows the earlier stage's several times more positives.

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

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.dataset import LeadData
from features.lead import BANT_COLUMNS
from features.pipeline import LeadFeaturizer
from features.spec import BacktestSplit, KnownAt, OrderedSplit
from training.baselines import fit_logistic, stratified_positions
from training.calibration import fit_calibrator
from training.gbm import (
    DEFAULT_PARAMS,
    GbmFit,
    fit_default_gbm,
    fit_gbm,
    refit_gbm,
    scale_learning_rate,
    tune_gbm,
)
from training.metrics import Metrics, evaluate, expected_calibration_error, per_channel
from training.model import ChainEstimator, Estimator, GbmEstimator, LeadModel, Member
from training.options import TrainOptions
from training.rules import rule_probability
from training.splits import Fold, SplitPlan, TrainingError, inner_splits, plan_split
from training.threads import available_threads

Progress = Callable[[str], None]
#: LightGBM may trail the best baseline by this much ROC-AUC and still count as matching it.
MATCH_TOLERANCE = 0.002
#: From this many training rows the early-stopped fit is kept, without the refit on fit +
#: validation rows: at that size the refit adds nothing measurable for much more time (the
#: measured trade-off is in docs/training.md).
REFIT_MAX_ROWS = 200_000


def refits_on_valid(rows: int, by_time: bool, options: TrainOptions) -> bool:
    """Whether a fit on ``rows`` training rows is refitted on its fit + validation rows:
    ordered rows only (the validation slice is the newest data), when asked for, and below
    ``REFIT_MAX_ROWS``."""
    return by_time and options.refit_on_valid and rows < REFIT_MAX_ROWS


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


# ---------------------------------------------------------------- one fit


@dataclass(frozen=True)
class _EarlyStopped:
    """One early-stopped LightGBM fit and the rows it was fitted on: what the final model
    is refitted from."""

    fit: GbmFit
    rows: int


@dataclass
class _Candidate:
    model: LeadModel
    best_iteration: int
    raw_valid_ece: float
    #: a single-member LightGBM fit's early-stopped boosters (one, or two when chained)
    early: list[_EarlyStopped] = field(default_factory=list)
    #: with ``early``: the featurized rows it was fitted on and, after the evaluation, the
    #: featurized test rows (kept so the final model need not featurize them again)
    fitted: np.ndarray | None = None
    tested: np.ndarray | None = None


def _subset(data: LeadData, rows: np.ndarray) -> pd.DataFrame:
    return data.frame.iloc[rows]


def _params(data: LeadData, options: TrainOptions, rows: int) -> dict[str, Any]:
    """LightGBM's parameters: defaults, the spec's, the options'; a thread count of 0
    (LightGBM's "all cores") becomes the cores this process may use."""
    params = {**DEFAULT_PARAMS, **data.spec.training.params, **options.params}
    if int(params.get("num_threads", 0)) <= 0:
        params["num_threads"] = available_threads()
    return scale_learning_rate(params, rows)


Labelled = tuple[np.ndarray, np.ndarray]  # (matrix, labels)


def _chain_parts(
    fit: Labelled, valid: Labelled, parent: tuple[np.ndarray, np.ndarray]
) -> list[tuple[Labelled, Labelled]] | None:
    """(fit, valid) pairs of the two chained models, or None when one cannot be trained.

    The first learns the earlier target on every lead; the second the target on the leads
    that reached the earlier stage. Each needs both classes in its fit and its valid rows.
    """
    (x_fit, y_fit), (x_valid, y_valid) = fit, valid
    p_fit, p_valid = parent
    reached_fit, reached_valid = p_fit == 1, p_valid == 1
    parts = [
        ((x_fit, p_fit), (x_valid, p_valid)),
        (
            (x_fit[reached_fit], y_fit[reached_fit]),
            (x_valid[reached_valid], y_valid[reached_valid]),
        ),
    ]
    for part in parts:
        for _x, y in part:
            if len(y) == 0 or y.min() == y.max():
                return None
    return parts


def _fit_member(
    kind: str,
    fit: Labelled,
    valid: Labelled,
    featurizer: LeadFeaturizer,
    params: dict[str, Any],
    seed: int,
    refit_all: bool = False,
    parent: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Member, int, float, list[_EarlyStopped]]:
    """One classifier early-stopped and calibrated on ``valid``: (member, rounds, raw ECE,
    the early-stopped LightGBM fits).

    With ``parent`` (the earlier funnel target's labels on fit and valid rows) LightGBM is
    a :class:`ChainEstimator`: P(earlier) x P(target | earlier), calibrated as one score.
    With ``refit_all`` (time splits: the validation slice is the most recent, most valuable
    data), each LightGBM model is then refitted on fit + valid for proportionally more
    rounds; the calibrator learned from the early-stopped scores is kept.
    """
    categorical = list(featurizer.categorical_indices_)
    estimator: Estimator
    best_iteration = 0
    early: list[_EarlyStopped] = []
    if kind == "lightgbm":
        chained = None if parent is None else _chain_parts(fit, valid, parent)
        parts = chained or [(fit, valid)]
        fits = [
            fit_gbm(
                part_fit,
                part_valid,
                categorical,
                params,
                monotone=list(featurizer.monotone_constraints_),
                seed=seed,
            )
            for part_fit, part_valid in parts
        ]
        for gbm in fits:
            gbm.booster.free_dataset()
        estimator = _gbm_estimator([gbm.booster for gbm in fits])
        best_iteration = sum(gbm.best_iteration for gbm in fits)
        early = [_EarlyStopped(gbm, len(part[0][1])) for part, gbm in zip(parts, fits, strict=True)]
    else:
        estimator = fit_logistic(*fit, categorical, seed=seed)
    # one LightGBM model scored the validation rows while early-stopping: not again
    raw_valid = early[0].fit.valid_raw if len(early) == 1 else estimator.raw_score(valid[0])
    calibrator = fit_calibrator(raw_valid, valid[1], seed=seed)
    raw_ece = expected_calibration_error(valid[1], 1 / (1 + np.exp(-raw_valid)))
    if refit_all and kind == "lightgbm":
        boosters = []
        for (part_fit, part_valid), gbm in zip(parts, fits, strict=True):
            rows = len(part_fit[1]) + len(part_valid[1])
            rounds = round(gbm.best_iteration * rows / len(part_fit[1]))
            both = (
                np.vstack([part_fit[0], part_valid[0]]),
                np.concatenate([part_fit[1], part_valid[1]]),
            )
            boosters.append(refit_gbm(both, categorical, gbm, rounds))
        estimator = _gbm_estimator(boosters)
    return Member(estimator, calibrator), best_iteration, raw_ece, early


def _gbm_estimator(boosters: list[lgb.Booster]) -> Estimator:
    if len(boosters) == 2:
        return ChainEstimator(GbmEstimator(boosters[0]), GbmEstimator(boosters[1]))
    return GbmEstimator(boosters[0])


def _chain_parent(data: LeadData, target: str) -> str | None:
    """The target ``target`` is chained through, when the spec chains and the data has it."""
    parent = data.spec.funnel_parent(target) if data.spec.training.chain else None
    return parent if parent in data.targets else None


def _parent_labels(data: LeadData, rows: np.ndarray, target: str) -> np.ndarray | None:
    """Labels of the funnel step before ``target`` when the spec chains it and they nest."""
    parent = _chain_parent(data, target)
    if parent is None:
        return None
    y, earlier = data.targets[target], data.targets[parent]
    if np.any(y[rows] > earlier[rows]):  # a positive that never reached the earlier stage
        return None
    return earlier


def _chain_notes(data: LeadData, target: str) -> list[str]:
    """Say so when the spec would chain ``target`` but its labels do not nest."""
    parent = _chain_parent(data, target)
    if parent is None:
        return []
    stray = int(np.sum(data.targets[target] > data.targets[parent]))
    if not stray:
        return []
    return [
        f"{stray} '{target}' leads never reached '{parent}' in this data, so '{target}' was "
        f"fitted as one model, not as P({parent}) x P({target} | {parent}); check the status "
        "mapping of the spec"
    ]


def _fit_recipe(
    data: LeadData,
    rows: np.ndarray,
    options: TrainOptions,
    kind: str,
    params: dict[str, Any],
    by_time: bool,
) -> _Candidate:
    """Featurize, fit the classifier(s) (``lightgbm`` or ``logistic``), calibrate."""
    y_all = data.targets[options.target]
    featurizer = LeadFeaturizer(spec=data.spec, known_at=options.known_at.value)
    matrix = featurizer.fit_transform(_subset(data, rows))  # the rows read once
    position = {row: i for i, row in enumerate(rows)} if not by_time else None
    parent = _parent_labels(data, rows, options.target) if kind == "lightgbm" else None
    members: list[Member] = []
    rounds: list[int] = []
    eces: list[float] = []
    early: list[_EarlyStopped] = []
    for fit_rows, valid_rows in inner_splits(rows, y_all, by_time, options):
        if position is None:
            fit_at = np.arange(len(fit_rows))
            valid_at = np.arange(len(fit_rows), len(rows))
        else:
            fit_at = np.fromiter((position[r] for r in fit_rows), int, len(fit_rows))
            valid_at = np.fromiter((position[r] for r in valid_rows), int, len(valid_rows))
        member, best, ece, early = _fit_member(
            kind,
            (matrix[fit_at], y_all[fit_rows]),
            (matrix[valid_at], y_all[valid_rows]),
            featurizer,
            params,
            options.seed,
            refit_all=refits_on_valid(len(rows), by_time, options),
            parent=None if parent is None else (parent[fit_rows], parent[valid_rows]),
        )
        members.append(member)
        rounds.append(best)
        eces.append(ece)
    model = LeadModel(
        dataset=data.spec.name,
        known_at=options.known_at.value,
        target=options.target,
        featurizer=featurizer,
        members=members,
    )
    kept = early if len(members) == 1 else []
    return _Candidate(
        model, int(np.mean(rounds)), float(np.mean(eces)), kept, matrix if kept else None
    )


def _vocabulary(featurizer: LeadFeaturizer) -> dict[str, set[str]]:
    return {name: set(labels) for name, labels in featurizer.categories_.items()}


def _final_features(
    data: LeadData, rows: np.ndarray, options: TrainOptions, evaluated: _Candidate, fold: Fold
) -> tuple[LeadFeaturizer, np.ndarray]:
    """The final model's featurizer and matrix on ``rows``.

    A featurizer learns only its category lists. When fitting one on ``rows`` learns the
    same lists as the evaluation's (in another order at most) and ``rows`` are the
    evaluation's training and test rows, the evaluation's featurizer is kept and its
    matrices of those rows are put together: the same features, not computed twice.
    Otherwise the featurizer fitted on ``rows`` featurizes them.
    """
    frame = data.frame if np.array_equal(rows, np.arange(len(data))) else _subset(data, rows)
    fresh = LeadFeaturizer(spec=data.spec, known_at=options.known_at.value).fit(frame)
    used = evaluated.model.featurizer
    covered = len(fold.train) + len(fold.test) == len(rows) == len(data)
    if (
        covered
        and evaluated.fitted is not None
        and evaluated.tested is not None
        and _vocabulary(fresh) == _vocabulary(used)
    ):
        matrix = np.empty((len(rows), evaluated.fitted.shape[1]))
        matrix[fold.train], matrix[fold.test] = evaluated.fitted, evaluated.tested
        evaluated.fitted = evaluated.tested = None  # the final matrix holds them now
        return used, matrix
    return fresh, fresh.transform(frame)


def _refit_final(
    data: LeadData,
    rows: np.ndarray,
    options: TrainOptions,
    evaluated: _Candidate,
    fold: Fold,
) -> _Candidate | None:
    """The evaluation's early-stopped LightGBM refitted on ``rows`` (features: see
    ``_final_features``) for proportionally more rounds, its calibrator kept, as the refit
    on fit + validation rows does: one fit instead of early-stopping, calibrating and refitting
    again. None when the evaluation kept no early-stopped fit or the chain does not hold
    on ``rows``."""
    parent = _parent_labels(data, rows, options.target)
    if not evaluated.early or (parent is None) != (len(evaluated.early) == 1):
        return None
    featurizer, matrix = _final_features(data, rows, options, evaluated, fold)
    y = data.targets[options.target][rows]
    parts = [(matrix, y)]
    if parent is not None:
        reached = parent[rows] == 1
        parts = [(matrix, parent[rows]), (matrix[reached], y[reached])]
    categorical = list(featurizer.categorical_indices_)
    boosters = [
        refit_gbm(
            part,
            categorical,
            early.fit,
            round(early.fit.best_iteration * len(part[1]) / early.rows),
        )
        for part, early in zip(parts, evaluated.early, strict=True)
    ]
    member = Member(_gbm_estimator(boosters), evaluated.model.members[0].calibrator)
    model = LeadModel(
        dataset=data.spec.name,
        known_at=options.known_at.value,
        target=options.target,
        featurizer=featurizer,
        members=[member],
    )
    return _Candidate(model, evaluated.best_iteration, evaluated.raw_valid_ece)


def _has_bant(data: LeadData) -> bool:
    """The BANT points rule applies where the data has BANT answers in the domain's columns."""
    return any(column in data.frame.columns for column in BANT_COLUMNS)


def _rule_scores(data: LeadData, rows: np.ndarray, known_at: KnownAt) -> np.ndarray:
    allowed = data.spec.features_for(known_at)
    columns = [c for f in allowed for c in f.input_columns if c in data.frame.columns]
    frame = data.frame.iloc[rows][columns]
    return rule_probability(frame.to_dict(orient="records"))


# ---------------------------------------------------------------- evaluation


def _evaluate(
    data: LeadData,
    plan: SplitPlan,
    options: TrainOptions,
    params: dict[str, Any],
    progress: Progress,
) -> tuple[Evaluation, _Candidate]:
    """The recipe and the baselines on every fold's test rows; with the last fold's
    LightGBM fit (the final model when it is asked for on the same rows)."""
    y_all = data.targets[options.target]
    by_time = plan.ordered
    names = ["lightgbm", "logistic", "lightgbm_default"]
    if _has_bant(data):
        names.append("bant_rule")
    test_rows = np.concatenate([fold.test for fold in plan.folds])
    predictions = {name: np.empty(len(test_rows)) for name in names}
    calibration: list[str] = []
    best_iterations: list[int] = []
    raw_eces: list[float] = []
    rule_at: list[np.ndarray] = []
    baseline_rows: list[int] = []
    offset = 0
    for number, fold in enumerate(plan.folds, start=1):
        label = f"fold {number}/{len(plan.folds)}" if len(plan.folds) > 1 else "evaluation"
        progress(f"{label}: LightGBM")
        where = slice(offset, offset + len(fold.test))
        gbm = _fit_recipe(data, fold.train, options, "lightgbm", params, by_time)
        featurizer = gbm.model.featurizer
        x_test = featurizer.transform(_subset(data, fold.test))
        gbm.tested = x_test if gbm.early else None
        predictions["lightgbm"][where] = gbm.model.probabilities(x_test)
        calibration.append(gbm.model.calibration)
        best_iterations.append(gbm.best_iteration)
        raw_eces.append(gbm.raw_valid_ece)
        progress(f"{label}: baselines")
        sample = fold.train[
            stratified_positions(y_all[fold.train], options.baseline_rows, options.seed)
        ]
        baseline_rows.append(len(sample))
        x_train = featurizer.transform(_subset(data, sample))
        categorical = list(featurizer.categorical_indices_)
        logistic = fit_logistic(x_train, y_all[sample], categorical)
        predictions["logistic"][where] = 1 / (1 + np.exp(-logistic.raw_score(x_test)))
        default = fit_default_gbm(
            (x_train, y_all[sample]), categorical, options.seed, params["num_threads"]
        )
        predictions["lightgbm_default"][where] = default.predict(x_test)
        if "bant_rule" in predictions:
            at = stratified_positions(y_all[fold.test], options.rule_rows, options.seed)
            predictions["bant_rule"][where][at] = _rule_scores(
                data, fold.test[at], options.known_at
            )
            rule_at.append(at + offset)
        offset += len(fold.test)
    y = y_all[test_rows]
    subsets: dict[str, np.ndarray] = {}
    scored_by_rule = np.concatenate(rule_at) if rule_at else test_rows
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
    evaluation = Evaluation(
        subsets=subsets,
        baseline_rows=int(np.mean(baseline_rows)),
        windows=windows,
        rows=test_rows,
        y=y,
        channels=data.channels[test_rows],
        predictions=predictions,
        metrics={
            name: evaluate(y if name not in subsets else y[subsets[name]], p)
            for name, p in predictions.items()
        },
        calibration=calibration,
        best_iterations=best_iterations,
        uncalibrated_ece=float(np.mean(raw_eces)),
    )
    return evaluation, gbm


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
    featurizer.fit(_subset(data, first.train))
    say(f"tuning LightGBM: {trials} trials on the validation slice")
    return tune_gbm(
        (featurizer.transform(_subset(data, fit_rows)), y[fit_rows]),
        (featurizer.transform(_subset(data, valid_rows)), y[valid_rows]),
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
    notes += _chain_notes(data, options.target)
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
    final: _Candidate | None = None
    if chosen == "lightgbm" and fitted_rows is plan.folds[-1].train:
        final = last_fit  # the same recipe on the same rows: fitted once
    elif chosen == "lightgbm" and plan.ordered:
        final = _refit_final(data, fitted_rows, options, last_fit, plan.folds[-1])
    if final is None:
        final = _fit_recipe(data, fitted_rows, options, chosen, params, plan.ordered)
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


def fit_final(data: LeadData, options: TrainOptions) -> LeadModel:
    """The production recipe alone on all rows (features + LightGBM + calibration)."""
    params = _params(data, options, len(data))
    by_time = data.times is not None or isinstance(data.spec.split, OrderedSplit | BacktestSplit)
    rows = np.arange(len(data))
    return _fit_recipe(data, rows, options, "lightgbm", params, by_time).model
