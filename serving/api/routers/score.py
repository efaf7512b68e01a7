"""Batch scoring without storing: JSON leads or flat records, or a CSV upload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, File, Query, UploadFile

from features.lead import lead_to_record
from serving.api import texts
from serving.api.deps import ModelsDep, Scoring, Services, ServicesDep
from serving.api.errors import ApiError, invalid, invalid_many
from serving.api.inputs import CheckedRoute, EventWindowDep, check_lead_times
from serving.api.records import CsvError, check_records, problems_as_errors, read_csv_rows
from serving.api.schemas import (
    BatchOut,
    BatchRow,
    KnownAtValue,
    ModelRef,
    ReasonOut,
    ScoreRequest,
    Target,
)
from serving.api.workflows import arrival_view
from serving.modelset import ModelSet

router = APIRouter(prefix="/score", tags=["score"], route_class=CheckedRoute)

KnownAtQuery = Annotated[
    KnownAtValue, Query(alias="stage", description="arrival (source only) or qualified")
]
TargetQuery = Annotated[
    Target | None, Query(description="default: the service's queue target (sql)")
]
ReasonsQuery = Annotated[bool, Query(description="add the top reasons (slower)")]


@dataclass(frozen=True)
class ScoreAsk:
    """What a batch asks for: the moment, the target (None: the queue's), reasons or not."""

    known_at: KnownAtValue
    target: Target | None
    reasons: bool


async def _ask(
    known_at: KnownAtQuery = "arrival", target: TargetQuery = None, reasons: ReasonsQuery = False
) -> ScoreAsk:
    return ScoreAsk(known_at, target, reasons)


AskDep = Annotated[ScoreAsk, Depends(_ask)]


def _score(
    services: Services,
    models: ModelSet,
    records: Sequence[Mapping[str, Any]],
    ask: ScoreAsk,
    ignored: list[str],
) -> BatchOut:
    known_at, target, reasons = ask.known_at, ask.target, ask.reasons
    limit = services.settings.max_score_rows
    if len(records) > limit:
        raise invalid("records", texts.TOO_MANY_ROWS.format(limit=limit, count=len(records)))
    chosen = target or cast(Target, services.scorer.queue_target)
    rows = [arrival_view(r) for r in records] if known_at == "arrival" else list(records)
    batch = services.scorer.score_batch(models, known_at, chosen, rows, reasons)
    services.metrics.batch_rows.labels(known_at, chosen, str(batch.is_fallback).lower()).inc(
        len(rows)
    )
    return BatchOut(
        stage=known_at,
        target=chosen,
        model=ModelRef(name=batch.model_name, version=batch.model_version),
        is_fallback=batch.is_fallback,
        fallback_reason=batch.fallback_reason,
        rows=[
            BatchRow(
                index=i,
                external_id=_external_id(records[i]),
                probability=float(batch.probabilities[i]),
                tier=batch.tiers[i],
                reasons=(
                    [ReasonOut.model_validate(r.as_json()) for r in batch.reasons[i]]
                    if batch.reasons is not None
                    else None
                ),
            )
            for i in range(len(rows))
        ],
        ignored_columns=ignored,
    )


def _external_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("external_id")
    return None if value is None else str(value)


@router.post("", summary="Score leads or flat records (nothing is stored)")
def score_json(
    body: ScoreRequest,
    services: ServicesDep,
    models: ModelsDep,
    caller: Scoring,
    ask: AskDep,
    window: EventWindowDep,
) -> BatchOut:
    """Probabilities and tiers in input order, from the batch path of the champion of
    ``stage``/``target`` (the fallback rule when there is none)."""
    if body.leads is not None:
        check_lead_times(window, body.leads, prefix="leads.{i}.")
        records = [lead_to_record(lead) for lead in body.leads]
        return _score(services, models, records, ask, [])
    assert body.records is not None
    return _score_checked(services, models, body.records, ask, "records", first_line=None)


@router.post("/csv", summary="Score a CSV file of flat records (nothing is stored)")
def score_csv(
    file: Annotated[UploadFile, File(description="CSV with a header of record columns")],
    services: ServicesDep,
    models: ModelsDep,
    caller: Scoring,
    ask: AskDep,
) -> BatchOut:
    """Columns are record columns (``features.lead.RECORD_COLUMNS`` and ``q_<question>``);
    others are ignored and listed. Bad values are reported by row, file line and column."""
    try:
        rows = read_csv_rows(file.file.read())
    except CsvError as error:
        raise _unreadable(error) from error
    if not rows:
        raise invalid("file", texts.CSV_NO_ROWS)
    return _score_checked(services, models, rows, ask, "rows", first_line=2)


def _unreadable(error: CsvError) -> ApiError:
    """A 422 for a CSV upload that cannot be read, naming the row and line when known (its
    ``type``: the text's template's)."""
    where: dict[str, Any] = {"field": "file"}
    if error.row is not None:
        where = {"field": f"rows[{error.row}]", "row": error.row}
    if error.line is not None:
        where["line"] = error.line
    return ApiError(
        422,
        texts.CSV_UNREADABLE.format(reason=error),
        errors=[
            {
                **where,
                "location": "body",
                "type": texts.text_type(str(error)) or "csv_unreadable",
                "message": str(error),
                "input": None,
            }
        ],
    )


def _score_checked(
    services: Services,
    models: ModelSet,
    rows: Sequence[Mapping[str, Any]],
    ask: ScoreAsk,
    field: str,
    first_line: int | None,
) -> BatchOut:
    """Flat records checked against the record schema (every problem by row and column),
    then scored."""
    checked = check_records(services.record_schema, rows)
    if checked.problems:
        raise invalid_many(problems_as_errors(checked.problems, field, first_line=first_line))
    return _score(services, models, checked.records, ask, checked.ignored_columns)
