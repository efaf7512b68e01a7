"""The SLA clock: when a lead's first response is due, counting working time only.

An installation's working hours (per weekday, in its time zone) and holidays come from a
small YAML file; without one the clock runs day and night (every minute counts), which is
what the service did before. A lead that arrives at 23:50 on a Friday, with a 30-minute
SLA and Monday-to-Friday hours from 09:00, is due at 09:30 on Monday; one that arrives at
17:50 with closing at 18:00 is due at 09:20 the next working day.

Times are computed in the installation's wall clock (``zoneinfo``), so a day's opening
hours stay the same across a daylight-saving change; every answer is an aware UTC time.
Pure: no I/O apart from :func:`read_working_hours`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far ahead a deadline is looked for: a calendar with no working day in this many
#: days (every day a holiday, say) is refused when read.
HORIZON_DAYS = 400
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def checked_time_zone(value: str) -> str:
    """``value`` when it names an IANA time zone, else a ValueError that says what was expected."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{value}' (expected e.g. Europe/Moscow)") from None
    return value


#: A text field that must name an IANA time zone (pydantic checks it on validation).
TimeZoneName = Annotated[str, AfterValidator(checked_time_zone)]


class SlaCalendarError(ValueError):
    """A working-hours file that cannot be used, with the key and what was expected."""


@dataclass(frozen=True)
class WorkingHours:
    """Opening hours per weekday (0 = Monday; a day not listed is closed), a time zone and
    holidays (closed all day). :meth:`always` is the clock that never stops."""

    zone: ZoneInfo
    days: dict[int, tuple[time, time]]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def always(cls) -> WorkingHours:
        return cls(ZoneInfo("UTC"), {day: (time(0), time(0)) for day in range(7)})

    @property
    def round_the_clock(self) -> bool:
        return not self.holidays and all(
            self.days.get(day) == (time(0), time(0)) for day in range(7)
        )

    def open_spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working spans from ``start`` on, in order, as UTC times (the first one cut
        at ``start``); at most :data:`HORIZON_DAYS` days of them."""
        local = start.astimezone(self.zone)
        for offset in range(-1, HORIZON_DAYS):
            day = local.date() + timedelta(days=offset)
            hours = self.days.get(day.weekday())
            if hours is None or day in self.holidays:
                continue
            opens = datetime.combine(day, hours[0], self.zone).astimezone(UTC)
            closes_on = day + timedelta(days=1) if hours[1] <= hours[0] else day
            closes = datetime.combine(closes_on, hours[1], self.zone).astimezone(UTC)
            if closes <= start:
                continue
            yield max(opens, start.astimezone(UTC)), closes

    def deadline(self, start: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` of working time after ``start`` have passed."""
        if self.round_the_clock:
            return start + timedelta(minutes=minutes)
        left = timedelta(minutes=minutes)
        for opens, closes in self.open_spans(start):
            if closes - opens >= left:
                return opens + left
            left -= closes - opens
        raise SlaCalendarError(f"no working time within {HORIZON_DAYS} days of {start:%Y-%m-%d}")

    def working_minutes(self, start: datetime, end: datetime) -> float:
        """Working minutes between two moments (0 when ``end`` is not after ``start``): a
        first response's time as the SLA counts it."""
        if end <= start:
            return 0.0
        if self.round_the_clock:
            return (end - start).total_seconds() / 60
        total = timedelta()
        for opens, closes in self.open_spans(start):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total.total_seconds() / 60


class _CalendarFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_zone: TimeZoneName = Field(description="an IANA time zone, e.g. Europe/Moscow")
    hours: dict[str, str] = Field(
        description="opening hours per weekday, e.g. {mon: '09:00-18:00'}; a day left out is closed"
    )
    holidays: list[date] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            if day not in WEEKDAYS:
                raise ValueError(
                    f"'{day}' is not a weekday (expected one of {', '.join(WEEKDAYS)})"
                )
            _span(day, span)
        if not value:
            raise ValueError("no working day: list at least one weekday's hours")
        return value


def _span(day: str, text: str) -> tuple[time, time]:
    found = _SPAN.match(str(text).strip())
    if not found:
        raise ValueError(f"{day}: expected opening hours like '09:00-18:00', got '{text}'")
    h1, m1, h2, m2 = (int(part) for part in found.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{day}: '{text}' is not a time of day")
    opens, closes = time(h1, m1), time(0) if h2 == 24 else time(h2, m2)
    if closes <= opens and closes != time(0):
        raise ValueError(f"{day}: '{text}' closes before it opens")
    return opens, closes


def parse_working_hours(document: object, where: str = "the working-hours file") -> WorkingHours:
    """A validated calendar from a YAML document already read."""
    try:
        found = _CalendarFile.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise SlaCalendarError(f"{where}: {problems}") from None
    days = {WEEKDAYS.index(day): _span(day, span) for day, span in found.hours.items()}
    hours = WorkingHours(ZoneInfo(found.time_zone), days, frozenset(found.holidays))
    if not any(True for _ in hours.open_spans(datetime.now(UTC))):
        raise SlaCalendarError(f"{where}: no working time in the next {HORIZON_DAYS} days")
    return hours


def read_working_hours(path: Path | None) -> WorkingHours:
    """The calendar in ``path``; round the clock when there is none."""
    if path is None:
        return WorkingHours.always()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SlaCalendarError(f"cannot read the working-hours file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise SlaCalendarError(f"{path} is not valid YAML: {exc}") from None
    return parse_working_hours(document, str(path))
