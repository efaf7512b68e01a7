"""Retention: closed leads that arrived before a date, written to a compressed JSON-lines
file with everything the store kept of them (status changes, scores, answers, claims), then
removed from the store, so the store of a busy installation stays the size of its recent
months.

Only closed leads move (won, lost, disqualified, ...): an open lead stays whatever its age.
Each batch is written and flushed to disk before the same leads are deleted in one
transaction, so a run stopped half-way leaves every lead either in the store or in the
file (a lead in both, after a crash between the two steps, is deleted by the next run and
written to its file again). The file is never overwritten. Retraining learns from the
store: archive only what is older than its window (docs/serving.md).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from features.funnel import TERMINAL_STATUSES
from serving.store.leads import Store
from serving.store.tables import LeadRow

#: Leads read, written and deleted per transaction.
BATCH = 1_000
_CLOSED = sorted(status.value for status in TERMINAL_STATUSES)


class ArchiveError(ValueError):
    """An archive that cannot be written as asked (the file exists, ...)."""


def _closed_before(before: datetime) -> list[Any]:
    return [
        LeadRow.arrived_at < before,
        LeadRow.status.in_(_CLOSED),
        LeadRow.in_queue.is_(False),
    ]


def archivable(store: Store, before: datetime) -> int:
    """How many leads an archive of ``before`` would move."""
    with store.reading() as session:
        return int(
            session.scalar(select(func.count()).select_from(LeadRow).where(*_closed_before(before)))
            or 0
        )


def _value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _columns(row: object) -> dict[str, object]:
    table = row.__table__  # type: ignore[attr-defined]
    return {column.key: _value(getattr(row, column.key)) for column in table.columns}


def lead_document(row: LeadRow) -> dict[str, object]:
    """One lead as the archive keeps it: its columns and every row that hangs off it."""
    return {
        **_columns(row),
        "history": [_columns(change) for change in row.history],
        "scores": [_columns(score) for score in row.scores],
        "qualifications": [_columns(answer) for answer in row.qualifications],
        "claims": [_columns(claim) for claim in row.claims],
    }


def archive(
    store: Store,
    before: datetime,
    out: Path,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Move the closed leads that arrived before ``before`` into ``out`` (gzip JSON lines,
    created here); returns how many moved."""
    if out.exists():
        raise ArchiveError(f"{out} exists; an archive is never overwritten (choose another --out)")
    out.parent.mkdir(parents=True, exist_ok=True)
    moved, last_id = 0, 0
    children = [
        selectinload(LeadRow.history),
        selectinload(LeadRow.scores),
        selectinload(LeadRow.qualifications),
        selectinload(LeadRow.claims),
    ]
    with out.open("xb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as file:
        while True:
            with store.reading() as session:
                rows = session.scalars(
                    select(LeadRow)
                    .where(*_closed_before(before), LeadRow.id > last_id)
                    .order_by(LeadRow.id)
                    .limit(batch)
                    .options(*children)
                ).all()
                lines = [json.dumps(lead_document(row), ensure_ascii=False) for row in rows]
                ids = [row.id for row in rows]
            if not ids:
                break
            file.write(("\n".join(lines) + "\n").encode("utf-8"))
            file.flush()
            raw.flush()
            os.fsync(raw.fileno())
            with store.writing() as session:  # children go with them (ON DELETE CASCADE)
                session.execute(delete(LeadRow).where(LeadRow.id.in_(ids), *_closed_before(before)))
            moved, last_id = moved + len(ids), ids[-1]
            if progress is not None:
                progress(moved)
    return moved


def read_archive(path: Path) -> list[dict[str, Any]]:
    """The leads of an archive file, as written."""
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
