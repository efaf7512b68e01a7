"""Train and register the models of a data set: every known_at x target, one MLflow run each,
then the outlook of each known_at (time to conversion and expected value,
``training.outlook``), one run each, when the export allows it.

A version whose LightGBM lost to a baseline (flagged) is registered but not made champion
unless the baseline is accepted: it gets the alias ``candidate`` for review instead. An
outlook's first version becomes its champion; an export without a status history (or
without events) gets no outlook, and the progress says why.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from features.dataset import DatasetError, LeadData, read_raw
from features.spec import DatasetSpec, KnownAt
from training.outlook import (
    HORIZONS,
    Outlook,
    OutlookData,
    OutlookOptions,
    OutlookUnavailableError,
    chance_names,
    fit_from,
    outlook_data,
)
from training.outlook_check import CHECK_LAG_DAYS, OutlookCheck, check_outlook
from training.registry import (
    CANDIDATE,
    CHAMPION,
    OutlookPyfunc,
    champion_version,
    ensure_experiment,
    model_name,
    outlook_name,
    set_alias,
)
from training.retraining.config import MlflowTarget
from training.settings import TrainingSettings
from training.threads import available_threads
from training.tracking.runs import (
    artifact_location,
    log_training_run,
    logged_importance,
    pinned_requirements,
)
from training.trainer import TrainOptions, TrainResult, train_model

#: Leads the logged importance (TreeSHAP) is measured on: enough for a stable ranking of
#: source fields; TreeSHAP's cost grows with it and dominated logging a model at 5000.
IMPORTANCE_SAMPLE = 2000


TOP_FEATURES = 10


@dataclass(frozen=True)
class Trained:
    name: str
    result: TrainResult
    run_id: str | None
    version: ModelVersion | None
    alias: str | None = None  # what the version became: champion, candidate, or neither
    artifacts: str | None = None  # where the run's artifacts are (a path or URI)
    top_features: tuple[tuple[str, float], ...] = ()  # (source field, mean |SHAP|), top 10

    @property
    def held_back(self) -> bool:
        """Registered as ``candidate`` (a baseline won, not accepted): not served."""
        return self.alias == CANDIDATE

    def held_back_reason(self) -> str:
        """Why the version is a candidate and what to do about it."""
        version = self.version.version if self.version else "?"
        lost = "; ".join(n for n in self.result.notes if "lost to" in n) or "a baseline won"
        return (
            f"{self.name}: {lost}. Version {version} is registered as `{CANDIDATE}`, not "
            f"champion. Review it (`leadscore models`, its model card in `leadscore "
            f"mlflow-ui`), then `leadscore promote {self.name} {version}`, or train again "
            "with --accept-baseline."
        )


def file_digest(path: Path) -> str:
    """A short content digest of a data file (tags every run trained on it)."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda message: say(f"{prefix}: {message}")


def time_left(elapsed_s: float, done: int, total: int) -> str:
    """The estimate said with each step once a model is done: the mean time of a model so
    far times the models left ("" before the first is done, or when none are left)."""
    if done <= 0 or done >= total:
        return ""
    seconds = elapsed_s / done * (total - done)
    if seconds < 90:
        return f", about {max(5, round(seconds / 5) * 5):.0f} s left"
    return f", about {seconds / 60:.0f} min left"


def claims_champion(result: TrainResult, accept_baseline: bool) -> bool:
    """A first version may become champion unless it is flagged and not accepted."""
    return accept_baseline or not result.flagged


def _alias_after(
    tracking_uri: str, name: str, version: ModelVersion | None, claim: bool
) -> str | None:
    """The alias ``version`` holds after registration; a flagged, unaccepted version is
    made ``candidate``."""
    if version is None:
        return None
    if not claim:
        set_alias(tracking_uri, name, CANDIDATE, str(version.version))
        return CANDIDATE
    return CHAMPION if champion_version(tracking_uri, name) == str(version.version) else None


