"""CRM connectors: the webhook events received, the CRM links of leads, the outbox.

``webhook_events`` keeps every event a CRM sent until the intake job has fetched, stored
and scored its lead (unique on the connector and the CRM's event key, so a CRM's retry is a
no-op); ``crm_links`` says which CRM record a lead is; ``outbox`` holds one row per score
version to write back to the CRM, written in the score's own transaction.

Revision ID: 0003_connectors
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from serving.store.migrations.ddl import ID, JSON, time_column

revision: str = "0003_connectors"
down_revision: str | None = "0002"


def _retry_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("attempts", sa.Integer(), nullable=False),
        time_column("next_attempt_at", comment="due then (also the claim lease)"),
        sa.Column("last_error", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", ID, primary_key=True),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column(
            "event_key", sa.String(255), nullable=False, comment="the CRM's event id, or id+status"
        ),
        sa.Column("kind", sa.String(16), nullable=False, comment="lead | status"),
        sa.Column("crm_id", sa.String(128), nullable=False, comment="the lead's id in the CRM"),
        sa.Column("crm_status", sa.String(128), nullable=True, comment="the CRM's status"),
        sa.Column("payload", JSON, nullable=True, comment="what the CRM sent, if kept"),
        sa.Column("state", sa.String(16), nullable=False, comment="pending | done | dead"),
        *_retry_columns(),
        sa.Column("note", sa.Text(), nullable=True, comment="what the event did, when not plain"),
        sa.Column("lead_id", ID, sa.ForeignKey("leads.id", ondelete="SET NULL"), nullable=True),
        time_column("received_at"),
        time_column("done_at", nullable=True),
        sa.UniqueConstraint("connector", "event_key", name="uq_webhook_events_key"),
    )
    op.create_index("ix_webhook_events_due", "webhook_events", ["state", "next_attempt_at"])
    op.create_table(
        "crm_links",
        sa.Column("id", ID, primary_key=True),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(128), nullable=False),
        time_column("created_at"),
        sa.UniqueConstraint("external_id", name="uq_crm_links_external_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, primary_key=True),
        sa.Column("lead_id", ID, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "score_id",
            ID,
            sa.ForeignKey("scores.id", ondelete="CASCADE"),
            nullable=False,
            comment="the score version",
        ),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(128), nullable=False),
        sa.Column(
            "state",
            sa.String(16),
            nullable=False,
            comment="pending | delivered | superseded | dead",
        ),
        *_retry_columns(),
        time_column("created_at"),
        time_column("delivered_at", nullable=True),
        sa.UniqueConstraint("score_id", "connector", name="uq_outbox_score"),
    )
    op.create_index("ix_outbox_lead_id", "outbox", ["lead_id"])
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("crm_links")
    op.drop_table("webhook_events")
