"""Initial lead store: leads, status history, scores, qualifications, SDR claims.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migrations never import application code: the column types are spelled out here.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _lead_fk() -> sa.Column[int]:
    return sa.Column("lead_id", ID, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", ID, primary_key=True),
        sa.Column("external_id", sa.String(128), nullable=False),
        _time("arrived_at"),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("source", JSON, nullable=False, comment="SourceData as received"),
        sa.Column("record", JSON, nullable=False, comment="the flat record (lead_to_record)"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("stage_reached", sa.String(16), nullable=False),
        sa.Column("deal_value", sa.Numeric(18, 2, asdecimal=False), nullable=True),
        sa.Column("deal_currency", sa.String(3), nullable=True),
        _time("sla_deadline"),
        sa.Column("in_queue", sa.Boolean(), nullable=False, comment="waiting for an SDR"),
        sa.Column("claimed_by", sa.String(100), nullable=True, comment="SDR holding it now"),
        sa.Column("probability", sa.Float(), nullable=True, comment="latest queue score"),
        sa.Column("tier", sa.String(1), nullable=True),
        sa.Column("route", sa.String(16), nullable=True, comment="suggested after qualifying"),
        _time("qualified_at", nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.UniqueConstraint("external_id", name="uq_leads_external_id"),
    )
    op.create_index("ix_leads_arrived_at", "leads", ["arrived_at"])
    op.create_index("ix_leads_channel", "leads", ["channel"])
    op.create_index("ix_leads_queue", "leads", ["in_queue", "claimed_by"])

    op.create_table(
        "status_changes",
        sa.Column("id", ID, primary_key=True),
        _lead_fk(),
        sa.Column("status", sa.String(32), nullable=False),
        _time("at"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(100), nullable=False),
        _time("recorded_at"),
    )
    op.create_index("ix_status_changes_lead_id", "status_changes", ["lead_id"])

    op.create_table(
        "scores",
        sa.Column("id", ID, primary_key=True),
        _lead_fk(),
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
        _time("scored_at"),
    )
    op.create_index("ix_scores_lead_id", "scores", ["lead_id"])

    op.create_table(
        "qualifications",
        sa.Column("id", ID, primary_key=True),
        _lead_fk(),
        sa.Column("bant", JSON, nullable=False),
        sa.Column("questionnaire", JSON, nullable=True),
        sa.Column("route", sa.String(16), nullable=True),
        sa.Column("qualified_by", sa.String(100), nullable=False),
        _time("qualified_at"),
    )
    op.create_index("ix_qualifications_lead_id", "qualifications", ["lead_id"])

    op.create_table(
        "claims",
        sa.Column("id", ID, primary_key=True),
        _lead_fk(),
        sa.Column("sdr", sa.String(100), nullable=False),
        _time("claimed_at"),
        _time("released_at", nullable=True),
        sa.Column("release_reason", sa.String(32), nullable=True),
    )
    op.create_index("ix_claims_lead_id", "claims", ["lead_id"])
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
