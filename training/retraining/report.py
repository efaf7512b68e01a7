"""What happened to each model in a retrain (:class:`ModelReport`, its :class:`Action`) and
the JSON form that ``--json`` and the run's ``decision.json`` carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from training.feedback import LiveFeedback
from training.metrics import Metrics
from training.retraining.drift import DriftReport
from training.retraining.gates import Decision, TierChanges
from training.retraining.labels import Settled
from training.retraining.window import WindowChoice


class Action(StrEnum):
    PROMOTED = "promoted"
    REFUSED = "refused"
    COLD_START = "cold start"
    UNCHANGED = "unchanged"
    WOULD_PROMOTE = "dry run: would promote"
    WOULD_REFUSE = "dry run: would refuse"
    FAILED = "failed"


@dataclass
class ModelReport:
    """What happened to one model in a retrain, with everything needed to explain it."""

    name: str
    known_at: str
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
    feedback: LiveFeedback | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.action is Action.FAILED

    def as_json(self) -> dict[str, Any]:
        settled = self.settled
        return {
            "model": self.name,
            # the key stays "stage" (read by automation); its value is the known_at moment
            "stage": self.known_at,
            "target": self.target,
            "action": self.action.value,
            "message": self.message,
            "as_of": None if settled is None else settled.as_of.isoformat(),
            "settled": None if settled is None else settled.summary(),
            "window": None if self.window is None else _window_json(self.window),
            "challenger": None if self.challenger is None else self.challenger.as_dict(),
            "challenger_kind": self.challenger_kind,
            "champion": None if self.champion is None else self.champion.as_dict(),
            "champion_version": self.champion_version,
            "decision": None if self.decision is None else self.decision.as_json(),
            "tier_changes": None if self.tiers is None else _tiers_json(self.tiers),
            "version": self.version,
            "run_id": self.run_id,
            "feedback": None if self.feedback is None else self.feedback.as_json(),
            "notes": self.notes,
        }


def _window_json(choice: WindowChoice) -> dict[str, Any]:
    return {
        "label": choice.window.label,
        "start": choice.window.start.isoformat(),
        "end": choice.window.end.isoformat(),
        "leads": choice.leads,
        "settled": choice.settled,
        "skipped": [list(item) for item in choice.skipped],
    }


def _tiers_json(tiers: TierChanges) -> dict[str, Any]:
    return {
        "summary": tiers.summary(),
        "leads": tiers.leads,
        "changed": tiers.changed,
        "up": tiers.up,
        "down": tiers.down,
        "matrix": {
            str(k): {str(c): int(v) for c, v in row.items()}
            for k, row in tiers.matrix.to_dict(orient="index").items()
        },
    }
