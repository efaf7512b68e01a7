"""Exploration: which leads the queue boosted at random, and the chance each one had.

``leads.explored`` marks a lead given the exploration boost on arrival (it ranks as if its
probability were 1 while it waits); ``scores.explored`` and ``scores.propensity`` log the
draw on the arrival score: whether it was boosted and the probability of that (the
exploration share then). Retraining weights the leads SDRs worked by the inverse of their
chance of being worked, so the model can be judged on the leads they skipped too.

Revision ID: 0004_exploration
Revises: 0003_connectors
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_exploration"
down_revision: str | None = "0003_connectors"


def upgrade() -> None:
    # plain ADD COLUMNs (no table rebuild on SQLite, see 0002)
    op.add_column(
        "leads",
        sa.Column(
            "explored",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
            comment="boosted to the front of the queue at random on arrival",
        ),
    )
    op.add_column(
        "scores",
        sa.Column("explored", sa.Boolean(), nullable=True, comment="arrival: boosted or not"),
    )
    op.add_column(
        "scores",
        sa.Column(
            "propensity",
            sa.Float(),
            nullable=True,
            comment="arrival: the chance of the boost (the exploration share then)",
        ),
    )


def downgrade() -> None:
    op.drop_column("scores", "propensity")
    op.drop_column("scores", "explored")
    op.drop_column("leads", "explored")
