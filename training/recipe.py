"""The training recipe of one model, the same for evaluation and for the final model.

1. the feature pipeline is fitted on the training rows (for the moment the model scores,
   ``known_at``: an ``arrival`` model never reads a field known later);
2. LightGBM is trained on the earlier part of the training rows and early-stopped on the
   most recent slice of them (``valid_share``), never on the test period;
3. a calibrator (isotonic or sigmoid, chosen by validation) is fitted on that same slice.

A later funnel target (``won``, when the spec also has ``sql`` on the same status column)
is fitted as two LightGBM models, P(sql) on every lead and P(won | sql) on the leads that
reached SQL, whose product is calibrated as one score (``training.chain`` in the spec
turns this off). The rare target borrows the earlier stage's several times more positives.

On ordered data the final model can be the evaluation's early-stopped LightGBM refitted on
all rows for proportionally more rounds with its calibrator kept (:func:`refit_final`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.dataset import LeadData
from features.pipeline import LeadFeaturizer
from training.baselines import fit_logistic
from training.calibration import fit_calibrator
from training.gbm import GbmFit, fit_gbm, refit_gbm
from training.metrics import expected_calibration_error
from training.model import ChainEstimator, Estimator, GbmEstimator, LeadModel, Member
from training.options import TrainOptions
from training.splits import Fold, inner_splits

#: From this many training rows the early-stopped fit is kept, without the refit on fit +
#: validation rows: at that size the refit adds nothing measurable for much more time (the
#: measured trade-off is in docs/training.md).
REFIT_MAX_ROWS = 200_000


def refits_on_valid(rows: int, by_time: bool, options: TrainOptions) -> bool:
    """Whether a fit on ``rows`` training rows is refitted on its fit + validation rows:
    ordered rows only (the validation slice is the newest data), when asked for, and below
    ``REFIT_MAX_ROWS``."""
    return by_time and options.refit_on_valid and rows < REFIT_MAX_ROWS


@dataclass(frozen=True)
class EarlyStopped:
    """One early-stopped LightGBM fit and the rows it was fitted on: what the final model
    is refitted from."""

    fit: GbmFit
    rows: int


@dataclass
class Candidate:
    model: LeadModel
    best_iteration: int
    raw_valid_ece: float
    #: a single-member LightGBM fit's early-stopped boosters (one, or two when chained)
    early: list[EarlyStopped] = field(default_factory=list)
    #: with ``early``: the featurized rows it was fitted on and, after the evaluation, the
    #: featurized test rows (kept so the final model need not featurize them again)
    fitted: np.ndarray | None = None
    tested: np.ndarray | None = None


def consecutive(rows: np.ndarray) -> bool:
    """Whether ``rows`` are consecutive positions in order (a slice of the frame)."""
    return (
        len(rows) > 0 and rows[-1] - rows[0] + 1 == len(rows) and bool(np.all(np.diff(rows) == 1))
    )


def subset(data: LeadData, rows: np.ndarray) -> pd.DataFrame:
    """The frame's ``rows``: a slice, not a copy, when they are consecutive (time-ordered
    training rows are)."""
    if consecutive(rows):
        return data.frame.iloc[int(rows[0]) : int(rows[-1]) + 1]
    return data.frame.iloc[rows]


def _fitted_matrix(featurizer: LeadFeaturizer, data: LeadData, rows: np.ndarray) -> np.ndarray:
    """The featurizer fitted on ``rows`` and their matrix: read from a slice of the frame
    when they are consecutive, else column by column from the frame, never from a copy of
    their rows."""
    if consecutive(rows):
        return featurizer.fit_transform_rows(subset(data, rows))
    return featurizer.fit_transform_rows(data.frame, rows)


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
) -> tuple[Member, int, float, list[EarlyStopped]]:
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
    early: list[EarlyStopped] = []
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
        early = [EarlyStopped(gbm, len(part[0][1])) for part, gbm in zip(parts, fits, strict=True)]
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


def chain_notes(data: LeadData, target: str) -> list[str]:
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


def fit_recipe(
    data: LeadData,
    rows: np.ndarray,
    options: TrainOptions,
    kind: str,
    params: dict[str, Any],
    by_time: bool,
) -> Candidate:
    """Featurize, fit the classifier(s) (``lightgbm`` or ``logistic``), calibrate."""
    y_all = data.targets[options.target]
    featurizer = LeadFeaturizer(spec=data.spec, known_at=options.known_at.value)
    matrix = _fitted_matrix(featurizer, data, rows)
    position = {row: i for i, row in enumerate(rows)} if not by_time else None
    parent = _parent_labels(data, rows, options.target) if kind == "lightgbm" else None
    members: list[Member] = []
    rounds: list[int] = []
    eces: list[float] = []
    early: list[EarlyStopped] = []
    for fit_rows, valid_rows in inner_splits(rows, y_all, by_time, options):
        if position is None:  # by time: the oldest rows fit, the newest validate (views)
            fit_x, valid_x = matrix[: len(fit_rows)], matrix[len(fit_rows) :]
        else:
            fit_x = matrix[np.fromiter((position[r] for r in fit_rows), int, len(fit_rows))]
            valid_x = matrix[np.fromiter((position[r] for r in valid_rows), int, len(valid_rows))]
        member, best, ece, early = _fit_member(
            kind,
            (fit_x, y_all[fit_rows]),
            (valid_x, y_all[valid_rows]),
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
    return Candidate(
        model, int(np.mean(rounds)), float(np.mean(eces)), kept, matrix if kept else None
    )


def _vocabulary(featurizer: LeadFeaturizer) -> dict[str, set[str]]:
    return {name: set(labels) for name, labels in featurizer.categories_.items()}


def _final_features(
    data: LeadData, rows: np.ndarray, options: TrainOptions, evaluated: Candidate, fold: Fold
) -> tuple[LeadFeaturizer, np.ndarray]:
    """The final model's featurizer and matrix on ``rows``.

    A featurizer learns only its category lists. When fitting one on ``rows`` learns the
    same lists as the evaluation's (in another order at most) and ``rows`` are the
    evaluation's training and test rows, the evaluation's featurizer is kept and its
    matrices of those rows are put together: the same features, not computed twice.
    Otherwise the featurizer fitted on ``rows`` featurizes them.
    """
    frame = data.frame if np.array_equal(rows, np.arange(len(data))) else subset(data, rows)
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


def refit_final(
    data: LeadData,
    rows: np.ndarray,
    options: TrainOptions,
    evaluated: Candidate,
    fold: Fold,
) -> Candidate | None:
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
    return Candidate(model, evaluated.best_iteration, evaluated.raw_valid_ece)
