"""The lead store: every change to a lead in one transaction, nothing half-written.

Writers lock the lead row they change (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite
every writing transaction starts with ``BEGIN IMMEDIATE``, which serialises writers).
Rows come back detached with the relationships a caller asked for already loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from features.funnel import Status, check_transition, highest_stage
from serving.queue import QueueEntry, RankedEntry
from serving.scores import Score
from serving.store.tables import (
    WRITE_OPTION,
    ClaimRow,
    LeadRow,
    QualificationRow,
    ScoreRow,
    StatusChangeRow,
    make_engine,
    migrate,
)

#: Statuses in which a lead still waits for the SDR team.
SDR_STATUSES: frozenset[Status] = frozenset({Status.NEW, Status.SDR_QUALIFYING})
#: Rounds of "rank, then lock the best free lead" before a claim gives up.
CLAIM_ROUNDS = 5


class StoreError(Exception):
    """A change the store refuses: ``detail`` says why, ``extra`` carries facts about it
    (e.g. the current status). How a caller answers it (HTTP or CLI) is the caller's."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class LeadNotFoundError(StoreError):
    def __init__(self, lead: int | str) -> None:
        super().__init__(f"no lead {lead!r}")


class LeadClosedError(StoreError):
    def __init__(self, lead_id: int, status: str) -> None:
        super().__init__(f"lead {lead_id} is closed (status '{status}')", current=status)


class ClaimRefusedError(StoreError):
    pass


class StatusTimeConflictError(StoreError):
    pass


@dataclass(frozen=True)
class NewLead:
    """Everything stored when a lead arrives."""

    external_id: str
    arrived_at: datetime
    channel: str
    source: dict[str, Any]
    record: dict[str, Any]
    history: list[tuple[Status, datetime, str | None]]
    deal_value: float | None
    deal_currency: str | None
    sla_deadline: datetime
    created_by: str
    qualification: tuple[dict[str, Any], dict[str, Any] | None] | None = None


def _detail_options() -> list[Any]:
    return [
        selectinload(LeadRow.history),
        selectinload(LeadRow.scores),
        selectinload(LeadRow.qualifications),
        selectinload(LeadRow.claims),
    ]


def _close_claim(session: Session, lead: LeadRow, at: datetime, reason: str) -> None:
    open_claims = session.scalars(
        select(ClaimRow).where(ClaimRow.lead_id == lead.id, ClaimRow.released_at.is_(None))
    )
    for claim in open_claims:
        claim.released_at = at
        claim.release_reason = reason
    lead.claimed_by = None


def queue_entry(row: Any) -> QueueEntry:
    """A queue entry from a lead row (or a row of its queue columns)."""
    columns = {name: getattr(row, name) for name in _ENTRY_COLUMNS}
    return QueueEntry(lead_id=row.id, **columns)


#: The queue entry's fields that are lead columns of the same name.
_ENTRY_COLUMNS = tuple(f.name for f in fields(QueueEntry) if f.name != "lead_id")

