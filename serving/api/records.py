"""Checking flat records (JSON objects or CSV rows) before they are scored.

Known record columns are checked by kind (numbers: finite, at most ``NUMBER_LIMIT`` in
size; booleans; timestamps); category values are never checked (an unseen channel is
fine). Columns the record shape does not know are ignored and reported. Every problem
names its row and column; a CSV file that cannot be read names its line (and row).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from features.coerce import bool_of, datetime_us_of, is_na, number_of
from features.lead import QUESTION_PREFIX, RECORD_COLUMNS
from features.questionnaire import NUMBER_LIMIT, QuestionCatalog, QuestionType
from serving.api import texts

NUMBER_COLUMNS = frozenset({"budget_amount"})
BOOLEAN_COLUMNS = frozenset({"is_decision_maker"})
TIME_COLUMNS = frozenset({"arrived_at", "first_touch_at"})


@dataclass(frozen=True)
class RecordProblem:
    row: int  # 0-based position in the batch
    column: str
    message: str
    value: Any


@dataclass(frozen=True)
class RecordSchema:
    """The columns a flat record may have and the kind of each checked one."""

    columns: frozenset[str]
    numbers: frozenset[str]
    booleans: frozenset[str]
    times: frozenset[str]

    @classmethod
    def from_catalog(cls, catalog: QuestionCatalog) -> RecordSchema:
        questions = catalog.all_questions()
        numbers = {
            QUESTION_PREFIX + key for key, q in questions.items() if q.type is QuestionType.NUMBER
        }
        booleans = {
            QUESTION_PREFIX + key for key, q in questions.items() if q.type is QuestionType.BOOLEAN
        }
        return cls(
            columns=frozenset({*RECORD_COLUMNS, *(QUESTION_PREFIX + key for key in questions)}),
            numbers=NUMBER_COLUMNS | numbers,
            booleans=BOOLEAN_COLUMNS | booleans,
            times=TIME_COLUMNS,
        )

    def problem(self, column: str, value: Any) -> str | None:
        """What is wrong with one value (None: fine, including missing values)."""
        if is_na(value) or (isinstance(value, str) and not value.strip()):
            return None
        if column in self.numbers:
            number = number_of(value)
            if math.isnan(number):
                return texts.RECORD_NUMBER
            if not math.isfinite(number) or abs(number) > NUMBER_LIMIT:
                return texts.RECORD_NUMBER_RANGE.format(
                    low=f"{-NUMBER_LIMIT:g}", high=f"{NUMBER_LIMIT:g}"
                )
            return None
        if column in self.booleans:
            ok = not math.isnan(bool_of(value))
            return None if ok else texts.RECORD_BOOLEAN
        if column in self.times:
            ok = datetime_us_of(value) is not None
            return None if ok else texts.RECORD_TIME
        if isinstance(value, dict | list):
            return texts.RECORD_SINGLE
        return None


@dataclass(frozen=True)
class CheckedRecords:
    records: list[dict[str, Any]]
    ignored_columns: list[str]
    problems: list[RecordProblem]


def check_records(schema: RecordSchema, rows: Sequence[Mapping[str, Any]]) -> CheckedRecords:
    """Keep the known columns of every row and list every bad value."""
    ignored: dict[str, None] = {}
    problems: list[RecordProblem] = []
    records: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        record: dict[str, Any] = {}
        for column, value in row.items():
            if column not in schema.columns:
                ignored[column] = None
                continue
            message = schema.problem(column, value)
            if message is not None:
                problems.append(RecordProblem(index, column, message, value))
            record[column] = None if isinstance(value, str) and not value.strip() else value
        records.append(record)
    return CheckedRecords(records, list(ignored), problems)


class CsvError(ValueError):
    """A CSV upload that cannot be read at all; ``line`` (1 = the header) and ``row``
    (0-based, as in the other errors) say where, when known."""

    def __init__(self, message: str, line: int | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.row = row


def _csv_problem(error: csv.Error, line: int, row: int | None) -> CsvError:
    """``error`` of the csv module at file ``line``, in row ``row`` (None: the header)."""
    if "field larger than field limit" in str(error):
        limit = csv.field_size_limit()
        if row is None:
            return CsvError(texts.CSV_HEADER_TOO_LONG.format(limit=limit), line, row)
        return CsvError(texts.CSV_ROW_TOO_LONG.format(row=row, line=line, limit=limit), line, row)
    if row is None:
        return CsvError(texts.CSV_HEADER_BROKEN.format(reason=error), line, row)
    return CsvError(texts.CSV_ROW_BROKEN.format(row=row, line=line, reason=error), line, row)


def read_csv_rows(data: bytes, encoding: str = "utf-8-sig") -> list[dict[str, Any]]:
    """Rows of a CSV file (header line first; ',' or ';' separated) as dicts of text."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CsvError(texts.CSV_NOT_UTF8.format(byte=exc.start)) from exc
    if not text.strip():
        raise CsvError(texts.CSV_EMPTY)
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CsvError(texts.CSV_NUL.format(line=line), line)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = reader.fieldnames or []
    except csv.Error as error:
        raise _csv_problem(error, reader.line_num, None) from error
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise CsvError(texts.CSV_REPEATED.format(columns=", ".join(duplicates)))
    rows: list[dict[str, Any]] = []
    line = 1
    read_to = reader.line_num  # the file line the last row ended on
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as error:
            raise _csv_problem(error, read_to + 1, len(rows)) from error
        line += 1
        read_to = reader.line_num
        if None in row:
            raise CsvError(texts.CSV_TOO_MANY_VALUES.format(line=line), line)
        rows.append({key: value for key, value in row.items() if key is not None})


def problems_as_errors(
    problems: Iterable[RecordProblem], location: str, first_line: int | None = None
) -> list[dict[str, Any]]:
    """Problems in the API's error shape (in the body, the rows being its field
    ``location``); CSV rows are also named by their file line."""
    errors: list[dict[str, Any]] = []
    for problem in problems:
        error: dict[str, Any] = {
            "field": f"{location}[{problem.row}].{problem.column}",
            "location": "body",
            "row": problem.row,
            "column": problem.column,
            "message": problem.message,
            "input": problem.value,
        }
        if first_line is not None:
            error["line"] = first_line + problem.row
        errors.append(error)
    return errors