def plan_models(
    spec: DatasetSpec, known_ats: list[KnownAt] | None, targets: list[str] | None
) -> list[tuple[KnownAt, str]]:
    """Every (known_at, target) pair to train; unknown names raise ValueError naming the
    valid ones."""
    available = spec.known_ats
    chosen = known_ats or available
    for known_at in chosen:
        if known_at not in available:
            valid = ", ".join(s.value for s in available)
            raise ValueError(
                f"no features are known at '{known_at.value}' in this spec; use: {valid}"
            )
    chosen_targets = targets or list(spec.targets)
    for target in chosen_targets:
        if target not in spec.targets:
            raise ValueError(
                f"unknown target '{target}'; the spec defines: {', '.join(spec.targets)}"
            )
    return [(s, t) for s in chosen for t in chosen_targets]


def train_and_register(
    data: LeadData,
    digest: str,
    settings: TrainingSettings,
    pairs: list[tuple[KnownAt, str]],
    base: TrainOptions,
    register: bool = True,
    progress: Callable[[str], None] | None = None,
    accept_baseline: bool = False,
) -> list[Trained]:
    """Train each (known_at, target) with ``base``'s other options, log it to MLflow and
    register it: a first version becomes champion, unless a baseline beat LightGBM and
    ``accept_baseline`` is False (then it is the ``candidate``). ``progress`` hears each
    step as "model 2 of 4 NAME: step"."""
    say = progress or (lambda _message: None)
    sample = data.frame.sample(n=min(IMPORTANCE_SAMPLE, len(data)), random_state=0)
    out: list[Trained] = []
    started = time.monotonic()
    for number, (known_at, target) in enumerate(pairs, start=1):
        name = model_name(known_at.value, target, data.spec.name)
        left = time_left(time.monotonic() - started, number - 1, len(pairs))
        tell = _prefixed(say, f"model {number} of {len(pairs)} {name}{left}")
        options = replace(base, known_at=known_at, target=target)
        result = train_model(data, options, progress=tell)
        tell("logging to MLflow")
        claim = claims_champion(result, accept_baseline)
        run_id, version = log_training_run(
            result,
            data_digest=digest,
            tracking_uri=settings.tracking_uri,
            experiment=settings.mlflow_experiment,
            artifact_root=settings.artifact_root,
            register=register,
            sample=sample,
            claim_champion=claim,
        )
        importance = logged_importance(settings.tracking_uri, run_id)
        top = () if importance is None else _top(importance)
        out.append(
            Trained(
                name=name,
                result=result,
                run_id=run_id,
                version=version,
                alias=_alias_after(settings.tracking_uri, name, version, claim),
                artifacts=artifact_location(settings.tracking_uri, run_id),
                top_features=top,
            )
        )
    train_outlooks(data, digest, settings, _known_ats(pairs), base, register, say)
    return out


def _known_ats(pairs: Sequence[tuple[KnownAt, str]]) -> list[KnownAt]:
    return list(dict.fromkeys(known_at for known_at, _target in pairs))


@dataclass(frozen=True)
class TrainedOutlook:
    name: str
    outlook: Outlook
    run_id: str
    version: str | None  # None: not registered
    check: OutlookCheck | None = None

    def summary(self) -> str:
        value = "no value model" if self.outlook.value is None else "the deal-value model"
        if self.outlook.revenue is not None:
            value += " and the revenue-over-LT model"
        where = f"v{self.version}" if self.version else "not registered"
        chances = ", ".join(chance_names(self.outlook))
        checked = ""
        if self.check is not None:
            aucs = [f"{c.name} {c.auc:.2f}" for c in self.check.chances if c.auc is not None]
            worst = max((c.ece for c in self.check.chances), default=float("nan"))
            checked = f"; out of time AUC {', '.join(aucs)}, ECE at most {worst:.3f}"
        return f"{self.name} {where}: {chances} and {value}{checked}"


def export_frame(data: LeadData) -> pd.DataFrame:
    """The export as read (every column, the outcome columns the spec drops included)."""
    path = Path(data.source)
    if not path.is_file():
        raise OutlookUnavailableError(f"the export {data.source} is not a file to read again")
    try:
        return read_raw(path, data.spec)
    except DatasetError as error:
        raise OutlookUnavailableError(str(error)) from None


