"""The monthly retrain of the outlooks (time to conversion and deal value), gated like the
models.

Each outlook (one per ``known_at``) is checked out of time the way training checks it
(``training.outlook_check``: fitted as the data stood 210 days before the export's end,
measured on the next 60 days' leads, IPCW-weighted). The champion is judged by its own
out-of-time check, the ``oot_*`` metrics of its run: the champion was fitted on the newer
leads the challenger's window holds, so scoring it there would flatter it. The gates:

* **calibration**: the challenger's ECE of every chance is at most ``max_ece`` above the
  ECE sampling alone gives on the window (``gates.ece_noise``), as for the models;
* **ranking**: its mean AUC over the chances both checks measured is not below the
  champion's by more than ``auc_tolerance`` (no champion, or one without a check: passes,
  said so).

On a pass the outlook is fitted on every lead (a sample of ``outlook_rows``), logged with
the check and the decision, registered and promoted; on a refusal it is registered and
left a candidate; a dry run fits nothing more than the check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from features.dataset import prepare_frame
from features.spec import DatasetSpec, KnownAt
from training.options import TrainOptions
from training.outlook import (
    OUTLOOK,
    OutlookData,
    OutlookOptions,
    OutlookUnavailableError,
    fit_from,
    outlook_data,
)
from training.outlook_check import OutlookCheck, as_it_stood, check_outlook
from training.registry import champion_version, mlflow_client, outlook_name, promote
from training.retraining.config import Gates, MlflowTarget
from training.retraining.gates import Decision, GateResult, data_digest
from training.retraining.report import Action, ModelReport
from training.runner import log_outlook
from training.threads import available_threads

Progress = Callable[[str], None]
#: The prefix of an outlook run's out-of-time AUCs (``oot_auc_sql_30d``).
AUC_PREFIX = "oot_auc_"


def outlook_gates(
    check: OutlookCheck, champion: Mapping[str, float] | None, gates: Gates
) -> Decision:
    """The outlook's gates (module docstring); ``champion``: its run's ``oot_*`` metrics."""
    worst = max(check.chances, key=lambda c: c.ece - c.noise)
    bound = gates.max_ece + worst.noise
    calibration = GateResult(
        "calibration (ECE)",
        bool(worst.ece <= bound),
        worst.ece,
        bound,
        f"challenger's ECE out of time is {worst.ece:.4f} at worst ({worst.name}; bound "
        f"{gates.max_ece} + {worst.noise:.4f} expected from sampling {worst.leads} leads)",
    )
    reasons = [calibration, _ranking(check, champion, gates)]
    return Decision(passed=all(r.passed for r in reasons), reasons=reasons)


def _ranking(check: OutlookCheck, champion: Mapping[str, float] | None, gates: Gates) -> GateResult:
    ours = {c.name: c.auc for c in check.chances if c.auc is not None}
    theirs = {
        key.removeprefix(AUC_PREFIX): value
        for key, value in (champion or {}).items()
        if key.startswith(AUC_PREFIX)
    }
    shared = sorted(set(ours) & set(theirs))
    if not shared:
        said = "no champion" if champion is None else "the champion has no out-of-time check"
        return GateResult("ranking (AUC)", True, None, None, f"{said}: nothing to compare with")
    mine = float(np.mean([ours[name] for name in shared]))
    best = float(np.mean([theirs[name] for name in shared]))
    return GateResult(
        "ranking (AUC)",
        mine >= best - gates.auc_tolerance,
        mine,
        best - gates.auc_tolerance,
        f"challenger's mean AUC {mine:.4f} over {', '.join(shared)} against the champion's "
        f"{best:.4f} on its own check (tolerance {gates.auc_tolerance})",
    )


def champion_check(tracking_uri: str, name: str) -> tuple[str | None, dict[str, float] | None]:
    """The champion's version and its run's ``oot_*`` metrics (None: no champion)."""
    version = champion_version(tracking_uri, name)
    if version is None:
        return None, None
    client = mlflow_client(tracking_uri)
    run_id = client.get_model_version(name, version).run_id
    if run_id is None:
        return version, {}
    metrics = client.get_run(run_id).data.metrics
    return version, {key: value for key, value in metrics.items() if key.startswith("oot_")}


def retrain_outlooks(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    known_ats: Sequence[KnownAt],
    gates: Gates,
    where: MlflowTarget,
    *,
    as_of: pd.Timestamp | None = None,
    dry_run: bool = False,
    seed: int = 0,
    source: str = "<frame>",
    progress: Progress | None = None,
) -> list[ModelReport]:
    """One report per outlook of ``known_ats``: retrained from ``frame`` (the export or the
    store's leads, with status histories) as it stood at ``as_of`` (None: its end), judged
    and promoted as the module says."""
    say = progress or (lambda _message: None)
    names = [outlook_name(k.value, spec.name) for k in known_ats]
    data = prepare_frame(spec, frame, source=source)
    try:
        every = outlook_data(data, frame)
    except OutlookUnavailableError as error:
        message = f"no outlook can be fitted: {error}"
        return [
            _report(name, k, Action.COLD_START, message)
            for name, k in zip(names, known_ats, strict=True)
        ]
    if as_of is not None and as_of < every.as_of:
        arrived = np.flatnonzero(np.asarray(pd.DatetimeIndex(every.arrived) < as_of))
        every = as_it_stood(every, arrived, as_of)
    digest = data_digest(data)
    reports = []
    for name, known_at in zip(names, known_ats, strict=True):
        try:
            job = _OutlookJob(name, known_at, spec, every, digest, gates, where, seed)
            reports.append(job.run(dry_run, say))
        except OutlookUnavailableError as error:
            reports.append(_report(name, known_at, Action.COLD_START, f"not checkable: {error}"))
        except Exception as error:  # one outlook's failure is its own report
            failed = f"{type(error).__name__}: {error}"
            reports.append(_report(name, known_at, Action.FAILED, failed))
    return reports


def _report(name: str, known_at: KnownAt, action: Action, message: str) -> ModelReport:
    return ModelReport(name, known_at.value, OUTLOOK, action, message)


class _OutlookJob:
    """One outlook's retrain."""

    def __init__(
        self,
        name: str,
        known_at: KnownAt,
        spec: DatasetSpec,
        every: OutlookData,
        digest: str,
        gates: Gates,
        where: MlflowTarget,
        seed: int,
    ) -> None:
        self.name, self.known_at, self.spec, self.every = name, known_at, spec, every
        self.digest, self.gates, self.where = digest, gates, where
        self.options = OutlookOptions(
            known_at.value,
            seed,
            num_threads=available_threads(),
            max_leads=TrainOptions.outlook_rows,
        )

    def run(self, dry_run: bool, say: Progress) -> ModelReport:
        say(f"{self.name}: checking a challenger out of time")
        check = check_outlook(self.spec, self.every, self.options)
        version, metrics = champion_check(self.where.tracking_uri, self.name)
        decision = outlook_gates(check, metrics, self.gates)
        report = _report(self.name, self.known_at, Action.REFUSED, decision.summary())
        report.decision, report.champion_version = decision, version
        report.notes.extend(check.lines())
        if dry_run:
            report.action = Action.WOULD_PROMOTE if decision.passed else Action.WOULD_REFUSE
            return report
        say(f"{self.name}: fitting the outlook on every lead and logging it")
        outlook = fit_from(self.spec, self.every, self.options)
        tags = {"retrain.decision": "promote" if decision.passed else "refuse"}
        report.run_id, report.version = log_outlook(
            outlook, self.name, self.digest, self.where, True, check, tags
        )
        self._conclude(report, decision)
        return report

    def _conclude(self, report: ModelReport, decision: Decision) -> None:
        if report.version is None:
            report.action, report.message = Action.FAILED, "the outlook was not registered"
            return
        if report.champion_version is None:  # log_outlook made the first version champion
            report.action = Action.PROMOTED
            report.message = f"version {report.version} is the first outlook: champion"
            if not decision.passed:
                report.message += " (with nothing to serve instead; " + decision.summary() + ")"
        elif decision.passed:
            promote(self.where.tracking_uri, self.name, report.version)
            report.action = Action.PROMOTED
            report.message = (
                f"version {report.version} promoted to champion: every gate passed "
                f"(previous: version {report.champion_version})"
            )
        else:
            report.message = f"version {report.version} registered, not promoted: " + "; ".join(
                r.message for r in decision.failed
            )
