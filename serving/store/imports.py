"""Importing a CRM's history into the lead store: an export read through its dataset spec,
each lead with its status history and outcome, written in batches.

Reading (:func:`read_export`, :func:`plan_import`) validates the export exactly as
``leadscore train`` and ``check-data`` do (``features.dataset``) and refuses, by line and
column (``features.checks.Problem``), the rows that do not fit: problems of the whole file
(a missing column, an unreadable file) refuse the import, problems of rows refuse those rows
and the rest is imported. What the spec knows of the funnel becomes statuses
(``features.funnel``): a ``status_history`` column (leadscore's own export) is taken as it
is; otherwise the targets give the furthest stage reached, recorded as the status that
reaches it.

Writing (:func:`store_leads`) is one transaction per batch, with Core bulk inserts (leads,
then their status changes), idempotent on ``external_id`` (stored ids are skipped and
counted). It keeps the store's invariants: the SLA deadline (arrival + the SLA), the
queue's rank columns (unscored), ``stage_reached`` from the history; only an open lead in an
SDR status that arrived within ``queue_within`` of the import enters the SDR queue, so
history never floods it. Imported leads are not scored here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from pydantic import ValidationError
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from features.checks import Problem, column_values
from features.coerce import as_object_array, to_datetime_utc, to_text
from features.dataset import DatasetError, LeadData, prepare_frame, read_raw, read_table
from features.deal import DealSection
from features.funnel import Stage, Status, can_transition
from features.lead import MAX_AMOUNT, SOURCE_COLUMNS, SourceData
from features.spec import DatasetSpec, MembershipTarget, StatusTarget
from serving.queue import Sla
from serving.store.leads import SDR_STATUSES, Store
from serving.store.outcomes import OUTCOME_COLUMNS
from serving.store.rows import LeadFacts, lead_columns
from serving.store.tables import LeadRow, StatusChangeRow

#: Leads written per transaction unless told otherwise.
DEFAULT_BATCH = 1_000
#: Validation passes (each refuses the rows the last one listed) before the import gives up.
MAX_PASSES = 50
#: Column of leadscore's own export holding the status history (JSON list of status, at).
HISTORY_COLUMN = "status_history"
#: The status recorded for a lead that reached a stage and nothing more is known.
STATUS_AT_STAGE: dict[Stage, Status] = {
    Stage.LEAD: Status.NEW,
    Stage.MQL: Status.AWAITING_MANAGER,
    Stage.SQL: Status.DISCUSSING,
    Stage.SAL: Status.BRIEF_FILLED,
    Stage.WON: Status.WON,
}
#: Longest external id and channel the store keeps.
MAX_ID, MAX_CHANNEL = 128, 200

Progress = Callable[[int, int], None]


class ImportRefusedError(Exception):
    """The whole export cannot be imported; ``problems`` says why (file, line, column)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class ImportedLead(LeadFacts):
    """One row of the export as the store will keep it."""

    history: list[tuple[Status, datetime]]
    deal_value: float | None = None
    deal_currency: str | None = None
    #: False when the export does not say when the lead arrived (dated at the import)
    dated: bool = True

    @property
    def status(self) -> Status:
        return self.history[-1][0]


@dataclass(frozen=True)
class ImportPlan:
    """What an export holds for the store: the leads to write and the rows refused."""

    leads: list[ImportedLead]
    refused: list[Problem]
    rows_read: int
    warnings: list[Problem] = field(default_factory=list)
    undated: bool = False
    #: rows the spec's ``rows:`` conditions or targets' ``ignore`` values leave out
    left_out: int = 0


@dataclass(frozen=True)
class ImportResult:
    imported: int
    already_stored: int
    batches: int


# --------------------------------------------------------------------------- reading


def read_export(spec: DatasetSpec, path: Path, now: datetime) -> ImportPlan:
    """Read ``path`` through ``spec`` (:func:`plan_import`); raises ImportRefusedError."""
    try:
        frame = read_raw(path, spec)
    except DatasetError as exc:
        raise ImportRefusedError(exc.problems) from exc
    first_row = 2 if path.suffix.lower() in {".csv", ".txt", ".xlsx"} else 1
    return plan_import(spec, frame, str(path), now, first_row=first_row, data_dir=path.parent)


