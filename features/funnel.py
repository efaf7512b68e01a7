"""The sales funnel: statuses, the stage each reaches, and the allowed transitions.

Statuses follow DOMAIN.md: nine statuses on the successful path (Russian labels kept as
display names) and four terminal outcomes off the path.
"""

from __future__ import annotations

from enum import StrEnum

from features.i18n.catalogs import N_


class Stage(StrEnum):
    """Funnel stages, in order. ``lead`` is a request nobody has qualified yet."""

    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"
    SAL = "sal"
    WON = "won"

    @property
    def rank(self) -> int:
        return _STAGE_ORDER.index(self)


_STAGE_ORDER: tuple[Stage, ...] = (Stage.LEAD, Stage.MQL, Stage.SQL, Stage.SAL, Stage.WON)


class Status(StrEnum):
    """Every status a lead can be in: the successful path, then the terminal outcomes."""

    NEW = "new"
    SDR_QUALIFYING = "sdr_qualifying"
    AWAITING_MANAGER = "awaiting_manager"
    MANAGER_ASSIGNED = "manager_assigned"
    DISCUSSING = "discussing"
    BRIEF_FILLED = "brief_filled"
    PROPOSAL = "proposal"
    CONTRACT = "contract"
    WON = "won"
    DISQUALIFIED = "disqualified"
    PARTNER = "partner"
    OTHER_DEPARTMENT = "other_department"
    LOST = "lost"

    def label(self, locale: str | None = None) -> str:
        """The status's name in ``locale`` (``en``, ``ru``; default English)."""
        from features.i18n import translator

        return translator(locale).gettext(STATUS_NAMES[self])

    @property
    def label_ru(self) -> str:
        """The display name SDRs and managers see in the CRM."""
        return self.label("ru")

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def stage(self) -> Stage | None:
        """The stage this status reaches on the successful path (None for terminal outcomes)."""
        if self not in SUCCESS_PATH:
            return None
        reached = Stage.LEAD
        for status in SUCCESS_PATH[: SUCCESS_PATH.index(self) + 1]:
            reached = _STAGE_AT.get(status, reached)
        return reached


SUCCESS_PATH: tuple[Status, ...] = (
    Status.NEW,
    Status.SDR_QUALIFYING,
    Status.AWAITING_MANAGER,
    Status.MANAGER_ASSIGNED,
    Status.DISCUSSING,
    Status.BRIEF_FILLED,
    Status.PROPOSAL,
    Status.CONTRACT,
    Status.WON,
)

#: Outcomes that end a lead off the successful path. ``won`` ends it on the path.
OUTCOME_STATUSES: frozenset[Status] = frozenset(
    {Status.DISQUALIFIED, Status.PARTNER, Status.OTHER_DEPARTMENT, Status.LOST}
)
TERMINAL_STATUSES: frozenset[Status] = OUTCOME_STATUSES | {Status.WON}

_STAGE_AT: dict[Status, Stage] = {
    Status.AWAITING_MANAGER: Stage.MQL,
    Status.DISCUSSING: Stage.SQL,
    Status.BRIEF_FILLED: Stage.SAL,
    Status.WON: Stage.WON,
}


#: What each status is called (English; the catalogs hold every language, Russian the
#: names the CRM shows).
STATUS_NAMES: dict[Status, str] = {
    Status.NEW: N_("New"),
    Status.SDR_QUALIFYING: N_("With an SDR, qualification form filled in"),
    Status.AWAITING_MANAGER: N_("Waiting for a sales manager"),
    Status.MANAGER_ASSIGNED: N_("With a sales manager, awaiting action"),
    Status.DISCUSSING: N_("Discussing the client's tasks before a proposal"),
    Status.BRIEF_FILLED: N_("Pre-sale brief sent and filled in by the client"),
    Status.PROPOSAL: N_("Preparing and agreeing the proposal"),
    Status.CONTRACT: N_("Agreeing the contract and payment"),
    Status.WON: N_("Won"),
    Status.DISQUALIFIED: N_("Not a target lead"),
    Status.PARTNER: N_("Passed to a partner"),
    Status.OTHER_DEPARTMENT: N_("Passed to another department"),
    Status.LOST: N_("Lost"),
}


def allowed_next(status: Status) -> list[Status]:
    """Statuses a lead in ``status`` may move to, in funnel order.

    Forward along the successful path (skipping steps is allowed: CRMs often record only
    some of them), or to any terminal outcome while the lead is open. Nothing leaves a
    terminal status.
    """
    if status.is_terminal:
        return []
    later = list(SUCCESS_PATH[SUCCESS_PATH.index(status) + 1 :])
    return later + sorted(OUTCOME_STATUSES, key=list(Status).index)


def can_transition(current: Status, target: Status) -> bool:
    return target in allowed_next(current)


class TransitionError(ValueError):
    """A status change the funnel does not allow."""

    def __init__(self, current: Status, target: Status) -> None:
        self.current = current
        self.target = target
        self.allowed = allowed_next(current)
        allowed = ", ".join(s.value for s in self.allowed) or "none: the lead is closed"
        super().__init__(
            f"cannot move a lead from '{current.value}' to '{target.value}'; allowed: {allowed}"
        )


def check_transition(current: Status, target: Status) -> None:
    """Raise :class:`TransitionError` unless ``current -> target`` is allowed."""
    if not can_transition(current, target):
        raise TransitionError(current, target)


def highest_stage(statuses: list[Status]) -> Stage:
    """The furthest stage a lead reached given every status it has been in."""
    reached = Stage.LEAD
    for status in statuses:
        stage = status.stage
        if stage is not None and stage.rank > reached.rank:
            reached = stage
    return reached
