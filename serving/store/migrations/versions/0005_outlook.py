"""The outlook: time to conversion and expected value on scores, and the expected-value order.

``scores.outlook`` keeps a moment's outlook with the queue target's score (the chances of
reaching SQL and won within each horizon, the deal value if won with its range, the
expected value, the outlook model's name and version) and ``scores.expected_value`` the
expected value alone. ``leads.outlook`` is the latest one, and ``leads.rank_value`` what the
queue's expected-value order ranks with (the expected value, 0 without one), with a
partial index over the queued leads like 0002's for ``rank_probability``.

Revision ID: 0005_outlook
Revises: 0004_exploration
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from serving.store.migrations.ddl import JSON, create_queue_index, rank_column

revision: str = "0005_outlook"
down_revision: str | None = "0004_exploration"

#: The partial index's columns (serving/store/tables.py QUEUE_VALUE_COLUMNS).
VALUE_COLUMNS = ["rank_value", "id", "sla_deadline", "claimed_by", "tier"]
#: The rank value of a lead without an expected value (serving.queue.NO_VALUE).
NO_VALUE = 0.0


def upgrade() -> None:
    # plain ADD COLUMNs (no table rebuild on SQLite, see 0002); nothing to backfill: no
    # stored lead has an outlook yet
    op.add_column(
        "scores",
        sa.Column(
            "outlook",
            JSON,
            nullable=True,
            comment="the moment's outlook: chances per horizon, value range, expected value, model",
        ),
    )
    op.add_column(
        "scores",
        sa.Column(
            "expected_value",
            sa.Float(),
            nullable=True,
            comment="P(won within 180 days) x E[deal value | won], base currency",
        ),
    )
    op.add_column(
        "leads",
        sa.Column(
            "outlook",
            JSON,
            nullable=True,
            comment="the latest queue score's outlook: chances per horizon, value, expected value",
        ),
    )
    op.add_column(
        "leads",
        rank_column(
            "rank_value",
            NO_VALUE,
            "what the expected-value order ranks with: expected value, 0 without one",
        ),
    )
    create_queue_index("ix_leads_queue_value", VALUE_COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_leads_queue_value", table_name="leads")
    op.drop_column("leads", "rank_value")
    op.drop_column("leads", "outlook")
    op.drop_column("scores", "expected_value")
    op.drop_column("scores", "outlook")