def plan_import(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    source: str,
    now: datetime,
    *,
    first_row: int = 1,
    data_dir: Path | None = None,
) -> ImportPlan:
    """The leads of ``frame`` (an export as read) and its refused rows. Rows without a time
    (a spec with no time column) are dated ``now``."""
    if spec.id_column is None:
        message = "the spec names no id_column: an import needs the CRM's id of each lead"
        raise ImportRefusedError([Problem(source, None, None, message)])
    data, kept, refused = _validated(spec, frame, source, first_row, data_dir)
    raw = frame.iloc[kept].reset_index(drop=True)
    lines = kept + first_row
    won_at = _membership_times(spec, data_dir)
    cells = _records(raw, _raw_columns(spec))
    features = _records(data.frame, [str(c) for c in data.frame.columns])
    leads: list[ImportedLead] = []
    for position, row in enumerate(_rows_of(raw, spec.id_column, data.ids)):
        try:
            leads.append(_lead(data, position, features[position], cells[row], won_at, now))
        except _RowError as error:
            refused.append(Problem(source, int(lines[row]), error.column, error.message))
    refused.sort(key=lambda p: (p.row or 0, p.column or ""))
    return ImportPlan(
        leads,
        refused,
        len(frame),
        data.warnings,
        undated=data.times is None,
        left_out=len(kept) - len(data),
    )


def _validated(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    source: str,
    first_row: int,
    data_dir: Path | None,
) -> tuple[LeadData, np.ndarray, list[Problem]]:
    """The export validated without its bad rows: (data, file positions kept, refused).

    Each pass refuses the rows the last one listed (checks list the first few per column);
    a problem of no row of this file refuses the whole import."""
    kept = np.arange(len(frame))
    refused: list[Problem] = []
    for _ in range(MAX_PASSES):
        part = frame.iloc[kept].reset_index(drop=True)
        try:
            data = prepare_frame(spec, part, source, first_row=first_row, data_dir=data_dir)
        except DatasetError as exc:
            rows = [
                (p, p.row - first_row)
                for p in exc.problems
                if p.row is not None and p.row >= first_row and p.file == source
            ]
            if not rows:
                raise ImportRefusedError(exc.problems) from exc
            bad = sorted({at for _p, at in rows})
            refused += [replace(p, row=int(kept[at]) + first_row) for p, at in rows]
            kept = np.delete(kept, bad)
            if len(kept) == 0:
                raise ImportRefusedError(refused) from exc
            continue
        return data, kept, refused
    message = f"more than {MAX_PASSES} rounds of refused rows: fix the file and run again"
    raise ImportRefusedError([*refused, Problem(source, None, None, message)])


def _raw_columns(spec: DatasetSpec) -> list[str]:
    """Columns read from the export as they are (beside the validated features)."""
    targets = [getattr(t, "column", None) for t in spec.targets.values()]
    deal = [spec.deal.value_column, spec.deal.currency_column]
    named = [HISTORY_COLUMN, *deal, "company_name", "contact_name"]
    return [c for c in dict.fromkeys([*named, *targets]) if c]


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of the ``columns`` it has (read column by column:
    much faster than row by row)."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return [{} for _ in range(len(frame))]
    values = [as_object_array(frame[c]) for c in present]
    return [dict(zip(present, row, strict=True)) for row in zip(*values, strict=True)]


def _rows_of(raw: pd.DataFrame, id_column: str, ids: np.ndarray) -> list[int]:
    """For each lead of the data set (in its order), its row in ``raw``: validated ids are
    unique, so the id finds the row."""
    row_of = {str(value): row for row, value in enumerate(to_text(column_values(raw, id_column)))}
    return [row_of[str(key)] for key in ids]


def _membership_times(spec: DatasetSpec, data_dir: Path | None) -> dict[str, datetime]:
    """When each positive of a membership target with a time column became positive."""
    out: dict[str, datetime] = {}
    for target in spec.targets.values():
        if not isinstance(target, MembershipTarget) or target.time_column is None:
            continue
        base = data_dir or Path.cwd()
        positives = read_table(base / target.path)
        keys = to_text(column_values(positives, target.key))
        times = to_datetime_utc(column_values(positives, target.time_column))
        for key, at in zip(keys, times, strict=True):
            if key is not None and not pd.isna(at):
                out.setdefault(str(key), at.to_pydatetime())
    return out


class _RowError(Exception):
    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


