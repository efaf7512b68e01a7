"""Initial lead store: leads, status history, scores, qualifications, SDR claims.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from serving.store.migrations.ddl import ID, JSON, time_column

revision: str = "0001"
down_revision: str | None = None


def _create_lead_event_table(name: str, *columns: sa.Column[Any]) -> None:
    """A table of rows about one lead: its own id, the lead's (deleted with it, indexed),
    then ``columns``."""
    lead_id = sa.Column(
        "lead_id", ID, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
    )
    op.create_table(name, sa.Column("id", ID, primary_key=True), lead_id, *columns)
    op.create_index(f"ix_{name}_lead_id", name, ["lead_id"])


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", ID, primary_key=True),
        sa.Column("external_id", sa.String(128), nullable=False),
        time_column("arrived_at"),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("source", JSON, nullable=False, comment="SourceData as received"),
        sa.Column("record", JSON, nullable=False, comment="the flat record (lead_to_record)"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("stage_reached", sa.String(16), nullable=False),
        sa.Column("deal_value", sa.Numeric(18, 2, asdecimal=False), nullable=True),
        sa.Column("deal_currency", sa.String(3), nullable=True),
        time_column("sla_deadline"),
        sa.Column("in_queue", sa.Boolean(), nullable=False, comment="waiting for an SDR"),
        sa.Column("claimed_by", sa.String(100), nullable=True, comment="SDR holding it now"),
        sa.Column("probability", sa.Float(), nullable=True, comment="latest queue score"),
        sa.Column("tier", sa.String(1), nullable=True),
        sa.Column("route", sa.String(16), nullable=True, comment="suggested after qualifying"),
        time_column("qualified_at", nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        time_column("created_at"),
        time_column("updated_at"),
        sa.UniqueConstraint("external_id", name="uq_leads_external_id"),
    )
    op.create_index("ix_leads_arrived_at", "leads", ["arrived_at"])
    op.create_index("ix_leads_channel", "leads", ["channel"])
    op.create_index("ix_leads_queue", "leads", ["in_queue", "claimed_by"])

    _create_lead_event_table(
        "status_changes",
        sa.Column("status", sa.String(32), nullable=False),
        time_column("at"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(100), nullable=False),
        time_column("recorded_at"),
    )

    _create_lead_event_table(
        "scores",
        sa.Column("kind", sa.String(16), nullable=False, comment="arrival | qualified"),
        sa.Column("target", sa.String(16), nullable=False, comment="sql | won"),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column(
            "model_version", sa.String(50), nullable=False, comment="'fallback' for the rule"
        ),
        sa.Column("is_fallback", sa.Boolean(), nullable=False),
        sa.Column("fallback_reason", sa.Text(), nullable=True),
        time_column("scored_at"),
    )

    _create_lead_event_table(
        "qualifications",
        sa.Column("bant", JSON, nullable=False),
        sa.Column("questionnaire", JSON, nullable=True),
        sa.Column("route", sa.String(16), nullable=True),
        sa.Column("qualified_by", sa.String(100), nullable=False),
        time_column("qualified_at"),
    )

    _create_lead_event_table(
        "claims",
        sa.Column("sdr", sa.String(100), nullable=False),
        time_column("claimed_at"),
        time_column("released_at", nullable=True),
        sa.Column("release_reason", sa.String(32), nullable=True),
    )
    # At most one open claim per lead: the database itself refuses a second one.
    op.create_index(
        "uq_claims_open",
        "claims",
        ["lead_id"],
        unique=True,
        sqlite_where=sa.text("released_at IS NULL"),
        postgresql_where=sa.text("released_at IS NULL"),
    )


def downgrade() -> None:
    for table in ("claims", "qualifications", "scores", "status_changes", "leads"):
        op.drop_table(table)
