"""The queue's sorted reads: the rank probability column and partial indexes on queued leads.

``rank_probability`` is what the queue ranks with (the latest queue score, 1 while a lead
is unscored), backfilled for every stored lead. Two partial indexes over the queued leads
only, on (rank_probability, id) and on (sla_deadline, id), let the top of the queue be read
with a few short index range scans instead of ranking every queued lead; both also hold
the other ranking column, claimed_by and tier, so those reads and the queue's counts never
need a table row. They replace ix_leads_queue (in_queue, claimed_by): with it, SQLite's planner
(which has no table statistics) took the equality on in_queue and sorted the whole queue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from serving.store.migrations.ddl import create_queue_index, rank_column

revision: str = "0002"
down_revision: str | None = "0001"

#: The partial queue indexes' columns (serving/store/tables.py QUEUE_*_COLUMNS).
PROBABILITY_COLUMNS = ["rank_probability", "id", "sla_deadline", "claimed_by", "tier"]
DEADLINE_COLUMNS = ["sla_deadline", "id", "rank_probability", "claimed_by", "tier"]
#: The probability an unscored lead ranks with (serving.queue.UNSCORED_PROBABILITY).
UNSCORED_PROBABILITY = 1.0


def upgrade() -> None:
    op.add_column(
        "leads",
        rank_column(
            "rank_probability",
            UNSCORED_PROBABILITY,
            "what the queue ranks with: probability, 1 while unscored",
        ),
    )
    op.execute(
        sa.text("UPDATE leads SET rank_probability = probability WHERE probability IS NOT NULL")
    )
    create_queue_index("ix_leads_queue_probability", PROBABILITY_COLUMNS)
    create_queue_index("ix_leads_queue_deadline", DEADLINE_COLUMNS)
    op.drop_index("ix_leads_queue", table_name="leads")


def downgrade() -> None:
    op.create_index("ix_leads_queue", "leads", ["in_queue", "claimed_by"])
    op.drop_index("ix_leads_queue_deadline", table_name="leads")
    op.drop_index("ix_leads_queue_probability", table_name="leads")
    op.drop_column("leads", "rank_probability")
