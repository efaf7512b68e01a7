"""The lead store's tables (SQLAlchemy 2 typed ORM) and its engine.

One schema for SQLite (the embedded default) and PostgreSQL. Timestamps are stored in UTC
and always come back timezone-aware. The schema is created and evolved by the Alembic
migrations in ``serving/migrations``; :func:`migrate` applies them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from serving.queue import NO_VALUE, UNSCORED_PROBABILITY, rank_probability, rank_value

#: Execution option that makes a SQLite transaction take the write lock up front.
WRITE_OPTION = "leadscore_write"
#: Key of the advisory lock that serialises concurrent migrations on PostgreSQL.
MIGRATION_LOCK_KEY = 7_142_010
#: The predicate of the partial queue indexes, spelled as each dialect renders
#: ``LeadRow.in_queue.is_(True)``, so that the planners match it to the queries.
IN_QUEUE = {"sqlite": "in_queue IS 1", "postgresql": "in_queue IS true"}
#: The columns of the two partial queue indexes.
QUEUE_PROBABILITY_COLUMNS = ("rank_probability", "id", "sla_deadline", "claimed_by", "tier")
QUEUE_DEADLINE_COLUMNS = ("sla_deadline", "id", "rank_probability", "claimed_by", "tier")
#: The columns of the partial index of the expected-value order (migration 0005).
QUEUE_VALUE_COLUMNS = ("rank_value", "id", "sla_deadline", "claimed_by", "tier")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always reads back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy's declared configuration
        datetime: UtcDateTime(),
        dict[str, Any]: Json,
        list[dict[str, Any]]: Json,
    }


class LeadRow(Base):
    """One inbound request, its flat record and where it stands now."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128))
    arrived_at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[dict[str, Any]] = mapped_column(comment="SourceData as received")
    record: Mapped[dict[str, Any]] = mapped_column(comment="the flat record (lead_to_record)")
    status: Mapped[str] = mapped_column(String(32))
    stage_reached: Mapped[str] = mapped_column(String(16))
    deal_value: Mapped[float | None] = mapped_column(Numeric(18, 2, asdecimal=False))
    deal_currency: Mapped[str | None] = mapped_column(String(3))
    sla_deadline: Mapped[datetime]
    in_queue: Mapped[bool] = mapped_column(Boolean, comment="waiting for an SDR")
    claimed_by: Mapped[str | None] = mapped_column(String(100), comment="SDR holding it now")
    probability: Mapped[float | None] = mapped_column(Float, comment="latest queue score")
    rank_probability: Mapped[float] = mapped_column(
        Float,
        server_default=text(repr(UNSCORED_PROBABILITY)),
        comment="what the queue ranks with: probability, 1 while unscored",
    )
    explored: Mapped[bool] = mapped_column(
        Boolean,
        server_default=false(),
        comment="boosted to the front of the queue at random on arrival",
    )
    outlook: Mapped[dict[str, Any] | None] = mapped_column(
        comment="the latest queue score's outlook: chances per horizon, value, expected value"
    )
    rank_value: Mapped[float] = mapped_column(
        Float,
        server_default=text(repr(NO_VALUE)),
        comment="what the expected-value order ranks with: expected value, 0 without one",
    )
    tier: Mapped[str | None] = mapped_column(String(1))
    route: Mapped[str | None] = mapped_column(String(16), comment="suggested after qualifying")
    qualified_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    history: Mapped[list[StatusChangeRow]] = relationship(
        back_populates="lead", order_by="StatusChangeRow.id", lazy="raise"
    )
    scores: Mapped[list[ScoreRow]] = relationship(
        back_populates="lead", order_by="ScoreRow.id", lazy="raise"
    )
    qualifications: Mapped[list[QualificationRow]] = relationship(
        back_populates="lead", order_by="QualificationRow.id", lazy="raise"
    )
    claims: Mapped[list[ClaimRow]] = relationship(
        back_populates="lead", order_by="ClaimRow.id", lazy="raise"
    )

    __table_args__ = (
        UniqueConstraint("external_id", name="uq_leads_external_id"),
        # The queue's sorted reads (serving.queue.Access), over queued leads only. Each index
        # also holds the other ranking column and the unclaimed and tier filters, so reads of
        # keys and the queue's counts need no table row.
        Index(
            "ix_leads_queue_probability",
            *QUEUE_PROBABILITY_COLUMNS,
            sqlite_where=text(IN_QUEUE["sqlite"]),
            postgresql_where=text(IN_QUEUE["postgresql"]),
        ),
        Index(
            "ix_leads_queue_deadline",
            *QUEUE_DEADLINE_COLUMNS,
            sqlite_where=text(IN_QUEUE["sqlite"]),
            postgresql_where=text(IN_QUEUE["postgresql"]),
        ),
        Index(
            "ix_leads_queue_value",
            *QUEUE_VALUE_COLUMNS,
            sqlite_where=text(IN_QUEUE["sqlite"]),
            postgresql_where=text(IN_QUEUE["postgresql"]),
        ),
    )

    @validates("probability", "explored", "outlook")
    def _ranks_with(self, key: str, value: Any) -> Any:
        """Every change of the probability, the outlook or the exploration boost keeps the
        queue's rank probability and rank value with it."""
        probability = value if key == "probability" else self.probability
        explored = bool(value if key == "explored" else self.explored)
        outlook = value if key == "outlook" else self.outlook
        self.rank_probability = rank_probability(probability, explored=explored)
        expected = None if outlook is None else outlook.get("expected_value")
        self.rank_value = rank_value(expected, explored=explored)
        return value


