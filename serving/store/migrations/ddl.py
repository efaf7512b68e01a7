"""Column types and columns the lead store's migrations share.

Migrations never import application code (``serving.store.tables`` changes with the
models; a migration must keep producing the DDL it did): what they share is spelled out
here once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
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
