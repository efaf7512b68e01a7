"""The two contenders of a retrain on the window: the challenger fitted on the leads before
it, the champion's metrics on the same ground, and what the challenger would change for the
open leads (their tiers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from features.dataset import LeadData
from features.spec import DatasetSpec, KnownAt
from features.tiers import Tiers
from training.gbm import DEFAULT_PARAMS, scale_learning_rate
from training.metrics import Metrics, evaluate, per_channel
from training.model import LeadModel
from training.options import TrainOptions
from training.registry import VersionedModel
from training.retraining.gates import TierChanges, tier_changes
from training.retraining.labels import Settled, qualified_rows
from training.retraining.window import Window
from training.rules import rule_probability
from training.splits import plan_split
from training.tracking.runs import training_record
from training.trainer import Evaluation, TrainResult, fit_final, train_model

Progress = Callable[[str], None]
#: Up to this many training rows the challenger goes through the full trainer (baselines
#: on the same split, and the logistic fallback that can win on small data); above it the
#: production recipe alone is fitted once (features, LightGBM, calibration): on large data
#: the baselines and the trainer's second, identical fit would triple the time.
FULL_TRAINING_MAX_ROWS = 200_000


# --------------------------------------------------------------------------- the challenger


def recipe_only(training_rows: int) -> bool:
    """Whether a challenger of ``training_rows`` leads before the window is the production
    recipe alone (see FULL_TRAINING_MAX_ROWS); only that path takes row positions."""
    return training_rows > FULL_TRAINING_MAX_ROWS


def fit_challenger(
    data: LeadData,
    options: TrainOptions,
    training_rows: int,
    say: Progress,
    rows: np.ndarray | None = None,
) -> TrainResult:
    """Train on the leads before the window (``options.test_start``), evaluate on it.

    ``training_rows`` (the leads before the window) chooses the path: see
    FULL_TRAINING_MAX_ROWS. ``rows`` (positions, in order; the production recipe's path
    only) fits on those rows of ``data`` as if it held only them: the result's rows are
    positions in ``data``.
    """
    if not recipe_only(training_rows):
        if rows is not None:
            raise ValueError("row positions are for the production recipe's path only")
        return train_model(data, options, progress=say)
    return _recipe_only(data, options, say, rows)


def _recipe_only(
    data: LeadData, options: TrainOptions, say: Progress, rows: np.ndarray | None
) -> TrainResult:
    """The production recipe fitted once on the training rows, scored on the window."""
    say("evaluation: LightGBM (the production recipe alone on large data)")
    plan = plan_split(data, options.target, options, rows)
    train, test = plan.folds[0].train, plan.folds[0].test
    model = fit_final(data, options, train)  # the training rows, not a copy of them
    evaluation, rounds = _window_evaluation(data, model, test, options.target)
    p = evaluation.predictions["lightgbm"]
    params = {**DEFAULT_PARAMS, **data.spec.training.params, **options.params}
    assert data.times is not None
    times = data.times if rows is None else data.times[rows]
    return TrainResult(
        model=model,
        evaluation=evaluation,
        split=plan,
        params=scale_learning_rate(params, len(train)),
        best_iteration=rounds,
        per_channel=per_channel(evaluation.y, p, evaluation.channels),
        rows_train=len(train),
        rows_test=len(test),
        time_range=(times.min().isoformat(), times.max().isoformat()),
        chosen="lightgbm",
        flagged=False,
        trained_until=data.times[train].max().isoformat(),
        notes=[
            f"{len(train)} training rows (> {FULL_TRAINING_MAX_ROWS}): the production "
            "recipe was fitted alone, without the baselines"
        ],
    )


def _window_evaluation(
    data: LeadData, model: LeadModel, rows: np.ndarray, target: str
) -> tuple[Evaluation, int]:
    """The model's predictions and metrics on the window's rows, and its boosting rounds."""
    y = data.targets[target][rows]
    p = model.predict_proba(data.frame.iloc[rows])
    booster = getattr(model.members[0].estimator, "booster", None)
    rounds = int(booster.best_iteration or booster.current_iteration()) if booster else 0
    evaluation = Evaluation(
        rows=rows,
        y=y,
        channels=data.channels[rows],
        predictions={"lightgbm": p},
        metrics={"lightgbm": evaluate(y, p)},
        calibration=[model.calibration],
        best_iterations=[rounds],
        uncalibrated_ece=float("nan"),
    )
    return evaluation, rounds


# --------------------------------------------------------------------------- the champion


def champion_metrics(
    champion: VersionedModel | None,
    data: LeadData,
    result: TrainResult,
    window: Window,
    tracking_uri: str,
    notes: list[str],
) -> Metrics | None:
    """The champion's metrics to judge the challenger against, on the same ground if it can.

    A champion fitted on leads of the window itself (a ``leadscore train`` final fit on all
    rows) would be judged in-sample there; it is compared by the out-of-time test its own
    training run logged instead, and a note says so.
    """
    if champion is None:
        return None
    try:
        p = champion.model.predict_proba(data.frame.iloc[result.evaluation.rows])
    except Exception as exc:  # a champion that cannot read today's data is not a rival
        notes.append(
            f"champion version {champion.version} cannot score the window ({exc}); "
            "the challenger is judged on its own"
        )
        return None
    on_window = evaluate(result.evaluation.y, p)
    record = training_record(tracking_uri, champion.name, champion.version)
    seen = record.fitted_until
    if seen is None or seen < window.start:
        return on_window
    saw = (
        f"champion version {champion.version} was fitted on leads up to {seen:%Y-%m-%d}, "
        f"which include the window {window.label}: its ROC-AUC there "
        f"({on_window.roc_auc:.4f}) is in-sample"
    )
    own = record.test
    if own is None:
        notes.append(f"{saw}, and its run logged no test; the challenger is judged on its own")
        return None
    notes.append(
        f"{saw}, so it is compared by its own out-of-time test instead (ROC-AUC "
        f"{own.roc_auc:.4f}, log loss {own.log_loss:.4f} on {own.rows} leads)"
    )
    return own


# --------------------------------------------------------------------------- open leads


def _scores_before(
    champion: VersionedModel | None, frame: pd.DataFrame, spec: DatasetSpec, known_at: KnownAt
) -> np.ndarray:
    """What scores the open leads now: the champion, or the fallback rule."""
    if champion is not None:
        try:
            return champion.model.predict_proba(frame)
        except Exception:  # the service scores with the rule then too
            pass
    features = spec.features_for(known_at)
    columns = [c for f in features for c in f.input_columns if c in frame.columns]
    return rule_probability(frame[columns].to_dict(orient="records"))


def _open_leads(settled: Settled, spec: DatasetSpec, known_at: KnownAt) -> pd.DataFrame:
    """The open leads, without the columns the spec drops (outcomes, status history,
    ground truth: no model reads them), those without answers left out for a qualified
    model."""
    kept = [c for c in settled.source.columns if not any(d.matches(str(c)) for d in spec.drop)]
    frame = settled.open_frame_of(kept)
    if known_at is KnownAt.QUALIFIED:
        frame = frame.loc[qualified_rows(frame)]
    return frame


def open_tier_changes(
    settled: Settled,
    spec: DatasetSpec,
    known_at: KnownAt,
    champion: VersionedModel | None,
    challenger: LeadModel,
    cutoffs: Tiers,
) -> TierChanges:
    """How many open leads (with answers, for a qualified model) would change tier."""
    frame = _open_leads(settled, spec, known_at)
    if len(frame) == 0:
        empty = np.zeros(0)
        return tier_changes(empty, empty, cutoffs)
    before = _scores_before(champion, frame, spec, known_at)
    return tier_changes(before, challenger.predict_proba(frame), cutoffs)