_QUEUE_COLUMNS = (
    LeadRow.id,
    LeadRow.external_id,
    LeadRow.channel,
    LeadRow.arrived_at,
    LeadRow.sla_deadline,
    LeadRow.probability,
    LeadRow.tier,
    LeadRow.status,
    LeadRow.claimed_by,
)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine, expire_on_commit=False, execution_options={WRITE_OPTION: True}
        )

    @classmethod
    def open(cls, url: str, busy_timeout_ms: int = 10_000) -> Store:
        """Connect and bring the schema up to date."""
        engine = make_engine(url, busy_timeout_ms)
        try:
            migrate(engine)
        except Exception:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction: committed at the end, rolled back on any error."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    def ping(self) -> None:
        with self.reading() as session:
            session.execute(text("SELECT 1"))

    # --- reading -------------------------------------------------------------------------

    def lead(self, lead_id: int) -> LeadRow:
        """One lead with its history, scores, qualifications and claims."""
        with self.reading() as session:
            row = session.get(LeadRow, lead_id, options=_detail_options())
            if row is None:
                raise LeadNotFoundError(lead_id)
            return row

    def lead_by_external(self, external_id: str) -> LeadRow | None:
        with self.reading() as session:
            return session.scalars(
                select(LeadRow)
                .where(LeadRow.external_id == external_id)
                .options(*_detail_options())
            ).first()

    def lead_id_of(self, external_id: str) -> int | None:
        with self.reading() as session:
            found = session.scalar(select(LeadRow.id).where(LeadRow.external_id == external_id))
            return None if found is None else int(found)

    def unscored_leads(self, limit: int = 1000) -> list[LeadRow]:
        """Leads stored without an arrival score, queued or not (scoring was interrupted,
        e.g. by a crash or a database outage between storing and scoring), oldest first."""
        with self.reading() as session:
            arrival_scored = select(ScoreRow.lead_id).where(ScoreRow.kind == "arrival")
            return list(
                session.scalars(
                    select(LeadRow)
                    .where(LeadRow.id.not_in(arrival_scored))
                    .order_by(LeadRow.id)
                    .limit(limit)
                )
            )

    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log back into the database and truncate it, so the WAL
        stays bounded under steady load (a no-op on PostgreSQL)."""
        if self.dialect != "sqlite":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def queue_entries(
        self,
        channel: str | None = None,
        tier: str | None = None,
        unclaimed: bool = False,
    ) -> list[QueueEntry]:
        with self.reading() as session:
            return self._queue_entries(session, channel, tier, unclaimed)

    @staticmethod
    def _queue_entries(
        session: Session,
        channel: str | None = None,
        tier: str | None = None,
        unclaimed: bool = False,
    ) -> list[QueueEntry]:
        query = select(*_QUEUE_COLUMNS).where(LeadRow.in_queue.is_(True))
        if channel is not None:
            query = query.where(LeadRow.channel == channel)
        if tier is not None:
            query = query.where(LeadRow.tier == tier)
        if unclaimed:
            query = query.where(LeadRow.claimed_by.is_(None))
        return [queue_entry(row) for row in session.execute(query)]

    def queue_stats(self, now: datetime) -> tuple[int, int, int]:
        """(leads in the queue, of them unclaimed, of them past their SLA deadline)."""
        in_queue = LeadRow.in_queue.is_(True)
        with self.reading() as session:
            total = session.scalar(select(func.count()).where(in_queue)) or 0
            unclaimed = (
                session.scalar(select(func.count()).where(in_queue, LeadRow.claimed_by.is_(None)))
                or 0
            )
            breached = (
                session.scalar(select(func.count()).where(in_queue, LeadRow.sla_deadline < now))
                or 0
            )
        return int(total), int(unclaimed), int(breached)

    # --- writing -------------------------------------------------------------------------

    def add_lead(self, new: NewLead, now: datetime) -> tuple[int, bool]:
        """Store a lead: (its id, True) the first time, (the stored id, False) on a repeat.

        Repeats racing each other are settled by the unique constraint on external_id.
        """
        existing = self.lead_id_of(new.external_id)
        if existing is not None:
            return existing, False
        try:
            with self.writing() as session:
                return self._insert_lead(session, new, now), True
        except IntegrityError:
            existing = self.lead_id_of(new.external_id)
            if existing is None:
                raise
            return existing, False

    @staticmethod
    def _insert_lead(session: Session, new: NewLead, now: datetime) -> int:
        statuses = [status for status, _at, _note in new.history]
        current = statuses[-1]
        row = LeadRow(
            external_id=new.external_id,
            arrived_at=new.arrived_at,
            channel=new.channel,
            source=new.source,
            record=new.record,
            status=current.value,
            stage_reached=highest_stage(statuses).value,
            deal_value=new.deal_value,
            deal_currency=new.deal_currency,
            sla_deadline=new.sla_deadline,
            in_queue=current in SDR_STATUSES and new.qualification is None,
            claimed_by=None,
            probability=None,
            tier=None,
            route=None,
            qualified_at=now if new.qualification is not None else None,
            created_by=new.created_by,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        for status, at, note in new.history:
            session.add(
                StatusChangeRow(
                    lead_id=row.id,
                    status=status.value,
                    at=at,
                    note=note,
                    changed_by=new.created_by,
                    recorded_at=now,
                )
            )
        if new.qualification is not None:
            bant, questionnaire = new.qualification
            session.add(
                QualificationRow(
                    lead_id=row.id,
                    bant=bant,
                    questionnaire=questionnaire,
                    route=None,
                    qualified_by=new.created_by,
                    qualified_at=now,
                )
            )
        session.flush()
        return row.id

    @staticmethod
    def _locked(session: Session, lead_id: int) -> LeadRow:
        row = session.get(LeadRow, lead_id, with_for_update=True)
        if row is None:
            raise LeadNotFoundError(lead_id)
        return row

    def add_scores(
        self,
        lead_id: int,
        scores: Sequence[Score],
        now: datetime,
        queue_target: str,
        *,
        only_if_unscored: bool = False,
        route: str | None = None,
    ) -> bool:
        """Record scores (and the suggested route) of one lead; False when skipped because
        ``only_if_unscored`` and the lead already has scores of that stage."""
        with self.writing() as session:
            lead = self._locked(session, lead_id)
            if only_if_unscored and scores:
                known_at = scores[0].known_at
                already = session.scalar(
                    select(func.count()).where(
                        ScoreRow.lead_id == lead_id, ScoreRow.kind == known_at
                    )
                )
                if already:
                    return False
            for score in scores:
                session.add(
                    ScoreRow(
                        lead_id=lead_id,
                        kind=score.known_at,
                        target=score.target,
                        probability=score.probability,
                        tier=score.tier,
                        reasons=[reason.as_json() for reason in score.reasons],
                        model_name=score.model_name,
                        model_version=score.model_version,
                        is_fallback=score.is_fallback,
                        fallback_reason=score.fallback_reason,
                        scored_at=now,
                    )
                )
                if score.target == queue_target:
                    lead.probability = score.probability
                    lead.tier = score.tier
            if route is not None:
                lead.route = route
                latest = session.scalars(
                    select(QualificationRow)
                    .where(QualificationRow.lead_id == lead_id)
                    .order_by(QualificationRow.id.desc())
                    .limit(1)
                ).first()
                if latest is not None:
                    latest.route = route
            lead.updated_at = now
            return True

    def qualify(
        self,
        lead_id: int,
        bant: dict[str, Any],
        questionnaire: dict[str, Any] | None,
        record: dict[str, Any],
        by: str,
        now: datetime,
    ) -> None:
        """Store qualification answers: the lead leaves the SDR queue (claims close), a new
        lead moves to 'sdr_qualifying', and its flat record gains the answers."""
        with self.writing() as session:
            lead = self._locked(session, lead_id)
            if Status(lead.status).is_terminal:
                raise LeadClosedError(lead_id, lead.status)
            session.add(
                QualificationRow(
                    lead_id=lead_id,
                    bant=bant,
                    questionnaire=questionnaire,
                    route=None,
                    qualified_by=by,
                    qualified_at=now,
                )
            )
            lead.record = record
            lead.qualified_at = now
            lead.in_queue = False
            _close_claim(session, lead, now, "qualified")
            if lead.status == Status.NEW.value:
                self._add_status(session, lead, Status.SDR_QUALIFYING, now, None, by, now)
            lead.updated_at = now

    @staticmethod
    def _add_status(
        session: Session,
        lead: LeadRow,
        status: Status,
        at: datetime,
        note: str | None,
        by: str,
        now: datetime,
    ) -> None:
        session.add(
            StatusChangeRow(
                lead_id=lead.id,
                status=status.value,
                at=at,
                note=note,
                changed_by=by,
                recorded_at=now,
            )
        )
        earlier = session.scalars(
            select(StatusChangeRow.status).where(StatusChangeRow.lead_id == lead.id)
        ).all()
        lead.status = status.value
        lead.stage_reached = highest_stage([*(Status(s) for s in earlier), status]).value

    def change_status(
        self,
        lead_id: int,
        status: Status,
        at: datetime,
        note: str | None,
        deal: tuple[float, str] | None,
        by: str,
        now: datetime,
    ) -> None:
        """Move a lead along the funnel (refused with TransitionError when not allowed)."""
        with self.writing() as session:
            lead = self._locked(session, lead_id)
            check_transition(Status(lead.status), status)
            last = session.scalar(
                select(func.max(StatusChangeRow.at)).where(StatusChangeRow.lead_id == lead_id)
            )
            if last is not None and at < last:
                raise StatusTimeConflictError(
                    f"the change is dated {at.isoformat()}, before the lead's last recorded "
                    f"change at {last.isoformat()}",
                    current=lead.status,
                )
            self._add_status(session, lead, status, at, note, by, now)
            if deal is not None:
                lead.deal_value, lead.deal_currency = deal
            if status not in SDR_STATUSES and lead.in_queue:
                lead.in_queue = False
                _close_claim(session, lead, now, "closed" if status.is_terminal else "moved on")
            lead.updated_at = now

    def claim_next(
        self,
        sdr: str,
        now: datetime,
        order: Callable[[list[QueueEntry]], list[RankedEntry]],
    ) -> int | None:
        """Hand ``sdr`` the highest-priority unclaimed lead; None when there is none.

        On PostgreSQL the candidate is locked with ``FOR UPDATE SKIP LOCKED`` (a lead
        another SDR is claiming right now is skipped, not waited for); on SQLite the whole
        transaction holds the write lock. Either way no lead is handed out twice.
        """
        for _ in range(CLAIM_ROUNDS):
            with self.writing() as session:
                ranked = order(self._queue_entries(session, unclaimed=True))
                if not ranked:
                    return None
                for candidate in ranked:
                    lead = session.scalars(
                        select(LeadRow)
                        .where(
                            LeadRow.id == candidate.entry.lead_id,
                            LeadRow.in_queue.is_(True),
                            LeadRow.claimed_by.is_(None),
                        )
                        .with_for_update(skip_locked=True)
                    ).first()
                    if lead is None:
                        continue
                    lead.claimed_by = sdr
                    lead.updated_at = now
                    session.add(ClaimRow(lead_id=lead.id, sdr=sdr, claimed_at=now))
                    return lead.id
        return None

    def release(self, lead_id: int, sdr: str, now: datetime, *, any_holder: bool = False) -> str:
        """Give a claimed lead back to the queue; returns who held it."""
        with self.writing() as session:
            lead = self._locked(session, lead_id)
            holder = lead.claimed_by
            if holder is None:
                raise ClaimRefusedError(f"lead {lead_id} is not claimed by anyone", claimed_by=None)
            if holder != sdr and not any_holder:
                raise ClaimRefusedError(
                    f"lead {lead_id} is claimed by '{holder}', not by you ('{sdr}')",
                    claimed_by=holder,
                )
            _close_claim(session, lead, now, "released")
            lead.updated_at = now
            return holder
