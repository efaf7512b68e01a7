"""The lead store: every change to a lead in one transaction, nothing half-written.

Writers lock the lead row they change (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite
every writing transaction starts with ``BEGIN IMMEDIATE``, which serialises writers).
Rows come back detached with the relationships a caller asked for already loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload, selectinload, sessionmaker

from features.funnel import Status, check_transition, highest_stage
from serving.queue import Exploration, QueueEntry, QueueKey, QueueOrder, Sla, top_ranked
from serving.scores import Score
from serving.store.queue_reads import (
    KEY_COLUMNS,
    LEADS,
    UNCLAIMED,
    QueueFilter,
    QueuePage,
    queue_counts,
    queue_entries,
    queue_page,
    queue_reader,
    unclaimed_position,
)
from serving.store.rows import (
    LeadFacts,
    lead_columns,
    qualification_row,
    score_row,
    status_change_row,
)
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
#: Candidates a claim ranks in its first round (times four in each later round).
CLAIM_CANDIDATES = 8


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
class NewLead(LeadFacts):
    """Everything stored when a lead arrives."""

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


def _has_scores(session: Session, lead_id: int, known_at: str) -> bool:
    """Whether the lead already has scores of the stage ``known_at``."""
    count = session.scalar(
        select(func.count()).where(ScoreRow.lead_id == lead_id, ScoreRow.kind == known_at)
    )
    return bool(count)


def _add_score_rows(
    session: Session,
    lead: LeadRow,
    scores: Sequence[Score],
    now: datetime,
    queue_target: str,
    exploration: Exploration | None,
) -> list[ScoreRow]:
    """Add the scores' rows; the queue target's scores set the lead's probability and tier
    and are returned (they are written back to the CRM)."""
    written_back: list[ScoreRow] = []
    for score in scores:
        row = score_row(lead.id, score, now, exploration)
        session.add(row)
        if score.target == queue_target:
            lead.probability = score.probability
            lead.tier = score.tier
            lead.outlook = row.outlook
            written_back.append(row)
    return written_back


def _set_route(session: Session, lead: LeadRow, route: str) -> None:
    """Suggest ``route`` for the lead and for its latest qualification answers, if any."""
    lead.route = route
    latest = session.scalars(
        select(QualificationRow)
        .where(QualificationRow.lead_id == lead.id)
        .order_by(QualificationRow.id.desc())
        .limit(1)
    ).first()
    if latest is not None:
        latest.route = route


#: Loads a lead without its JSON documents (reading one of them then raises).
_WITHOUT_DOCUMENTS = [
    defer(LeadRow.source, raiseload=True),
    defer(LeadRow.record, raiseload=True),
]


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine, expire_on_commit=False, execution_options={WRITE_OPTION: True}
        )
        # SQLite has one writer at a time; threads of this process wait for it here, handed
        # on at once, instead of in SQLite's busy handler, which sleeps up to 100 ms between
        # tries (under load the lock then sits free while every writer sleeps).
        self._writer: AbstractContextManager[Any] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )

    @classmethod
    def open(cls, url: str, busy_timeout_ms: int = 10_000, request_threads: int = 8) -> Store:
        """Connect and bring the schema up to date."""
        engine = make_engine(url, busy_timeout_ms, request_threads)
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
        with self._writer, self._write() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read transaction whose queries all see the same committed state (SQLite's
        deferred transaction does already; PostgreSQL needs REPEATABLE READ, which never
        fails a transaction that only reads)."""
        with self.reading() as session:
            if self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
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

    def scored_lead(
        self, lead_id: int, now: datetime, sla: Sla, depth: int
    ) -> tuple[LeadRow, int | None]:
        """One lead with its scores only (not its source and record), and its place among
        the unclaimed queued leads when within the first ``depth`` (see
        :meth:`queue_position`): what the answer to a new lead shows, in one transaction."""
        with self.snapshot() as session:
            options = [joinedload(LeadRow.scores), *_WITHOUT_DOCUMENTS]
            row = session.get(LeadRow, lead_id, options=options)
            if row is None:
                raise LeadNotFoundError(lead_id)
            if not row.in_queue or row.claimed_by is not None:
                return row, None
            key = QueueKey(row.id, row.rank_probability, row.sla_deadline)
            return row, unclaimed_position(session, key, now, sla, depth)

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

    def unscored_leads(
        self, limit: int = 1000, answered_before: datetime | None = None
    ) -> list[LeadRow]:
        """Leads stored without an arrival score, queued or not (scoring was interrupted,
        e.g. by a crash or a database outage between storing and scoring), and, with
        ``answered_before``, leads answered before then that have no qualified score (the
        answers were stored, their scoring cut short): queued leads first, so SDRs' leads
        are not kept waiting behind an imported history, then the rest; oldest first
        within each."""
        with self.reading() as session:
            arrival_scored = select(ScoreRow.lead_id).where(ScoreRow.kind == "arrival")
            missing: ColumnElement[bool] = LeadRow.id.not_in(arrival_scored)
            if answered_before is not None:
                qualified_scored = select(ScoreRow.lead_id).where(ScoreRow.kind == "qualified")
                missing = or_(
                    missing,
                    and_(
                        LeadRow.qualified_at < answered_before,
                        LeadRow.id.not_in(qualified_scored),
                    ),
                )
            return list(
                session.scalars(
                    select(LeadRow)
                    .where(missing)
                    .order_by(LeadRow.in_queue.desc(), LeadRow.id)
                    .limit(limit)
                )
            )

    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log back into the database and truncate it, so the WAL
        stays bounded under steady load (a no-op on PostgreSQL)."""
        if self.dialect != "sqlite":
            return
        with self._writer, self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def queue_entries(
        self,
        channel: str | None = None,
        tier: str | None = None,
        unclaimed: bool = False,
    ) -> list[QueueEntry]:
        with self.reading() as session:
            return queue_entries(session, channel, tier, unclaimed)

    def queue_top(self, now: datetime, sla: Sla, limit: int, which: QueueFilter) -> QueuePage:
        """The first ``limit`` queued leads of ``which`` in priority order, with the counts
        (:func:`~serving.store.queue_reads.queue_page`)."""
        with self.snapshot() as session:
            return queue_page(session, now, sla, limit, which)

    def queue_position(self, lead_id: int, now: datetime, sla: Sla, depth: int) -> int | None:
        """The lead's place among the unclaimed queued leads (1 = next to be claimed) when
        it is among the first ``depth`` of them; None when further down or not queued."""
        with self.snapshot() as session:
            row = session.execute(
                select(*KEY_COLUMNS).where(LEADS.id == lead_id, *UNCLAIMED.where())
            ).first()
            if row is None:
                return None
            return unclaimed_position(session, QueueKey(*row), now, sla, depth)

    def queue_stats(self, now: datetime) -> tuple[int, int, int]:
        """(leads in the queue, of them unclaimed, of them past their SLA deadline)."""
        with self.reading() as session:
            return queue_counts(session, now)

    # --- writing -------------------------------------------------------------------------

    def add_lead(self, new: NewLead, now: datetime) -> tuple[int, bool]:
        """Store a lead: (its id, True) the first time, (the stored id, False) on a repeat.

        A new lead costs one transaction: the insert is tried first, and a repeat (rare:
        a CRM retrying) is found by the unique constraint on external_id, which also
        settles repeats racing each other.
        """
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
        qualified = new.qualification is not None
        values = lead_columns(
            new,
            statuses,
            (new.deal_value, new.deal_currency),
            sla_deadline=new.sla_deadline,
            in_queue=statuses[-1] in SDR_STATUSES and not qualified,
            qualified_at=now if qualified else None,
            by=new.created_by,
            now=now,
        )
        row = LeadRow(**values)
        session.add(row)
        session.flush()
        for status, at, note in new.history:
            session.add(status_change_row(row.id, status, at, note, new.created_by, now))
        if new.qualification is not None:
            bant, questionnaire = new.qualification
            session.add(qualification_row(row.id, bant, questionnaire, new.created_by, now))
        session.flush()
        return row.id

    @staticmethod
    def _locked(session: Session, lead_id: int, *, documents: bool = True) -> LeadRow:
        """The lead's row, locked; without its JSON documents (source, record) when the
        change does not need them (they are then neither parsed nor loadable)."""
        options = [] if documents else _WITHOUT_DOCUMENTS
        row = session.get(LeadRow, lead_id, with_for_update=True, options=options)
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
        exploration: Exploration | None = None,
    ) -> bool:
        """Record scores (and the suggested route) of one lead; False when skipped because
        ``only_if_unscored`` and the lead already has scores of that stage. The queue
        target's scores of a lead that came from a CRM get their outbox rows (the score's
        write-back, serving/store/outbox.py) in the same transaction. ``exploration`` (the
        arrival draw) is logged on each score row and, when explored, boosts the lead in
        the queue."""
        from serving.store.outbox import add_deliveries

        with self.writing() as session:
            lead = self._locked(session, lead_id, documents=False)
            if only_if_unscored and scores and _has_scores(session, lead_id, scores[0].known_at):
                return False
            if exploration is not None:
                lead.explored = exploration.explored
            written_back = _add_score_rows(session, lead, scores, now, queue_target, exploration)
            if written_back:
                session.flush()
                add_deliveries(
                    session, lead_id, lead.external_id, [row.id for row in written_back], now
                )
            if route is not None:
                _set_route(session, lead, route)
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
            session.add(qualification_row(lead_id, bant, questionnaire, by, now))
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
        session.add(status_change_row(lead.id, status, at, note, by, now))
        earlier = session.scalars(
            select(StatusChangeRow.status).where(StatusChangeRow.lead_id == lead.id)
        ).all()
        lead.status = status.value
        lead.stage_reached = highest_stage([*(Status(s) for s in earlier), status]).value

    def change_status(
        self,
        lead_id: int,
        status: Status,
        at: datetime | None,
        note: str | None,
        deal: tuple[float, str] | None,
        by: str,
        clock: Callable[[], datetime],
    ) -> None:
        """Move a lead along the funnel (refused with TransitionError when not allowed).

        ``clock`` is read once the lead's row is locked, so a change dated "now" (``at``
        None) is never dated before a change that took the lock first; nor before a change
        dated a little ahead (within the event window): it is then dated with that one.
        """
        with self.writing() as session:
            lead = self._locked(session, lead_id)
            now = clock()
            check_transition(Status(lead.status), status)
            last = session.scalar(
                select(func.max(StatusChangeRow.at)).where(StatusChangeRow.lead_id == lead_id)
            )
            if at is None:
                at = now if last is None else max(now, last)
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
        sla: Sla,
        order: QueueOrder = QueueOrder.PROBABILITY,
    ) -> int | None:
        """Hand ``sdr`` the highest-priority unclaimed lead in ``order``; None when there is
        none.

        Each round ranks only the top few unclaimed leads (more in each later round) and
        locks the first one still free. On PostgreSQL the candidate is locked with
        ``FOR UPDATE SKIP LOCKED`` (a lead another SDR is claiming right now is skipped,
        not waited for); on SQLite the whole transaction holds the write lock. Either way
        no lead is handed out twice.
        """
        candidates = CLAIM_CANDIDATES
        unclaimed = QueueFilter(unclaimed=True, order=order)
        for _ in range(CLAIM_ROUNDS):
            with self.writing() as session:
                read = queue_reader(session, unclaimed, now)
                ranked = top_ranked(read, candidates, now, sla)
                if not ranked:
                    return None
                for candidate in ranked:
                    lead = session.scalars(
                        select(LeadRow)
                        .where(
                            LeadRow.id == candidate.lead_id,
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
            candidates *= 4
        return None

    def claim(self, lead_id: int, sdr: str, now: datetime) -> bool:
        """Hand ``sdr`` this lead (the SDR picked it from the list); True when claimed now,
        False when ``sdr`` already held it (a repeat is harmless). Refused when the lead
        is not in the queue or another SDR holds it: under the row lock, so two SDRs
        claiming the same lead at once get it once."""
        with self.writing() as session:
            lead = self._locked(session, lead_id, documents=False)
            if not lead.in_queue:
                raise ClaimRefusedError(
                    f"lead {lead_id} is not waiting in the queue (status '{lead.status}')",
                    claimed_by=lead.claimed_by,
                )
            if lead.claimed_by == sdr:
                return False
            if lead.claimed_by is not None:
                raise ClaimRefusedError(
                    f"lead {lead_id} is already claimed by '{lead.claimed_by}'",
                    claimed_by=lead.claimed_by,
                )
            lead.claimed_by = sdr
            lead.updated_at = now
            session.add(ClaimRow(lead_id=lead.id, sdr=sdr, claimed_at=now))
            return True

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