class _LeadEvent:
    """Columns every row about one lead has: its own id and the lead's (deleted with it)."""

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)


class StatusChangeRow(_LeadEvent, Base):
    __tablename__ = "status_changes"

    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]

    lead: Mapped[LeadRow] = relationship(back_populates="history", lazy="raise")


class ScoreRow(_LeadEvent, Base):
    __tablename__ = "scores"

    kind: Mapped[str] = mapped_column(String(16), comment="arrival | qualified")
    target: Mapped[str] = mapped_column(String(16), comment="sql | won")
    probability: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(1))
    reasons: Mapped[list[dict[str, Any]]]
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(50), comment="'fallback' for the rule")
    is_fallback: Mapped[bool] = mapped_column(Boolean)
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime]
    explored: Mapped[bool | None] = mapped_column(Boolean, comment="arrival: boosted or not")
    propensity: Mapped[float | None] = mapped_column(
        Float, comment="arrival: the chance of the boost (the exploration share then)"
    )
    outlook: Mapped[dict[str, Any] | None] = mapped_column(
        comment="the moment's outlook: chances per horizon, value range, expected value, model"
    )
    expected_value: Mapped[float | None] = mapped_column(
        Float, comment="P(won within 180 days) x E[deal value | won], base currency"
    )

    lead: Mapped[LeadRow] = relationship(back_populates="scores", lazy="raise")


class QualificationRow(_LeadEvent, Base):
    __tablename__ = "qualifications"

    bant: Mapped[dict[str, Any]]
    questionnaire: Mapped[dict[str, Any] | None]
    route: Mapped[str | None] = mapped_column(String(16))
    qualified_by: Mapped[str] = mapped_column(String(100))
    qualified_at: Mapped[datetime]

    lead: Mapped[LeadRow] = relationship(back_populates="qualifications", lazy="raise")


class ClaimRow(_LeadEvent, Base):
    __tablename__ = "claims"

    sdr: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(32))

    lead: Mapped[LeadRow] = relationship(back_populates="claims", lazy="raise")

    __table_args__ = (
        Index(
            "uq_claims_open",
            "lead_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # SQLAlchemy emits BEGIN itself (see _sqlite_begin), so disable the driver's own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def _sqlite_begin(conn: Any) -> None:
    """Writers take SQLite's write lock at BEGIN, so no transaction fails half-way on a lock
    upgrade; readers start a deferred transaction and read a consistent WAL snapshot."""
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


#: Pooled PostgreSQL connections kept beyond the request threads: the background jobs'.
BACKGROUND_CONNECTIONS = 4


def make_engine(url: str, busy_timeout_ms: int = 10_000, request_threads: int = 8) -> Engine:
    """An engine for the lead store; on SQLite with WAL, foreign keys and a busy timeout;
    on PostgreSQL a pool of a connection per request thread plus the background jobs', none
    opened and closed per request (overflow connections would be, costing a backend fork
    each just when the service is busiest)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=request_threads + BACKGROUND_CONNECTIONS, max_overflow=0
    )


def alembic_config() -> Config:
    """The Alembic configuration shipped inside the package."""
    ini = resources.files("serving.store").joinpath("alembic.ini")
    config = Config(str(ini))
    config.set_main_option(
        "script_location", str(resources.files("serving.store").joinpath("migrations"))
    )
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the store's schema up to ``revision`` (one transaction; concurrent-safe)."""
    config = alembic_config()
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    with (
        engine.connect().execution_options(**{WRITE_OPTION: True}) as connection,
        connection.begin(),
    ):
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


# ------------------------------------------------------------------------------ CRM connectors
# (serving/connectors, serving/store/outbox.py; migration 0003_connectors)


class WebhookEventRow(Base):
    """One event a CRM sent (a new lead, a status change), kept until the intake job has
    fetched, stored and scored it; (connector, event_key) makes a CRM's retry a no-op."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(255), comment="the CRM's event id, or id+status")
    kind: Mapped[str] = mapped_column(String(16), comment="lead | status")
    crm_id: Mapped[str] = mapped_column(String(128), comment="the lead's id in the CRM")
    crm_status: Mapped[str | None] = mapped_column(String(128), comment="the CRM's status")
    payload: Mapped[dict[str, Any] | None] = mapped_column(comment="what the CRM sent, if kept")
    state: Mapped[str] = mapped_column(String(16), comment="pending | done | dead")
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(comment="due then (also the claim lease)")
    last_error: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text, comment="what the event did, when not plain")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("connector", "event_key", name="uq_webhook_events_key"),
        Index("ix_webhook_events_due", "state", "next_attempt_at"),
    )


class CrmLinkRow(Base):
    """Which CRM record a stored lead is (by external_id, written before the lead is
    stored, so that its first score already finds it)."""

    __tablename__ = "crm_links"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128))
    connector: Mapped[str] = mapped_column(String(64))
    crm_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("external_id", name="uq_crm_links_external_id"),)


class OutboxRow(Base):
    """One score to write back to a CRM (written in the score's own transaction);
    (score_id, connector) makes it once per score version."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    score_id: Mapped[int] = mapped_column(
        ForeignKey("scores.id", ondelete="CASCADE"), comment="the score version"
    )
    connector: Mapped[str] = mapped_column(String(64))
    crm_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(
        String(16), comment="pending | delivered | superseded | dead"
    )
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(comment="due then (also the claim lease)")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("score_id", "connector", name="uq_outbox_score"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
    )
