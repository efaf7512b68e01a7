"""Batch scoring: a data file of any size scored chunk by chunk in constant memory.

A chunk is read (Parquet row batches, or CSV chunks read with the spec's ``read`` options),
prepared exactly as training prepares a data set (``features.dataset.prepare_frame``: the
``rows:`` conditions, joins, missing-value markers, ids, times and feature checks) through
a *scoring spec* (:func:`scoring_spec`: the spec without its targets, since the leads to
score have no outcome yet, and with only the features known at the model's moment), and
scored by a :class:`~training.model.LeadModel` into a small Arrow table: id, probability,
tier and, when asked, the top reasons as JSON. :func:`score_file` streams the tables into
one Parquet file; nothing else of a chunk is kept.

Rows come out chunk by chunk, each chunk in the order training uses (by time when the spec
has a time column). A chunk with bad rows raises :class:`~features.dataset.DatasetError`
naming the file's rows; the output file is written to a temporary name and only renamed
into place when every chunk scored, so a failed run leaves no half-written output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.checks import Problem, required_columns
from features.dataset import (
    DatasetError,
    LeadData,
    detect_separator,
    format_of,
    prepare_frame,
)
from features.spec import DatasetSpec, KFoldSplit, KnownAt
from features.tiers import Tiers
from training.model import LeadModel
from training.reasons import Wording

#: Rows per chunk by default: a few tens of MB of raw demo leads.
DEFAULT_CHUNK_ROWS = 100_000

#: The output's columns (``reasons`` only when asked for).
OUTPUT_SCHEMA = pa.schema(
    [("id", pa.string()), ("probability", pa.float64()), ("tier", pa.string())]
)
REASONS_FIELD = pa.field("reasons", pa.string())


@dataclass(frozen=True)
class Chunk:
    """Raw rows of a data file and the number problems give its first row."""

    frame: pd.DataFrame
    first_row: int


@dataclass(frozen=True)
class BatchSummary:
    """What one :func:`score_file` run did."""

    rows_read: int
    rows_scored: int
    chunks: int
    out: Path


ChunkDone = Callable[[int, int], None]  # (rows read so far, rows scored so far)


def scoring_spec(spec: DatasetSpec, known_at: KnownAt) -> DatasetSpec:
    """``spec`` for reading leads to score at ``known_at``: no targets (new leads have no
    outcome, and a target's ``ignore`` values must not drop them), only the features known
    by then, and no split order column. Pure; the copy is not re-validated (a spec needs a
    target), which is why it lives here and is only read by :func:`prepare_chunk`."""
    return spec.model_copy(
        update={
            "targets": {},
            "features": spec.features_for(known_at),
            "split": KFoldSplit(kind="stratified_kfold"),
        }
    )


def needed_columns(spec: DatasetSpec) -> list[str] | None:
    """The columns to read from the file (None: all of them, when joins or row conditions
    may need columns the roles do not name)."""
    if spec.joins:
        return None
    columns = list(required_columns(spec))
    columns += [condition.column for condition in spec.rows]
    return list(dict.fromkeys(columns))


def _scoring_format(path: Path, fmt: str | None) -> str:
    """The file's format for batch scoring: CSV or Parquet (a workbook is not streamed)."""
    try:
        kind = format_of(path, fmt)
    except DatasetError:
        kind = None
    if kind is None or kind == "xlsx":
        problem = "unknown file type for scoring; expected .csv or .parquet"
        raise DatasetError([Problem(str(path), None, None, problem)])
    return kind


def read_chunks(spec: DatasetSpec, path: Path, chunk_rows: int) -> Iterator[Chunk]:
    """The data file in chunks of ``chunk_rows`` rows: a Parquet file by row batches (only
    the columns ``spec`` reads), a CSV with the spec's separator (detected when not given)
    and encoding, every column as text like :func:`features.dataset.read_table`."""
    if not path.is_file():
        raise DatasetError([Problem(str(path), None, None, "no such file")])
    if _scoring_format(path, spec.format) == "parquet":
        yield from _parquet_chunks(spec, path, chunk_rows)
    else:
        yield from _csv_chunks(spec, path, chunk_rows)


def _parquet_chunks(spec: DatasetSpec, path: Path, chunk_rows: int) -> Iterator[Chunk]:
    try:
        file = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DatasetError([Problem(str(path), None, None, f"not a Parquet file: {exc}")]) from exc
    wanted = needed_columns(spec)
    present = set(file.schema_arrow.names)
    columns = None if wanted is None else [c for c in wanted if c in present]
    if columns is not None and not columns:
        columns = None  # nothing the spec reads: read all, prepare_frame names what is missing
    first = 1
    for batch in file.iter_batches(batch_size=chunk_rows, columns=columns):
        frame = batch.to_pandas()
        yield Chunk(frame, first)
        first += len(frame)


def _csv_chunks(spec: DatasetSpec, path: Path, chunk_rows: int) -> Iterator[Chunk]:
    options = spec.read
    sep = options.sep or detect_separator(path, options.encoding)
    wanted = needed_columns(spec)
    usecols = None if wanted is None else (lambda name: name in set(wanted))
    try:
        reader = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding=options.encoding,
            sep=sep,
            chunksize=chunk_rows,
            usecols=usecols,
        )
        first = 2  # the header is line 1
        for frame in reader:
            yield Chunk(frame, first)
            first += len(frame)
    except pd.errors.EmptyDataError:
        raise DatasetError([Problem(str(path), None, None, "the file is empty")]) from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DatasetError([Problem(str(path), None, None, f"not a readable CSV: {exc}")]) from exc