def train_outlooks(
    data: LeadData,
    digest: str,
    settings: TrainingSettings,
    known_ats: Sequence[KnownAt],
    base: TrainOptions,
    register: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[TrainedOutlook]:
    """The outlook of each ``known_ats`` on ``data`` (its export read again for the status
    history and deal values), checked out of time, logged and registered; none, with the
    reason said, when the export does not allow it."""
    say = progress or (lambda _message: None)
    try:
        every = outlook_data(data, export_frame(data))
    except OutlookUnavailableError as error:
        say(f"outlooks skipped: {error}")
        return []
    threads = int(base.params.get("num_threads", 0)) or available_threads()
    where = MlflowTarget(settings.tracking_uri, settings.mlflow_experiment, settings.artifact_root)
    out: list[TrainedOutlook] = []
    for known_at in known_ats:
        name = outlook_name(known_at.value, data.spec.name)
        tell = _prefixed(say, f"outlook {name}")
        tell("fitting time to conversion and deal value")
        opts = OutlookOptions(
            known_at.value, base.seed, num_threads=threads, max_leads=base.outlook_rows
        )
        try:
            outlook = fit_from(data.spec, every, opts)
        except OutlookUnavailableError as error:
            tell(f"skipped: {error}")
            continue
        check = _outlook_check(data.spec, every, opts, tell)
        tell("logging to MLflow")
        run_id, version = log_outlook(outlook, name, digest, where, register, check)
        trained = TrainedOutlook(name, outlook, run_id, version, check)
        tell(trained.summary())
        out.append(trained)
    return out


def _outlook_check(
    spec: DatasetSpec,
    every: OutlookData,
    opts: OutlookOptions,
    tell: Callable[[str], None],
) -> OutlookCheck | None:
    """The outlook's out-of-time check, or None when the data cannot give one (said)."""
    tell(f"checking out of time (a second fit as of {CHECK_LAG_DAYS} days before the end)")
    try:
        return check_outlook(spec, every, opts)
    except OutlookUnavailableError as error:
        tell(f"not checked out of time: {error}")
        return None


def log_outlook(
    outlook: Outlook,
    name: str,
    digest: str,
    where: MlflowTarget,
    register: bool,
    check: OutlookCheck | None = None,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, str | None]:
    """One MLflow run for an outlook with ``tags``, registered as ``name`` (the first
    version becomes champion); (run id, version or None)."""
    uri = where.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment_id = ensure_experiment(uri, where.experiment, where.artifact_root)
    with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        mlflow.set_tags(
            {
                "dataset": outlook.dataset,
                "known_at": outlook.known_at,
                "target": outlook.target,
                "model_kind": "outlook",
                "data_digest": digest,
                **(tags or {}),
            }
        )
        mlflow.log_params(
            {
                "horizons": ", ".join(chance_names(outlook)),
                "currency": outlook.currency,
                "value_model": outlook.value is not None,
                "revenue_model": outlook.revenue is not None,
                "stages": ", ".join(s.value for s in HORIZONS if s.value in outlook.conversion),
            }
        )
        if check is not None:
            outlook.notes.extend(check.lines())
            mlflow.log_metrics(check.metrics())
        mlflow.log_text("\n".join(outlook.notes), "notes.txt")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=OutlookPyfunc(outlook),
            pip_requirements=pinned_requirements(),
            registered_model_name=name if register else None,
        )
        version = info.registered_model_version
        if version is not None and champion_version(uri, name) is None:
            set_alias(uri, name, CHAMPION, str(version))
        return run.info.run_id, None if version is None else str(version)


def _top(importance: pd.DataFrame) -> tuple[tuple[str, float], ...]:
    ranked = importance.sort_values("mean_abs_shap", ascending=False).head(TOP_FEATURES)
    return tuple(
        (str(source), float(value))
        for source, value in zip(ranked["source"], ranked["mean_abs_shap"], strict=True)
    )
