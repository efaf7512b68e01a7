"""One monthly retrain: settle labels, pick the window, fit challengers, judge, promote.

:func:`retrain` takes the raw lead frame (a CRM export through its spec, or the lead store
read by ``serving.store.outcomes``) and, for every (stage, target), fits a challenger on the
settled leads before the evaluation window, scores it and the champion on the window,
evaluates the gates (``training.retraining.policy``), logs the challenger with its decision to
MLflow and moves the ``champion`` alias only when every gate passed. Nothing here reads
settings or the environment: the caller passes the MLflow target and the configuration.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.coerce import as_object_array, to_text
from features.dataset import LeadData, prepare_frame
from features.funnel import Stage
from features.spec import DatasetSpec, KnownAt, StatusTarget
from training.gbm import DEFAULT_PARAMS, scale_learning_rate
from training.metrics import Metrics, evaluate, per_channel
from training.model import LeadModel
from training.registry import VersionedModel, load_champion, model_name, promote, tag_version
from training.retraining.drift import (
    DriftReport,
    FeaturePsi,
    Sample,
    channel_conversion,
    feature_psi,
    psi,
    render_html,
    render_markdown,
)
from training.retraining.policy import (
    DEFAULT_EVAL_MONTHS,
    DEFAULT_MATURITY_DAYS,
    DEFAULT_MIN_SETTLED_SHARE,
    Decision,
    GateResult,
    Gates,
    Settled,
    TierChanges,
    Window,
    WindowChoice,
    choose_window,
    cold_start,
    data_digest,
    ece_noise,
    evaluate_gates,
    qualified_rows,
    read_outcomes,
    tier_changes,
)
from training.retraining.records import (
    RETRAIN_KEY_TAG,
    RETRAIN_MODEL_TAG,
    decision_json,
    latest_retrain,
)
from training.rules import rule_probability
from training.tiers import Tiers
from training.tracking.runs import log_training_run, record_on_run, training_record
from training.trainer import (
    Evaluation,
    Fold,
    SplitPlan,
    TrainingError,
    TrainOptions,
    TrainResult,
    fit_final,
    train_model,
)

Progress = Callable[[str], None]
#: Rows of the training data compared with the window for drift (a random sample above it).
DRIFT_REFERENCE_ROWS = 100_000
#: Rows used for the importance plots of a logged challenger.
IMPORTANCE_SAMPLE = 5_000
#: Up to this many training rows the challenger goes through the full trainer (baselines
#: on the same split, and the logistic fallback that can win on small data); above it the
#: production recipe alone is fitted once (features, LightGBM, calibration): on large data
#: the baselines and the trainer's second, identical fit would triple the time.
FULL_TRAINING_MAX_ROWS = 200_000


class Action(StrEnum):
    PROMOTED = "promoted"
    REFUSED = "refused"
    COLD_START = "cold start"
    UNCHANGED = "unchanged"
    WOULD_PROMOTE = "dry run: would promote"
    WOULD_REFUSE = "dry run: would refuse"
    FAILED = "failed"


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

    def key(self, digest: str, window: str, stage: str, target: str) -> str:
        """What makes two retrains the same: data, window, model, settings."""
        payload = [
            digest,
            window,
            stage,
            target,
            self.maturity_days,
            self.eval_months,
            self.min_settled_share,
            self.gates.digest(),
            sorted(self.params.items()),
            self.seed,
        ]
        return hashlib.sha256(repr(payload).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MlflowTarget:
    tracking_uri: str
    experiment: str
    artifact_root: Path | None


@dataclass
class ModelReport:
    """What happened to one model in a retrain, with everything needed to explain it."""

    name: str
    stage: str
    target: str
    action: Action
    message: str
    settled: Settled | None = None
    window: WindowChoice | None = None
    decision: Decision | None = None
    challenger: Metrics | None = None
    champion: Metrics | None = None
    champion_version: str | None = None
    challenger_kind: str | None = None
    version: str | None = None
    run_id: str | None = None
    tiers: TierChanges | None = None
    drift: DriftReport | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.action is Action.FAILED

    def as_json(self) -> dict[str, Any]:
        window = self.window
        return {
            "model": self.name,
            "stage": self.stage,
            "target": self.target,
            "action": self.action.value,
            "message": self.message,
            "as_of": None if self.settled is None else self.settled.as_of.isoformat(),
            "settled": None if self.settled is None else self.settled.summary(),
            "window": None
            if window is None
            else {
                "label": window.window.label,
                "start": window.window.start.isoformat(),
                "end": window.window.end.isoformat(),
                "leads": window.leads,
                "settled": window.settled,
                "skipped": [list(item) for item in window.skipped],
            },
            "challenger": None if self.challenger is None else self.challenger.as_dict(),
            "challenger_kind": self.challenger_kind,
            "champion": None if self.champion is None else self.champion.as_dict(),
            "champion_version": self.champion_version,
            "decision": None if self.decision is None else self.decision.as_json(),
            "tier_changes": None
            if self.tiers is None
            else {
                "summary": self.tiers.summary(),
                "leads": self.tiers.leads,
                "changed": self.tiers.changed,
                "up": self.tiers.up,
                "down": self.tiers.down,
                "matrix": {
                    str(k): {str(c): int(v) for c, v in row.items()}
                    for k, row in self.tiers.matrix.to_dict(orient="index").items()
                },
            },
            "version": self.version,
            "run_id": self.run_id,
            "notes": self.notes,
        }


# --------------------------------------------------------------------------- data


def target_stage(spec: DatasetSpec, target: str) -> str | None:
    """The funnel stage whose reaching makes a lead positive (status targets only)."""
    definition = spec.targets[target]
    return definition.reach.value if isinstance(definition, StatusTarget) else None


def _check_spec(spec: DatasetSpec, targets: list[str]) -> str:
    if spec.time_column is None:
        raise ValueError(f"spec '{spec.name}' has no time column: retraining needs arrival times")
    unknown = [t for t in targets if t not in spec.targets]
    if unknown:
        known = ", ".join(spec.targets)
        raise ValueError(f"unknown target {', '.join(unknown)}; the spec defines: {known}")
    return spec.time_column


def _subset(data: LeadData, rows: np.ndarray) -> LeadData:
    """The same data set restricted to ``rows`` (positions, in order)."""
    return replace(
        data,
        frame=data.frame.iloc[rows].reset_index(drop=True),
        ids=data.ids[rows],
        times=None if data.times is None else data.times[rows],
        channels=data.channels[rows],
        campaigns=None if data.campaigns is None else data.campaigns[rows],
        targets={name: values[rows] for name, values in data.targets.items()},
    )


def settle_targets(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    targets: list[str],
    as_of: pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    source: str = "<frame>",
) -> dict[str, tuple[Settled, LeadData | None]]:
    """Settled leads of each target and the validated data set built from them.

    The outcomes are read and the data validated once, for the union of the targets'
    settled leads (a lower stage settles more leads); each target then takes its rows.
    """
    time_column = _check_spec(spec, targets)
    outcomes = read_outcomes(frame, as_of, maturity_days, time_column=time_column)
    settled = {t: outcomes.settled(target_stage(spec, t)) for t in targets}
    if not any(item.mask.any() for item in settled.values()):
        return {t: (item, None) for t, item in settled.items()}
    # the lowest stage settles every lead any of the targets counts
    everything = outcomes.settled(_lowest_stage(spec, targets))
    data = prepare_frame(spec, everything.frame, source=f"{source} (settled)")
    kept = np.flatnonzero(everything.mask)
    ids = pd.Index(_ids(outcomes.frame[spec.id_column].iloc[kept]))
    position = kept[ids.get_indexer(data.ids)]
    out: dict[str, tuple[Settled, LeadData | None]] = {}
    for target, item in settled.items():
        rows = np.flatnonzero(item.mask[position])
        out[target] = (item, _subset(data, rows) if len(rows) else None)
    return out


def _ids(values: pd.Series) -> np.ndarray:
    return to_text(as_object_array(values))


def _lowest_stage(spec: DatasetSpec, targets: list[str]) -> str | None:
    """The earliest funnel stage among the targets' (None: no status target)."""
    stages = [stage for t in targets if (stage := target_stage(spec, t)) is not None]
    return min(stages, key=lambda s: Stage(s).rank) if stages else None