def prepare_chunk(spec: DatasetSpec, chunk: Chunk, source: str) -> LeadData:
    """One chunk validated through ``spec`` (a :func:`scoring_spec`), its problems naming
    the rows of the whole file."""
    return prepare_frame(spec, chunk.frame, source=source, first_row=chunk.first_row)


def reasons_json(model: LeadModel, frame: pd.DataFrame, top_k: int) -> list[str]:
    """The top ``top_k`` positive and negative reasons of each row, as JSON lists of
    :meth:`~training.reasons.Reason.as_json` objects (field, phrase, direction,
    contribution)."""
    return [
        json.dumps([r.as_json() for r in scored.reasons], ensure_ascii=False)
        for scored in model.score(frame, Wording(top_k=top_k))
    ]


def score_frame(
    model: LeadModel, frame: pd.DataFrame, ids: np.ndarray, tiers: Tiers, reasons: int = 0
) -> pa.Table:
    """Scores of prepared rows as an Arrow table: id, probability, tier (and reasons when
    ``reasons`` > 0)."""
    probabilities = model.predict_proba(frame)
    columns: dict[str, pa.Array] = {
        "id": pa.array(np.asarray(ids).astype(str), pa.string()),
        "probability": pa.array(probabilities, pa.float64()),
        "tier": pa.array(tiers.of_many(probabilities).astype(str), pa.string()),
    }
    schema = OUTPUT_SCHEMA
    if reasons > 0:
        columns["reasons"] = pa.array(reasons_json(model, frame, reasons), pa.string())
        schema = schema.append(REASONS_FIELD)
    return pa.table(columns, schema=schema)


def score_chunk(
    model: LeadModel, spec: DatasetSpec, chunk: Chunk, source: str, tiers: Tiers, reasons: int = 0
) -> pa.Table:
    """Prepare one raw chunk through the scoring spec and score it."""
    data = prepare_chunk(spec, chunk, source)
    return score_frame(model, data.frame, data.ids, tiers, reasons)


def output_schema(reasons: int) -> pa.Schema:
    return OUTPUT_SCHEMA.append(REASONS_FIELD) if reasons > 0 else OUTPUT_SCHEMA


def score_file(
    model: LeadModel,
    spec: DatasetSpec,
    path: Path,
    out: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    tiers: Tiers | None = None,
    reasons: int = 0,
    on_chunk: ChunkDone | None = None,
) -> BatchSummary:
    """Score ``path`` (read through ``spec``, the data set's own spec) with ``model`` into
    the Parquet file ``out``, one chunk at a time. ``out`` appears only when every chunk
    scored; raises :class:`DatasetError` on bad rows (``out`` untouched)."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    reading = scoring_spec(spec, KnownAt(model.known_at))
    tiers = tiers or Tiers()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    read = scored = chunks = 0
    try:
        with pq.ParquetWriter(partial, output_schema(reasons)) as writer:
            for chunk in read_chunks(reading, path, chunk_rows):
                table = score_chunk(model, reading, chunk, str(path), tiers, reasons)
                writer.write_table(table)
                read += len(chunk.frame)
                scored += table.num_rows
                chunks += 1
                if on_chunk is not None:
                    on_chunk(read, scored)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return BatchSummary(rows_read=read, rows_scored=scored, chunks=chunks, out=out)


def count_rows(spec: DatasetSpec, path: Path) -> int | None:
    """Rows of a Parquet file from its footer (for a progress bar's total); None for CSV
    (counting would read the file twice)."""
    try:
        if _scoring_format(path, spec.format) == "parquet" and path.is_file():
            return int(pq.ParquetFile(path).metadata.num_rows)
    except (DatasetError, OSError, pa.ArrowInvalid):
        return None
    return None
