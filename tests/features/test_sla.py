"""The SLA clock at its boundaries: a weekend, just before closing, a holiday, a
daylight-saving change, round the clock; bad working-hours files named by key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.sla import SlaCalendarError, WorkingHours, parse_working_hours, read_working_hours

WEEKDAYS_9_TO_6 = {day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def office(zone: str = "Europe/Moscow", holidays: list[str] | None = None) -> WorkingHours:
    return parse_working_hours(
        {"time_zone": zone, "hours": WEEKDAYS_9_TO_6, "holidays": holidays or []}
    )


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def test_a_friday_night_lead_is_due_half_an_hour_after_mondays_opening() -> None:
    friday_night = local(MOSCOW, 2026, 12, 4, 23, 50)  # 4 December 2026 is a Friday
    due = office().deadline(friday_night, 30)
    assert due == local(MOSCOW, 2026, 12, 7, 9, 30)
    assert due.utcoffset() == timedelta(0)  # answered in UTC


def test_just_before_closing_the_rest_runs_on_the_next_working_morning() -> None:
    hours = office()
    assert hours.deadline(local(MOSCOW, 2026, 12, 2, 17, 50), 30) == local(
        MOSCOW, 2026, 12, 3, 9, 20
    )
    assert hours.deadline(local(MOSCOW, 2026, 12, 2, 17, 30), 30) == local(
        MOSCOW, 2026, 12, 2, 18, 0
    )
    assert hours.deadline(local(MOSCOW, 2026, 12, 2, 8, 0), 30) == local(MOSCOW, 2026, 12, 2, 9, 30)


def test_a_holiday_is_skipped_like_a_weekend() -> None:
    hours = office(holidays=["2026-12-31", "2027-01-01"])
    wednesday = local(MOSCOW, 2026, 12, 30, 17, 45)
    assert hours.deadline(wednesday, 30) == local(MOSCOW, 2027, 1, 4, 9, 15)  # next Monday


def test_opening_hours_keep_their_wall_clock_across_a_daylight_saving_change() -> None:
    hours = office("Europe/Berlin")
    # Berlin moves to summer time on Sunday 29 March 2026: 09:15 on Monday is 07:15 UTC,
    # a week earlier 09:15 was 08:15 UTC
    after = hours.deadline(local(BERLIN, 2026, 3, 27, 17, 45), 30)
    before = hours.deadline(local(BERLIN, 2026, 3, 20, 17, 45), 30)
    assert after == datetime(2026, 3, 30, 7, 15, tzinfo=UTC)
    assert before == datetime(2026, 3, 23, 8, 15, tzinfo=UTC)
    assert hours.working_minutes(local(BERLIN, 2026, 3, 27, 17, 45), after) == 30


def test_without_a_file_every_minute_counts() -> None:
    hours = read_working_hours(None)
    arrived = datetime(2026, 12, 5, 23, 50, tzinfo=UTC)  # a Saturday night
    assert hours.round_the_clock
    assert hours.deadline(arrived, 30) == arrived + timedelta(minutes=30)
    assert hours.working_minutes(arrived, arrived + timedelta(hours=2)) == 120


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    minutes=st.floats(min_value=1, max_value=3000),
)
def test_working_minutes_to_the_deadline_are_the_sla(start: datetime, minutes: float) -> None:
    hours = office("Europe/Berlin", holidays=["2026-12-25"])
    due = hours.deadline(start, minutes)
    assert due > start
    assert hours.working_minutes(start, due) == pytest.approx(minutes, abs=1e-6)
    assert hours.working_minutes(due, start) == 0


def test_a_working_hours_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(
        "time_zone: Europe/Moscow\nhours:\n  mon: '10:00-19:00'\n  sat: '10:00-14:00'\n"
        "holidays: [2026-12-31]\n",
        encoding="utf-8",
    )
    hours = read_working_hours(path)
    saturday = local(MOSCOW, 2026, 12, 5, 13, 50)
    assert hours.deadline(saturday, 30) == local(MOSCOW, 2026, 12, 7, 10, 20)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"time_zone": "Mars/Olympus", "hours": {"mon": "09:00-18:00"}}, "unknown time zone"),
        ({"time_zone": "UTC", "hours": {"monday": "09:00-18:00"}}, "'monday' is not a weekday"),
        ({"time_zone": "UTC", "hours": {"mon": "9 to 6"}}, "expected opening hours like"),
        ({"time_zone": "UTC", "hours": {"mon": "18:00-09:00"}}, "closes before it opens"),
        ({"time_zone": "UTC", "hours": {}}, "no working day"),
        ({"time_zone": "UTC", "hours": {"mon": "09:00-18:00"}, "shifts": 2}, "shifts"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(document: dict[str, object], message: str) -> None:
    with pytest.raises(SlaCalendarError, match=message):
        parse_working_hours(document)


def test_an_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SlaCalendarError, match="cannot read"):
        read_working_hours(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("hours: [", encoding="utf-8")
    with pytest.raises(SlaCalendarError, match="not valid YAML"):
        read_working_hours(broken)