def settle(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    target: str,
    as_of: pd.Timestamp,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    source: str = "<frame>",
) -> tuple[Settled, LeadData | None]:
    """Settled leads for ``target`` and the validated data set built from them."""
    return settle_targets(spec, frame, [target], as_of, maturity_days, source)[target]


def _rows(data: LeadData, start: pd.Timestamp | None, end: pd.Timestamp) -> np.ndarray:
    assert data.times is not None
    inside = np.asarray(data.times < end)
    if start is not None:
        inside &= np.asarray(data.times >= start)
    return np.flatnonzero(inside)


def _sample(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    if len(rows) <= size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))


# --------------------------------------------------------------------------- one model


def _champion_metrics(
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
    rows = result.evaluation.rows
    try:
        p = champion.model.predict_proba(data.frame.iloc[rows])
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


def _scores_before(
    champion: VersionedModel | None, frame: pd.DataFrame, spec: DatasetSpec, stage: KnownAt
) -> np.ndarray:
    """What scores the open leads now: the champion, or the fallback rule."""
    if champion is not None:
        try:
            return champion.model.predict_proba(frame)
        except Exception:  # the service scores with the rule then too
            pass
    columns = [c for f in spec.features_for(stage) for c in f.input_columns if c in frame.columns]
    return rule_probability(frame[columns].to_dict(orient="records"))


def _open_leads(settled: Settled, stage: KnownAt) -> pd.DataFrame:
    frame = settled.open_frame
    if stage is KnownAt.QUALIFIED:
        frame = frame.loc[qualified_rows(frame)]
    return frame


def _tier_changes(
    settled: Settled,
    spec: DatasetSpec,
    stage: KnownAt,
    champion: VersionedModel | None,
    challenger: LeadModel,
    cutoffs: Tiers,
) -> TierChanges:
    frame = _open_leads(settled, stage)
    if len(frame) == 0:
        empty = np.zeros(0)
        return tier_changes(empty, empty, cutoffs)
    before = _scores_before(champion, frame, spec, stage)
    return tier_changes(before, challenger.predict_proba(frame), cutoffs)


def _drift(
    data: LeadData,
    model: LeadModel,
    train_rows: np.ndarray,
    eval_rows: np.ndarray,
    target: str,
    window: WindowChoice,
    seed: int,
) -> tuple[list[FeaturePsi], DriftReport]:
    """PSI of every feature and of the score between training data and the window."""
    reference = _sample(train_rows, DRIFT_REFERENCE_ROWS, seed)
    x_ref = model.transform(data.frame.iloc[reference])
    x_cur = model.transform(data.frame.iloc[eval_rows])
    rows = feature_psi(model.featurizer, x_ref, x_cur)
    y = data.targets[target]
    report = DriftReport(
        title=f"Drift: training data vs window {window.window.label}",
        reference=Sample(
            f"training leads before {window.window.start:%Y-%m-%d}",
            len(train_rows),
            len(train_rows),
        ),
        current=Sample(f"window {window.window.label}", len(eval_rows), len(eval_rows)),
        features=rows,
        score_psi=psi(model.probabilities(x_ref), model.probabilities(x_cur)),
        channels=channel_conversion(
            data.channels[train_rows], y[train_rows], data.channels[eval_rows], y[eval_rows]
        ),
        target=target,
    )
    return rows, report


def _recipe_only(
    data: LeadData,
    train_rows: np.ndarray,
    eval_rows: np.ndarray,
    options: TrainOptions,
    window: WindowChoice,
    say: Progress,
) -> TrainResult:
    """The production recipe fitted once on the training rows, scored on the window."""
    say("evaluation: LightGBM (the production recipe alone on large data)")
    train = _subset(data, train_rows)
    model = fit_final(train, options)
    y = data.targets[options.target][eval_rows]
    channels = data.channels[eval_rows]
    p = model.predict_proba(data.frame.iloc[eval_rows])
    booster = getattr(model.members[0].estimator, "booster", None)
    rounds = int(booster.best_iteration or booster.current_iteration()) if booster else 0
    params = {**DEFAULT_PARAMS, **data.spec.training.params, **options.params}
    start, end = window.window.start, window.window.end
    assert data.times is not None
    return TrainResult(
        model=model,
        evaluation=Evaluation(
            rows=eval_rows,
            y=y,
            channels=channels,
            predictions={"lightgbm": p},
            metrics={"lightgbm": evaluate(y, p)},
            calibration=[model.calibration],
            best_iterations=[rounds],
            uncalibrated_ece=float("nan"),
        ),
        split=SplitPlan(
            kind="time",
            folds=[Fold(train_rows, eval_rows)],
            description=(
                f"out-of-time: train on leads before {start.date()}, test on {start.date()} "
                f".. {end.date()}"
            ),
            test_start=start.to_pydatetime(),
            test_end=end.to_pydatetime(),
        ),
        params=scale_learning_rate(params, len(train_rows)),
        best_iteration=rounds,
        per_channel=per_channel(y, p, channels),
        rows_train=len(train_rows),
        rows_test=len(eval_rows),
        time_range=(data.times.min().isoformat(), data.times.max().isoformat()),
        chosen="lightgbm",
        flagged=False,
        trained_until=data.times[train_rows].max().isoformat(),
        notes=[
            f"{len(train_rows)} training rows (> {FULL_TRAINING_MAX_ROWS}): the production "
            "recipe was fitted alone, without the baselines"
        ],
    )


def fit_challenger(
    data: LeadData,
    train_rows: np.ndarray,
    eval_rows: np.ndarray,
    options: TrainOptions,
    window: WindowChoice,
    say: Progress,
) -> TrainResult:
    """Train on the leads before the window, evaluate on it (see FULL_TRAINING_MAX_ROWS)."""
    if len(train_rows) <= FULL_TRAINING_MAX_ROWS:
        return train_model(data, options, progress=say)
    return _recipe_only(data, train_rows, eval_rows, options, window, say)


def _gates_only(reasons: list[GateResult]) -> Decision:
    return Decision(passed=all(r.passed for r in reasons), reasons=reasons)


def _retrain_one(
    data: LeadData,
    settled: Settled,
    choice: WindowChoice,
    stage: KnownAt,
    target: str,
    config: RetrainConfig,
    mlflow_target: MlflowTarget,
    digest: str,
    say: Progress,
) -> ModelReport:
    name = model_name(stage.value, target, data.spec.name)
    window = choice.window
    report = ModelReport(name, stage.value, target, Action.REFUSED, "", settled, choice)
    y = data.targets[target]
    train_rows = _rows(data, None, window.start)
    eval_rows = _rows(data, window.start, window.end)
    positives = int(y[train_rows].sum())
    gate = cold_start(positives, len(train_rows) - positives, config.gates, target)
    if not gate.passed:
        report.action, report.message = Action.COLD_START, gate.message
        report.decision = _gates_only([gate])
        return report
    key = config.key(digest, window.label, stage.value, target)
    previous = latest_retrain(mlflow_target.tracking_uri, mlflow_target.experiment, name)
    if previous is not None and previous.key == key and not config.force:
        report.action = Action.UNCHANGED
        report.run_id, report.version = previous.run_id, previous.version
        report.message = (
            f"nothing new since run {previous.run_id[:8]} of {previous.started} (same settled "
            f"data, window {window.label} and gates; it was {previous.decision or 'logged'}): "
            "nothing to do (--force retrains anyway)"
        )
        return report
    say(
        f"{name}: training the challenger on {len(train_rows)} leads before {window.start:%Y-%m-%d}"
    )
    options = TrainOptions(
        known_at=stage,
        target=target,
        test_start=window.start.date(),
        test_end=window.end.date(),
        params=dict(config.params),
        seed=config.seed,
        refit=False,
    )
    try:
        result = fit_challenger(
            data, train_rows, eval_rows, options, choice, lambda m: say(f"{name}: {m}")
        )
    except TrainingError as exc:
        refusal = GateResult("trainable", False, None, None, str(exc))
        report.decision = _gates_only([gate, refusal])
        report.message = f"refused: {exc}"
        report.action = Action.WOULD_REFUSE if config.dry_run else Action.REFUSED
        return report
    # judged on the model that would be registered, scored like the champion on the window
    challenger_p = result.model.predict_proba(data.frame.iloc[result.evaluation.rows])
    report.challenger = evaluate(result.evaluation.y, challenger_p)
    report.challenger_kind = result.model.kind
    report.notes.extend(result.notes)
    say(f"{name}: scoring the champion on window {window.label}")
    champion = load_champion(mlflow_target.tracking_uri, name)
    report.champion_version = None if champion is None else champion.version
    report.champion = _champion_metrics(
        champion, data, result, window, mlflow_target.tracking_uri, report.notes
    )
    psi_rows, report.drift = _drift(
        data, result.model, train_rows, eval_rows, target, choice, config.seed
    )
    report.decision = evaluate_gates(
        report.challenger,
        report.champion,
        (positives, len(train_rows) - positives),
        psi_rows,
        config.gates,
        target,
        noise=ece_noise(challenger_p),
    )
    report.tiers = _tier_changes(settled, data.spec, stage, champion, result.model, config.tiers)
    passed = report.decision.passed
    report.message = report.decision.summary()
    if config.dry_run:
        report.action = Action.WOULD_PROMOTE if passed else Action.WOULD_REFUSE
        return report
    _log(report, result, data, config, mlflow_target, digest, key, say)
    return report


def _log(
    report: ModelReport,
    result: TrainResult,
    data: LeadData,
    config: RetrainConfig,
    target: MlflowTarget,
    digest: str,
    key: str,
    say: Progress,
) -> None:
    """Log and register the challenger, record the decision, move the aliases on a pass."""
    assert report.decision is not None
    assert report.window is not None
    decision = report.decision
    window = report.window.window
    say(f"{report.name}: logging the challenger and the decision to MLflow")
    verdict = "promoted" if decision.passed else "refused"
    tags = {
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
        "retrain.decision": verdict,
    }
    sample = data.frame.sample(n=min(IMPORTANCE_SAMPLE, len(data)), random_state=config.seed)
    run_id, version = log_training_run(
        result,
        data_digest=digest,
        tracking_uri=target.tracking_uri,
        experiment=target.experiment,
        artifact_root=target.artifact_root,
        register=True,
        sample=sample,
        extra_tags=tags,
        claim_champion=False,
    )
    report.run_id = run_id
    report.version = None if version is None else str(version.version)
    if report.version is not None and decision.passed:
        promote(target.tracking_uri, report.name, report.version)
        report.action = Action.PROMOTED
        report.message = f"version {report.version} promoted to champion: every gate passed"
        if report.champion_version:
            report.message += f" (previous: version {report.champion_version})"
    else:
        report.action = Action.REFUSED
        report.message = f"version {report.version} registered, not promoted: " + "; ".join(
            r.message for r in decision.failed
        )
    gate_tags = {f"gate.{_slug(r.name)}": "pass" if r.passed else "fail" for r in decision.reasons}
    champion_metrics = (
        {} if report.champion is None else report.champion.as_dict("window.champion.")
    )
    files = {"decision.json": decision_json(report.as_json())}
    if report.drift is not None:
        files["drift.md"] = render_markdown(report.drift)
        files["drift.html"] = render_html(report.drift)
    if report.tiers is not None:
        files["tier_changes.csv"] = report.tiers.matrix.to_csv()
    record_on_run(
        target.tracking_uri,
        run_id,
        {
            "retrain.version": report.version or "",
            "retrain.reasons": decision.summary(),
            "retrain.tier_changes": report.tiers.summary() if report.tiers else "",
            **gate_tags,
        },
        champion_metrics,
        files,
    )
    if report.version is not None:
        tag_version(
            target.tracking_uri,
            report.name,
            report.version,
            {"retrain.decision": verdict, "retrain.window": window.label},
        )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


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
    """Retrain every (stage, target) in ``pairs``; one report each, in order.

    Data problems (``features.dataset.DatasetError``) propagate: nothing is trained on data
    that does not fit its spec. A model whose training or logging fails gets a ``failed``
    report and the others go on.
    """
    say = progress or (lambda _message: None)
    reports: list[ModelReport] = []
    targets = list(dict.fromkeys(t for _s, t in pairs))
    say(f"settling outcomes as of {config.as_of:%Y-%m-%d}")
    by_target = settle_targets(spec, frame, targets, config.as_of, config.maturity_days, source)
    for target in targets:
        settled, data = by_target[target]
        choice = choose_window(settled, config.eval_months, config.min_settled_share)
        digest = data_digest(data) if data is not None else "empty"
        for stage, pair_target in pairs:
            if pair_target != target:
                continue
            name = model_name(stage.value, target, spec.name)
            if data is None:
                gate = cold_start(0, 0, config.gates, target)
                reports.append(
                    ModelReport(
                        name, stage.value, target, Action.COLD_START, gate.message, settled, choice
                    )
                )
                continue
            try:
                reports.append(
                    _retrain_one(
                        data, settled, choice, stage, target, config, mlflow_target, digest, say
                    )
                )
            except Exception as exc:
                reports.append(
                    ModelReport(
                        name,
                        stage.value,
                        target,
                        Action.FAILED,
                        f"{type(exc).__name__}: {exc}",
                        settled,
                        choice,
                    )
                )
    return reports


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


# --------------------------------------------------------------------------- drift report


def drift_report(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    model: LeadModel,
    title: str,
    as_of: pd.Timestamp,
    reference_end: pd.Timestamp | None = None,
    maturity_days: int = DEFAULT_MATURITY_DAYS,
    seed: int = 0,
) -> DriftReport:
    """Drift of ``model``'s features and score: its training period vs the last month.

    Current: leads that arrived in the month before ``as_of``. Reference: leads that
    arrived before ``reference_end`` (the model's training cut-off when known; default:
    the start of the current month). A qualified-stage model is compared on qualified
    leads only. Conversion per channel counts settled leads on both sides.
    """
    assert spec.time_column is not None
    start = as_of - pd.DateOffset(months=1)
    end_ref = reference_end if reference_end is not None else start
    settled, data = settle(spec, frame, model.target, as_of, maturity_days)
    times = settled.times
    usable = qualified_rows(frame.reset_index(drop=True)) if model.known_at == "qualified" else None
    ref = np.flatnonzero(np.asarray(times < end_ref) & (usable if usable is not None else True))
    cur = np.flatnonzero(
        np.asarray((times >= start) & (times < as_of)) & (usable if usable is not None else True)
    )
    notes: list[str] = []
    if len(ref) == 0 or len(cur) == 0:
        notes.append(
            f"{len(ref)} reference and {len(cur)} current leads: PSI needs leads on both sides"
        )
    source = frame.reset_index(drop=True)
    ref = _sample(ref, DRIFT_REFERENCE_ROWS, seed)
    x_ref = model.transform(source.iloc[ref]) if len(ref) else None
    x_cur = model.transform(source.iloc[cur]) if len(cur) else None
    rows: list[FeaturePsi] = []
    score = float("nan")
    if x_ref is not None and x_cur is not None:
        rows = feature_psi(model.featurizer, x_ref, x_cur)
        score = psi(model.probabilities(x_ref), model.probabilities(x_cur))
    then_n = now_n = 0
    channels = channel_conversion(np.array([]), np.array([]), np.array([]), np.array([]))
    if data is not None and data.times is not None:
        y = data.targets[model.target]
        then = np.asarray(data.times < end_ref)
        now = np.asarray((data.times >= start) & (data.times < as_of))
        then_n, now_n = int(then.sum()), int(now.sum())
        channels = channel_conversion(data.channels[then], y[then], data.channels[now], y[now])
    notes.append(
        "conversion 'now' counts only leads settled by the report date; recent leads still "
        "open are left out, so it is provisional"
    )
    notes.extend(settled.notes)
    return DriftReport(
        title=title,
        reference=Sample(f"leads before {end_ref:%Y-%m-%d} (training period)", len(ref), then_n),
        current=Sample(
            f"leads of {start:%Y-%m-%d} .. {as_of:%Y-%m-%d} (the last month)", len(cur), now_n
        ),
        features=rows,
        score_psi=score,
        channels=channels,
        target=model.target,
        notes=notes,
    )
