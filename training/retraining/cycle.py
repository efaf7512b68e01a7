"""One monthly retrain: settle labels, pick the window, fit challengers, judge, promote.

:func:`retrain` takes the raw lead frame (a CRM export through its spec, or the lead
store's outcomes) and, for every (known_at, target), fits a challenger on the settled
leads before the evaluation window, scores it and the champion on the window, evaluates
the gates, logs the challenger with its decision to MLflow and moves the ``champion``
alias only when every gate passed. Nothing here reads settings or the environment: the
caller passes the MLflow target and the configuration (:class:`RetrainConfig`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.dataset import LeadData
from features.spec import DatasetSpec, KnownAt
from features.tiers import Tiers
from training.feedback import LiveFeedback
from training.metrics import evaluate
from training.options import TrainOptions
from training.registry import load_champion, model_name, promote
from training.retraining.challenger import (
    champion_metrics,
    fit_challenger,
    open_tier_changes,
    recipe_only,
)
from training.retraining.config import (
    DEFAULT_EVAL_MONTHS,
    DEFAULT_MATURITY_DAYS,
    DEFAULT_MIN_SETTLED_SHARE,
    Gates,
    MlflowTarget,
)
from training.retraining.drift import window_drift
from training.retraining.exploration import live_check
from training.retraining.gates import (
    Decision,
    GateResult,
    cold_start,
    data_digest,
    ece_noise,
    evaluate_gates,
)
from training.retraining.labels import Settled
from training.retraining.records import (
    RETRAIN_KEY_TAG,
    RETRAIN_MODEL_TAG,
    RetrainRecord,
    latest_retrain,
    log_challenger,
    record_decision,
    verdict,
)
from training.retraining.report import Action, ModelReport
from training.retraining.settle import settle_shared, subset_data
from training.retraining.window import Window, WindowChoice, choose_window
from training.runner import IMPORTANCE_SAMPLE
from training.splits import Fold, TrainingError
from training.trainer import TrainResult

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RetrainConfig:
    as_of: pd.Timestamp
    maturity_days: int = DEFAULT_MATURITY_DAYS
    eval_months: int = DEFAULT_EVAL_MONTHS
    min_settled_share: float = DEFAULT_MIN_SETTLED_SHARE
    gates: Gates = field(default_factory=Gates)
    tiers: Tiers = field(default_factory=Tiers)
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    dry_run: bool = False
    force: bool = False

    def key(self, digest: str, window: str, known_at: str, target: str) -> str:
        """What makes two retrains the same: data, window, model, settings."""
        payload = [
            digest,
            window,
            known_at,
            target,
            self.maturity_days,
            self.eval_months,
            self.min_settled_share,
            self.gates.digest(),
            sorted(self.params.items()),
            self.seed,
        ]
        return hashlib.sha256(repr(payload).encode()).hexdigest()[:16]


def config_summary(config: RetrainConfig) -> dict[str, Any]:
    return {
        "as_of": config.as_of.isoformat(),
        "maturity_days": config.maturity_days,
        "eval_months": config.eval_months,
        "min_settled_share": config.min_settled_share,
        "gates": asdict(config.gates),
        "tiers": asdict(config.tiers),
        "dry_run": config.dry_run,
    }


# --------------------------------------------------------------------------- one model


@dataclass(frozen=True)
class _Job:
    """One model of a retrain: its settled data and the window it is judged on."""

    name: str
    known_at: KnownAt
    target: str
    settled: Settled
    choice: WindowChoice
    data: LeadData
    digest: str
    fold: Fold  # the settled leads before the window (training) and in it
    feedback: LiveFeedback | None = None  # the live queue's check (arrival models)
    #: the target's settled leads as positions in ``data`` (shared by the targets); None:
    #: ``data`` holds only them
    rows: np.ndarray | None = None

    @property
    def window(self) -> Window:
        return self.choice.window

    def counts(self) -> tuple[int, int]:
        """Settled positives and negatives in training."""
        y = self.data.targets[self.target][self.fold.train]
        positives = int(y.sum())
        return positives, len(y) - positives

    def report(self, action: Action, message: str) -> ModelReport:
        report = ModelReport(
            self.name, self.known_at.value, self.target, action, message, self.settled, self.choice
        )
        if self.feedback is not None:
            report.feedback = self.feedback
            report.notes.append(self.feedback.summary())
        return report


def _rows(
    data: LeadData, start: pd.Timestamp | None, end: pd.Timestamp, rows: np.ndarray | None
) -> np.ndarray:
    """Positions in ``data`` (of only ``rows`` when given) of the leads from ``start`` to
    ``end``."""
    assert data.times is not None
    times = data.times if rows is None else data.times[rows]
    inside = np.asarray(times < end)
    if start is not None:
        inside &= np.asarray(times >= start)
    found = np.flatnonzero(inside)
    return found if rows is None else rows[found]


def _fold(data: LeadData, window: Window, rows: np.ndarray | None = None) -> Fold:
    return Fold(_rows(data, None, window.start, rows), _rows(data, window.start, window.end, rows))


def _target_data(
    shared: LeadData, rows: np.ndarray, window: Window
) -> tuple[LeadData, np.ndarray | None]:
    """The data a target's models work on: the shared data set with the target's rows when
    the challenger is the production recipe alone (it takes positions), else a data set of
    only those rows (a copy unless they are every row)."""
    if len(rows) == len(shared):
        return shared, None
    if recipe_only(len(_rows(shared, None, window.start, rows))):
        return shared, rows
    return subset_data(shared, rows), None


def _sample(data: LeadData, rows: np.ndarray | None, size: int, seed: int) -> pd.DataFrame:
    """``size`` random leads of ``data`` (of only ``rows`` when given), drawn as
    ``DataFrame.sample`` draws them from the frame of only those rows."""
    if rows is None:
        return data.frame.sample(n=size, random_state=seed)
    drawn = np.random.RandomState(seed).choice(len(rows), size=size, replace=False)
    sample = data.frame.iloc[rows[drawn]]
    sample.index = pd.Index(drawn)
    return sample


def _options(job: _Job, config: RetrainConfig) -> TrainOptions:
    """Train on the leads before the window, test on it, keep the evaluation fit."""
    return TrainOptions(
        known_at=job.known_at,
        target=job.target,
        test_start=job.window.start.date(),
        test_end=job.window.end.date(),
        params=dict(config.params),
        seed=config.seed,
        refit=False,
    )


def _stopped(
    report: ModelReport, action: Action, message: str, reasons: list[GateResult]
) -> ModelReport:
    """A model stopped before judging, by the gates given."""
    report.action, report.message = action, message
    report.decision = Decision(passed=all(r.passed for r in reasons), reasons=reasons)
    return report


def _unchanged(report: ModelReport, previous: RetrainRecord, window: Window) -> ModelReport:
    report.action = Action.UNCHANGED
    report.run_id, report.version = previous.run_id, previous.version
    report.message = (
        f"nothing new since run {previous.run_id[:8]} of {previous.started} (same settled "
        f"data, window {window.label} and gates; it was {previous.decision or 'logged'}): "
        "nothing to do (--force retrains anyway)"
    )
    return report


def _retrain_one(
    job: _Job, config: RetrainConfig, where: MlflowTarget, say: Progress
) -> ModelReport:
    """Cold start, no-op repeat, or a challenger fitted, judged and (unless dry) logged."""
    report = job.report(Action.REFUSED, "")
    gate = cold_start(*job.counts(), config.gates, job.target)
    if not gate.passed:
        return _stopped(report, Action.COLD_START, gate.message, [gate])
    key = config.key(job.digest, job.window.label, job.known_at.value, job.target)
    previous = latest_retrain(where.tracking_uri, where.experiment, job.name)
    if previous is not None and previous.key == key and not config.force:
        return _unchanged(report, previous, job.window)
    training = len(job.fold.train)
    start = job.window.start
    say(f"{job.name}: training the challenger on {training} leads before {start:%Y-%m-%d}")
    try:
        result = fit_challenger(
            job.data, _options(job, config), training, lambda m: say(f"{job.name}: {m}"), job.rows
        )
    except TrainingError as exc:
        refusal = GateResult("trainable", False, None, None, str(exc))
        action = Action.WOULD_REFUSE if config.dry_run else Action.REFUSED
        return _stopped(report, action, f"refused: {exc}", [gate, refusal])
    decision = _judge(report, job, result, config, where, say)
    if config.dry_run:
        report.action = Action.WOULD_PROMOTE if decision.passed else Action.WOULD_REFUSE
        return report
    _register(report, job, result, config, where, key, say)
    return report


def _judge(
    report: ModelReport,
    job: _Job,
    result: TrainResult,
    config: RetrainConfig,
    where: MlflowTarget,
    say: Progress,
) -> Decision:
    """Score challenger and champion on the window, evaluate the gates, count tier changes."""
    data = job.data
    # judged on the model that would be registered, scored like the champion on the window
    challenger_p = result.model.predict_proba(data.frame.iloc[result.evaluation.rows])
    report.challenger = evaluate(result.evaluation.y, challenger_p)
    report.challenger_kind = result.model.kind
    report.notes.extend(result.notes)
    say(f"{job.name}: scoring the champion on window {job.window.label}")
    champion = load_champion(where.tracking_uri, job.name)
    report.champion_version = None if champion is None else champion.version
    report.champion = champion_metrics(
        champion, data, result, job.window, where.tracking_uri, report.notes
    )
    psi_rows, report.drift = window_drift(
        data, result.model, job.fold, job.target, job.window, config.seed
    )
    decision = evaluate_gates(
        report.challenger,
        report.champion,
        job.counts(),
        psi_rows,
        config.gates,
        job.target,
        noise=ece_noise(challenger_p),
    )
    report.decision, report.message = decision, decision.summary()
    report.tiers = open_tier_changes(
        job.settled, data.spec, job.known_at, champion, result.model, config.tiers
    )
    return decision


def _register(
    report: ModelReport,
    job: _Job,
    result: TrainResult,
    config: RetrainConfig,
    where: MlflowTarget,
    key: str,
    say: Progress,
) -> None:
    """Log and register the challenger, promote it on a pass, record the decision."""
    say(f"{report.name}: logging the challenger and the decision to MLflow")
    settled = len(job.data) if job.rows is None else len(job.rows)
    sample = _sample(job.data, job.rows, min(IMPORTANCE_SAMPLE, settled), config.seed)
    tags = _run_tags(report, job.window, config, key)
    report.run_id, report.version = log_challenger(result, job.digest, where, sample, tags)
    _conclude(report, where.tracking_uri)
    record_decision(report, where.tracking_uri)


def _run_tags(
    report: ModelReport, window: Window, config: RetrainConfig, key: str
) -> dict[str, str]:
    assert report.decision is not None
    return {
        RETRAIN_MODEL_TAG: report.name,
        RETRAIN_KEY_TAG: key,
        "retrain.window": window.label,
        "retrain.window_start": window.start.isoformat(),
        "retrain.window_end": window.end.isoformat(),
        "retrain.trained_until": window.start.isoformat(),
        "retrain.as_of": config.as_of.isoformat(),
        "retrain.maturity_days": str(config.maturity_days),
        "retrain.gates": config.gates.digest(),
        "retrain.champion_version": report.champion_version or "none",
        "retrain.decision": verdict(report.decision),
    }


def _conclude(report: ModelReport, tracking_uri: str) -> None:
    """Move the champion alias to the registered challenger when every gate passed."""
    decision = report.decision
    assert decision is not None
    if report.version is not None and decision.passed:
        promote(tracking_uri, report.name, report.version)
        report.action = Action.PROMOTED
        report.message = f"version {report.version} promoted to champion: every gate passed"
        if report.champion_version:
            report.message += f" (previous: version {report.champion_version})"
        return
    report.action = Action.REFUSED
    report.message = f"version {report.version} registered, not promoted: " + "; ".join(
        r.message for r in decision.failed
    )


def _attempt(job: _Job, config: RetrainConfig, where: MlflowTarget, say: Progress) -> ModelReport:
    """One model; its failure is its own report, the other models go on."""
    try:
        return _retrain_one(job, config, where, say)
    except Exception as exc:
        return job.report(Action.FAILED, f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- the run


def retrain(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    pairs: list[tuple[KnownAt, str]],
    config: RetrainConfig,
    mlflow_target: MlflowTarget,
    source: str = "<frame>",
    progress: Progress | None = None,
) -> list[ModelReport]:
    """Retrain every (known_at, target) in ``pairs``; one report each, target by target.

    Data problems (``DatasetError``) propagate: nothing is trained on data that does not
    fit its spec. A model whose training or logging fails gets a ``failed`` report and the
    others go on.
    """
    say = progress or (lambda _message: None)
    reports: list[ModelReport] = []
    targets = list(dict.fromkeys(t for _k, t in pairs))
    say(f"settling outcomes as of {config.as_of:%Y-%m-%d}")
    shared = settle_shared(spec, frame, targets, config.as_of, config.maturity_days, source)
    for target in targets:
        settled, rows = shared.targets[target]
        choice = choose_window(settled, config.eval_months, config.min_settled_share)
        known_ats = [k for k, t in pairs if t == target]
        if shared.data is None or not len(rows):
            message = cold_start(0, 0, config.gates, target).message
            reports.extend(
                ModelReport(
                    model_name(known_at.value, target, spec.name),
                    known_at.value,
                    target,
                    Action.COLD_START,
                    message,
                    settled,
                    choice,
                )
                for known_at in known_ats
            )
            continue
        digest = data_digest(shared.data, rows)
        data, kept = _target_data(shared.data, rows, choice.window)
        fold = _fold(data, choice.window, kept)
        for known_at in known_ats:
            name = model_name(known_at.value, target, spec.name)
            feedback = (
                live_check(frame, spec.id_column, data, target, kept)
                if known_at is KnownAt.ARRIVAL
                else None
            )
            job = _Job(name, known_at, target, settled, choice, data, digest, fold, feedback, kept)
            reports.append(_attempt(job, config, mlflow_target, say))
    return reports