def _lead(
    data: LeadData,
    position: int,
    features: Mapping[str, Any],
    raw: Mapping[str, Any],
    won_at: Mapping[str, datetime],
    now: datetime,
) -> ImportedLead:
    spec = data.spec
    external_id = str(data.ids[position])
    if len(external_id) > MAX_ID:
        raise _RowError(spec.id_column, f"id longer than {MAX_ID} characters")
    arrived = now if data.times is None else data.times[position].to_pydatetime()
    channel = str(data.channels[position])
    if len(channel) > MAX_CHANNEL:
        raise _RowError(spec.channel_column, f"channel longer than {MAX_CHANNEL} characters")
    record = _record(data.spec, features, raw, external_id, arrived)
    if HISTORY_COLUMN in raw:
        history = _written_history(raw[HISTORY_COLUMN])
    else:
        history = _derived_history(data, position, raw, arrived, won_at.get(external_id))
    deal = _deal(raw, data.spec.deal) if history[-1][0] is Status.WON else (None, None)
    return ImportedLead(
        external_id=external_id,
        arrived_at=arrived,
        channel=channel,
        source=_source(record, raw, channel),
        record=record,
        history=history,
        deal_value=deal[0],
        deal_currency=deal[1],
        dated=data.times is not None,
    )


def json_value(value: Any) -> Any:
    """A cell as JSON can hold it: missing as null, timestamps as ISO text, numpy scalars
    as Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if not isinstance(value, str | int | float | bool) and pd.isna(value):
        return None
    return value


def _record(
    spec: DatasetSpec,
    features: Mapping[str, Any],
    raw: Mapping[str, Any],
    external_id: str,
    arrived: datetime,
) -> dict[str, Any]:
    """The flat record: every column the spec reads (features as validated, targets as in
    the file; the outcome columns are the store's own), the id and the arrival time."""
    record = {str(column): json_value(value) for column, value in features.items()}
    for target in spec.targets.values():
        column = getattr(target, "column", None)
        if column and column in raw and column not in OUTCOME_COLUMNS:
            record.setdefault(column, json_value(raw[column]))
    record["external_id"] = external_id
    record["arrived_at"] = arrived.isoformat()
    return record


def _source(record: Mapping[str, Any], raw: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """The source data as the API keeps it (``SourceData``); a bad value refuses the row."""
    values = {c: record[c] for c in SOURCE_COLUMNS if record.get(c) not in (None, "")}
    for column in ("company_name", "contact_name"):
        if column in raw and json_value(raw[column]) not in (None, ""):
            values[column] = str(raw[column])
    values["channel"] = channel
    try:
        return SourceData.model_validate(values).model_dump(mode="json")
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else None
        raise _RowError(where, f"{error['msg']} (got {error.get('input')!r})") from None


def _parse_time(text: Any) -> datetime:
    """An ISO time (naive means UTC) in UTC."""
    at = datetime.fromisoformat(text) if isinstance(text, str) else pd.Timestamp(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _written_history(cell: Any) -> list[tuple[Status, datetime]]:
    """A ``status_history`` cell: a JSON list of {"status", "at"}, in time order, each move
    one the funnel allows."""
    expected = 'expected a JSON list of {"status": ..., "at": ISO time} in time order'
    try:
        changes = json.loads(cell) if isinstance(cell, str) else cell
        history = [(Status(c["status"]), _parse_time(c["at"])) for c in changes]
    except (TypeError, ValueError, KeyError) as exc:
        raise _RowError(HISTORY_COLUMN, f"{expected} ({exc})") from None
    if not history:
        raise _RowError(HISTORY_COLUMN, f"empty; {expected}")
    for (before, at_before), (after, at_after) in pairwise(history):
        if at_after < at_before:
            raise _RowError(HISTORY_COLUMN, f"not in time order; {expected}")
        if not can_transition(before, after):
            move = f"'{before.value}' -> '{after.value}'"
            raise _RowError(HISTORY_COLUMN, f"the funnel allows no move {move}")
    return history


def target_stage(name: str) -> Stage:
    """The stage a positive of a 0/1 target means: the stage it is named after (sql,
    won, ...), else won (a CRM export's conversion, e.g. X Education's ``converted``)."""
    try:
        return Stage(name)
    except ValueError:
        return Stage.WON


def _derived_history(
    data: LeadData,
    position: int,
    raw: Mapping[str, Any],
    arrived: datetime,
    won_at: datetime | None,
) -> list[tuple[Status, datetime]]:
    """New on arrival, then the status of the furthest stage the targets say was reached
    (dated when the file says, e.g. a membership target's time, else on arrival)."""
    reached, at = Stage.LEAD, arrived
    for name, target in data.spec.targets.items():
        if isinstance(target, StatusTarget):
            value = to_text(np.array([raw.get(target.column)], dtype=object))[0]
            stage = target.stage_map.get(str(value), Stage.LEAD)
        elif int(data.targets[name][position]) == 1:
            stage = target_stage(name)
            if isinstance(target, MembershipTarget) and won_at is not None:
                at = max(at, won_at)
        else:
            continue
        reached = stage if stage.rank > reached.rank else reached
    status = STATUS_AT_STAGE[reached]
    if status is Status.NEW:
        return [(Status.NEW, arrived)]
    return [(Status.NEW, arrived), (status, at)]


def _deal(raw: Mapping[str, Any], deal: DealSection) -> tuple[float | None, str | None]:
    """A won lead's deal value and currency when the export has them, in the columns the
    spec's deal section names (a blank currency: the section's ``currency``)."""
    amount = json_value(raw.get(deal.value_column))
    currency = json_value(raw.get(deal.currency_column))
    if currency in (None, "") and deal.currency is not None:
        currency = deal.currency
    if amount in (None, "") or currency in (None, ""):
        return None, None
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise _RowError(deal.value_column, f"'{amount}' is not an amount") from None
    if not 0 <= value <= MAX_AMOUNT:
        raise _RowError(deal.value_column, f"{value} is out of range 0..{MAX_AMOUNT:g}")
    code = str(currency).strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise _RowError(deal.currency_column, f"'{currency}' is not an ISO 4217 code such as RUB")
    return round(value, 2), code


# --------------------------------------------------------------------------- writing


def store_leads(
    store: Store,
    leads: Sequence[ImportedLead],
    now: datetime,
    *,
    sla: Sla,
    queue_within: timedelta,
    by: str = "import",
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> ImportResult:
    """Write ``leads`` in batches of ``batch_size``, one transaction each (a failing batch
    leaves nothing of itself behind); leads whose external_id is stored already are
    skipped and counted. ``progress(done, total)`` follows each batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    imported = already = batches = 0
    for start in range(0, len(leads), batch_size):
        batch = leads[start : start + batch_size]
        write = partial(_insert, batch=batch, now=now, sla=sla, queue_within=queue_within, by=by)
        written, skipped = _write_batch(store, write)
        imported, already, batches = imported + written, already + skipped, batches + 1
        if progress is not None:
            progress(start + len(batch), len(leads))
    return ImportResult(imported, already, batches)


def _write_batch(store: Store, write: Callable[[Session], tuple[int, int]]) -> tuple[int, int]:
    """One batch (``write``) in one transaction; retried once when a lead of it was stored
    meanwhile by someone else (e.g. a CRM webhook racing the import on PostgreSQL)."""
    try:
        with store.writing() as session:
            return write(session)
    except IntegrityError:
        with store.writing() as session:
            return write(session)


def _insert(
    session: Session,
    *,
    batch: Sequence[ImportedLead],
    now: datetime,
    sla: Sla,
    queue_within: timedelta,
    by: str,
) -> tuple[int, int]:
    """Insert the leads of ``batch`` not stored yet, with their histories; (how many
    inserted, how many already stored)."""
    ids = [lead.external_id for lead in batch]
    stored = set(session.scalars(select(LeadRow.external_id).where(LeadRow.external_id.in_(ids))))
    fresh = [lead for lead in batch if lead.external_id not in stored]
    if not fresh:
        return 0, len(batch)
    leads = cast(Table, LeadRow.__table__)
    rows = [lead_values(lead, now, sla, queue_within, by) for lead in fresh]
    returned = session.execute(insert(leads).returning(leads.c.id, leads.c.external_id), rows)
    id_of = {external_id: lead_id for lead_id, external_id in returned}
    changes = [
        {
            "lead_id": id_of[lead.external_id],
            "status": status.value,
            "at": at,
            "note": None,
            "changed_by": by,
            "recorded_at": now,
        }
        for lead in fresh
        for status, at in lead.history
    ]
    table = cast(Table, StatusChangeRow.__table__)
    # RETURNING makes both drivers send multi-row INSERTs (SQLAlchemy's insertmanyvalues),
    # not one statement per row
    session.execute(insert(table).returning(table.c.id), changes).all()
    return len(fresh), len(batch) - len(fresh)


def lead_values(
    lead: ImportedLead, now: datetime, sla: Sla, queue_within: timedelta, by: str
) -> dict[str, Any]:
    """The lead's row: the store's invariants as ``Store.add_lead`` keeps them; in the SDR
    queue only when open in an SDR status and known to have arrived within ``queue_within``
    of ``now`` (an undated lead never is)."""
    recent = lead.dated and lead.arrived_at >= now - queue_within
    return lead_columns(
        lead,
        [status for status, _at in lead.history],
        (lead.deal_value, lead.deal_currency),
        sla_deadline=sla.deadline(lead.arrived_at),
        in_queue=lead.status in SDR_STATUSES and recent,
        qualified_at=None,
        by=by,
        now=now,
    )
