"""Column types and columns the lead store's migrations share.

Migrations never import application code (``serving.store.tables`` changes with the
models; a migration must keep producing the DDL it did): what they share is spelled out
here once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

#: Row ids: BIGINT, but INTEGER on SQLite (only an INTEGER PRIMARY KEY is its rowid).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: JSON documents: JSONB on PostgreSQL.
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def time_column(
    name: str, *, nullable: bool = False, comment: str | None = None
) -> sa.Column[datetime]:
    """A timezone-aware time column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, comment=comment)


#: How each dialect renders ``in_queue IS true``, the partial queue indexes' predicate
#: (serving/store/tables.py IN_QUEUE).
SQLITE_IN_QUEUE = "in_queue IS 1"
POSTGRESQL_IN_QUEUE = "in_queue IS true"


def rank_column(name: str, unranked: float, comment: str) -> sa.Column[float]:
    """A column the queue ranks with: a float, never null, ``unranked`` by default (so an
    ADD COLUMN needs no table rebuild: rebuilding ``leads`` on SQLite would drop it, and
    with foreign keys on that deletes every row that refers to it)."""
    return sa.Column(
        name, sa.Float(), nullable=False, server_default=sa.text(repr(unranked)), comment=comment
    )


def create_queue_index(name: str, columns: list[str]) -> None:
    """A partial index of ``leads`` over the queued leads only."""
    op.create_index(
        name,
        "leads",
        columns,
        sqlite_where=sa.text(SQLITE_IN_QUEUE),
        postgresql_where=sa.text(POSTGRESQL_IN_QUEUE),
    )
