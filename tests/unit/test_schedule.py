"""EventBridge Scheduler expressions: parsing, messages, and when they fire (engine/schedule.py)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlane.engine.schedule import (
    AtSchedule,
    CronSchedule,
    RateSchedule,
    ScheduleError,
    parse_schedule,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time in a zone, as the UTC instant it is."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("cron(0 9 ? * MON-FRI *)", "cron"),
        ("cron(0 9 1 * ? *)", "cron"),
        ("cron(*/5 * * * ? *)", "cron"),
        ("cron(0/15 8-17 ? * 2-6 2026-2030)", "cron"),
        ("cron(15 10 ? * 6L *)", "cron"),
        ("cron(0 0 L * ? *)", "cron"),
        ("cron(0 0 LW * ? *)", "cron"),
        ("cron(0 0 15W * ? *)", "cron"),
        ("cron(0 0 ? * 2#1 *)", "cron"),
        ("cron(0 0 ? * MON#3 *)", "cron"),
        ("cron(0 0 ? JAN,jul L *)", "cron"),
        ("cron(0 22-2 ? * FRI-MON *)", "cron"),  # backwards ranges wrap in cyclic fields
        ("cron(0 0 1/10 * ? 1970,2199)", "cron"),
        ("  cron(0 9 * * ? *)  ", "cron"),
        ("rate(1 minute)", "rate"),
        ("rate(5 minutes)", "rate"),
        ("rate(1 hour)", "rate"),
        ("rate(12 hours)", "rate"),
        ("rate(1 day)", "rate"),
        ("rate(7 days)", "rate"),
        ("at(2026-06-01T09:00:00)", "at"),
    ],
)
def test_valid_expressions_parse(expression: str, kind: str) -> None:
    schedule = parse_schedule(expression, "Europe/Paris")
    assert schedule.kind == kind
    assert schedule.expression == expression.strip()
    assert schedule.timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 9 ? * FOO *)", "cron field 'day-of-week': 'FOO' is not a day name or number 1-7"),
        ("cron(0 9 ? FOO * *)", "cron field 'month': 'FOO' is not a month name or number 1-12"),
        ("cron(60 9 * * ? *)", "cron field 'minutes': 60 is out of range 0-59"),
        ("cron(0 24 * * ? *)", "cron field 'hours': 24 is out of range 0-23"),
        ("cron(0 9 32 * ? *)", "cron field 'day-of-month': 32 is out of range 1-31"),
        ("cron(0 9 ? * 0 *)", "0 is out of range 1-7 (EventBridge numbers days 1=SUN to 7=SAT)"),
        ("cron(0 9 * * ? 1969)", "cron field 'year': 1969 is out of range 1970-2199"),
        ("cron(0 9 * * ? 2200)", "cron field 'year': 2200 is out of range 1970-2199"),
        ("cron(0 9 * * *)", "cron needs 6 fields"),
        ("cron(0 9 * * *)", "the year is required"),
        ("cron(0 9 * * ? * *)", "got 7"),
        ("cron(0 9 * * MON *)", "exactly one of them must be '?'"),
        ("cron(0 9 ? * ? *)", "are both '?'"),
        ("cron(0 9 ? * */2 *)", "increments ('/') are not allowed"),
        ("cron(0 9 ? * 5W *)", "'W' is only allowed in day-of-month"),
        ("cron(0 L * * ? *)", "cron field 'hours': 'L': 'L' is only allowed in day-of-month"),
        ("cron(? 9 * * ? *)", "cron field 'minutes': '?': '?' is only allowed in day-of-month"),
        ("cron(0 9 1#2 * ? *)", "'#' is only allowed in day-of-week"),
        ("cron(0 9 ? * 2#6 *)", "the number after '#' must be 1-5"),
        ("cron(0 9 ? * 2#1,3#1 *)", "'#' cannot be combined with other values"),
        ("cron(0 9 L,15 * ? *)", "L and W cannot be combined"),
        ("cron(0 9 L-3 * ? *)", "use L (the last day), LW"),
        ("cron(0 9 ? * 5L,6 *)", "'L' cannot be combined"),
        ("cron(0/0 9 * * ? *)", "the increment after '/' must be a number 1-60"),
        ("cron(0 9 20-10 * ? *)", "cron field 'day-of-month': the range 20-10 runs backwards"),
        ("cron(0 9 1,,2 * ? *)", "has an empty item"),
        ("cron(0 9- * * ? *)", "cron field 'hours': '' is not a number 0-23"),
        ("rate(1 minutes)", "a value of 1 takes the singular unit 'minute'"),
        ("rate(5 minute)", "a value of 5 takes the plural unit 'minutes'"),
        ("rate(2 hour)", "takes the plural unit 'hours'"),
        ("rate(0 minutes)", "the value must be a whole number of at least 1"),
        ("rate(-1 minutes)", "the value must be a whole number of at least 1"),
        ("rate(1.5 hours)", "the value must be a whole number"),
        ("rate(2 weeks)", "unit 'weeks' is not one of minute(s), hour(s), day(s)"),
        ("rate(5  minutes)", "rate(value unit) with one space"),
        ("rate(5)", "rate(value unit)"),
        ("at(2026-02-30T09:00:00)", "2026-02-30 is not a date"),
        ("at(2026-06-01T24:00:00)", "24:00:00 is not a time of day"),
        ("at(2026-06-01 09:00:00)", "at(yyyy-mm-ddThh:mm:ss)"),
        ("at(2026-06-01T09:00)", "at(yyyy-mm-ddThh:mm:ss)"),
        ("every 5 minutes", "a schedule expression is cron("),
        ("CRON(0 9 * * ? *)", "a schedule expression is cron("),
        ("", "got ''"),
    ],
)
def test_invalid_expressions_say_what_and_where(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(expression)
    assert message in str(raised.value)
    assert raised.value.field == "expression"
    assert isinstance(raised.value, ValueError)  # pydantic validators turn it into a 400


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "europe/paris", "Europe/Paris ", "localtime", "posix/UTC", "../etc"]
)
def test_unknown_time_zones_are_refused(zone: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule("rate(1 day)", zone)
    assert raised.value.field == "timezone"
    assert repr(zone) in str(raised.value)


@pytest.mark.parametrize("zone", [None, "", "UTC", "Etc/UTC", "Asia/Kolkata", "America/New_York"])
def test_time_zones(zone: str | None) -> None:
    assert parse_schedule("rate(1 day)", zone).timezone == (zone or "UTC")


def test_a_naive_instant_is_refused() -> None:
    schedule = parse_schedule("cron(0 9 * * ? *)")
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_after(datetime(2026, 1, 1))


# -- cron ---------------------------------------------------------------------------------------


def test_weekdays_at_nine_skip_the_weekend() -> None:
    schedule = parse_schedule("cron(0 9 ? * MON-FRI *)")
    friday_after_nine = utc(2026, 3, 6, 10, 0)
    assert schedule.upcoming(friday_after_nine, 2) == [utc(2026, 3, 9, 9), utc(2026, 3, 10, 9)]


def test_next_after_is_strictly_after() -> None:
    schedule = parse_schedule("cron(0 9 * * ? *)")
    assert schedule.next_after(utc(2026, 3, 6, 9, 0)) == utc(2026, 3, 7, 9)
    assert schedule.next_after(utc(2026, 3, 6, 8, 59, 59, 999999)) == utc(2026, 3, 6, 9)


def test_cron_is_read_in_its_time_zone() -> None:
    schedule = parse_schedule("cron(0 9 * * ? *)", "Asia/Kolkata")  # UTC+05:30
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 3, 30)


def test_a_time_skipped_by_the_clocks_going_forward_does_not_fire() -> None:
    # New York, 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that day.
    schedule = parse_schedule("cron(30 2 * * ? *)", "America/New_York")
    assert schedule.upcoming(utc(2026, 3, 7), 2) == [
        local("America/New_York", 2026, 3, 7, 2, 30),
        local("America/New_York", 2026, 3, 9, 2, 30),
    ]


def test_every_half_hour_across_the_gap() -> None:
    schedule = parse_schedule("cron(0/30 * * * ? *)", "America/New_York")
    fired = schedule.upcoming(local("America/New_York", 2026, 3, 8, 1, 0), 3)
    assert fired == [
        local("America/New_York", 2026, 3, 8, 1, 30),  # 06:30Z
        local("America/New_York", 2026, 3, 8, 3, 0),  # 07:00Z: 30 minutes later, real time
        local("America/New_York", 2026, 3, 8, 3, 30),
    ]
    assert fired[1] - fired[0] == timedelta(minutes=30)


def test_a_repeated_time_fires_once_when_the_clocks_go_back() -> None:
    # New York, 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
    schedule = parse_schedule("cron(30 1 * * ? *)", "America/New_York")
    first = local("America/New_York", 2026, 11, 1, 1, 30, fold=0)
    assert first == utc(2026, 11, 1, 5, 30)
    assert schedule.next_after(utc(2026, 11, 1)) == first
    next_day = local("America/New_York", 2026, 11, 2, 1, 30)
    assert schedule.next_after(first) == next_day
    # From inside the second 01:00-02:00, the first 01:30 has gone by already.
    second_pass = local("America/New_York", 2026, 11, 1, 1, 10, fold=1)
    assert schedule.next_after(second_pass) == next_day


def test_every_quarter_hour_across_the_repeated_hour() -> None:
    schedule = parse_schedule("cron(*/15 * * * ? *)", "America/New_York")
    fired = schedule.upcoming(utc(2026, 11, 1, 4, 50), 6)  # 00:50 EDT
    assert fired == [
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 5, 15),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 5, 45),  # 01:45 EDT; the repeated 01:00-01:45 EST do not fire again
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 7, 15),
    ]


def test_europe_changes_on_its_own_dates() -> None:
    # Paris: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00.
    schedule = parse_schedule("cron(30 2 * * ? *)", "Europe/Paris")
    assert schedule.upcoming(utc(2026, 3, 28), 2) == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 30, 0, 30),
    ]
    assert schedule.upcoming(utc(2026, 10, 25), 2) == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_last_day_of_month() -> None:
    schedule = parse_schedule("cron(0 12 L * ? *)")
    assert schedule.upcoming(utc(2024, 2, 1), 2) == [utc(2024, 2, 29, 12), utc(2024, 3, 31, 12)]
    assert schedule.next_after(utc(2026, 2, 1)) == utc(2026, 2, 28, 12)


def test_last_weekday_of_month() -> None:
    schedule = parse_schedule("cron(0 12 LW * ? *)")
    # 2026-05-31 is a Sunday, so the last weekday is Friday the 29th.
    assert schedule.next_after(utc(2026, 5, 1)) == utc(2026, 5, 29, 12)
    # 2026-06-30 is a Tuesday.
    assert schedule.next_after(utc(2026, 6, 1)) == utc(2026, 6, 30, 12)


@pytest.mark.parametrize(
    ("field", "month", "expected_day"),
    [
        ("15W", 8, 14),  # 2026-08-15 is a Saturday: Friday the 14th
        ("15W", 11, 16),  # 2026-11-15 is a Sunday: Monday the 16th
        ("15W", 7, 15),  # a Wednesday: itself
        ("1W", 8, 3),  # the 1st is a Saturday: not back into July, Monday the 3rd
        ("31W", 5, 29),  # the 31st is a Sunday: not into June, Friday the 29th
    ],
)
def test_nearest_weekday(field: str, month: int, expected_day: int) -> None:
    schedule = parse_schedule(f"cron(0 12 {field} {month} ? 2026)")
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, month, expected_day, 12)


def test_nearest_weekday_to_a_day_the_month_lacks_is_skipped() -> None:
    schedule = parse_schedule("cron(0 12 31W * ? 2026)")
    assert schedule.next_after(utc(2026, 4, 1)) == utc(2026, 5, 29, 12)  # not in April


def test_nth_weekday() -> None:
    first_monday = parse_schedule("cron(0 9 ? * 2#1 *)")
    assert first_monday.upcoming(utc(2026, 3, 1), 2) == [utc(2026, 3, 2, 9), utc(2026, 4, 6, 9)]
    fifth_friday = parse_schedule("cron(0 9 ? * FRI#5 *)")
    # Only months with five Fridays: May 2026 (1, 8, 15, 22, 29), then July (3 .. 31).
    assert fifth_friday.upcoming(utc(2026, 4, 1), 2) == [utc(2026, 5, 29, 9), utc(2026, 7, 31, 9)]


def test_last_weekday_of_kind_and_bare_l() -> None:
    last_thursday = parse_schedule("cron(0 9 ? * 5L *)")
    assert last_thursday.next_after(utc(2026, 4, 1)) == utc(2026, 4, 30, 9)
    saturday = parse_schedule("cron(0 9 ? * L *)")  # L alone: the last day of the week
    assert saturday.next_after(utc(2026, 3, 2)) == utc(2026, 3, 7, 9)


def test_day_names_and_numbers_agree() -> None:
    by_name = parse_schedule("cron(0 9 ? * SUN,SAT *)")
    by_number = parse_schedule("cron(0 9 ? * 1,7 *)")
    assert isinstance(by_name, CronSchedule)
    assert isinstance(by_number, CronSchedule)
    start = utc(2026, 3, 1)
    assert by_name.upcoming(start, 4) == by_number.upcoming(start, 4)
    assert [d.weekday() for d in by_name.upcoming(start, 4)] == [6, 5, 6, 5]


def test_backwards_ranges_wrap() -> None:
    schedule = parse_schedule("cron(0 23-1 ? * SAT-SUN *)")
    fired = schedule.upcoming(utc(2026, 3, 6, 12), 6)  # a Friday
    assert [(d.day, d.hour) for d in fired] == [(7, 0), (7, 1), (7, 23), (8, 0), (8, 1), (8, 23)]


def test_year_bounds() -> None:
    assert parse_schedule("cron(0 0 1 1 ? 2199)").next_after(utc(2199, 1, 1)) is None
    assert parse_schedule("cron(0 0 1 1 ? 2199)").next_after(utc(2026, 1, 1)) == utc(2199, 1, 1)
    assert parse_schedule("cron(0 0 * * ? 1970-1971)").next_after(utc(2000, 1, 1)) is None
    assert parse_schedule("cron(* * * * ? *)").next_after(utc(2199, 12, 31, 23, 59)) is None
    assert parse_schedule("cron(* * * * ? *)").next_after(utc(2300, 1, 1)) is None


def test_a_cron_that_never_matches_ends() -> None:
    assert parse_schedule("cron(0 0 30 2 ? *)").next_after(utc(2026, 1, 1)) is None


def test_leap_days_only() -> None:
    schedule = parse_schedule("cron(0 0 29 FEB ? *)")
    assert schedule.upcoming(utc(2026, 1, 1), 2) == [utc(2028, 2, 29), utc(2032, 2, 29)]


def test_cron_start_holds_back_the_first_firing() -> None:
    schedule = parse_schedule("cron(0 * * * ? *)", start=utc(2026, 1, 1, 5, 0))
    assert schedule.next_after(utc(2025, 1, 1)) == utc(2026, 1, 1, 5, 0)
    assert schedule.next_after(utc(2026, 1, 1, 5, 0)) == utc(2026, 1, 1, 6, 0)


# -- rate and at --------------------------------------------------------------------------------


def test_rate_counts_from_its_start() -> None:
    start = utc(2026, 1, 1, 0, 0, 0)
    schedule = parse_schedule("rate(5 minutes)", start=start)
    assert isinstance(schedule, RateSchedule)
    assert schedule.next_after(start - timedelta(seconds=1)) == start
    assert schedule.next_after(start) == start + timedelta(minutes=5)
    assert schedule.next_after(start + timedelta(minutes=7)) == start + timedelta(minutes=10)
    far = start + timedelta(days=3650, seconds=1)
    assert schedule.next_after(far) == start + timedelta(days=3650, minutes=5)


def test_rate_without_a_start_counts_from_its_creation() -> None:
    before = datetime.now(UTC)
    schedule = parse_schedule("rate(1 hour)")
    assert schedule.start is not None
    assert schedule.start >= before
    assert schedule.next_after(schedule.start) == schedule.start + timedelta(hours=1)


def test_rate_days_are_24_hours_across_daylight_saving() -> None:
    start = local("America/New_York", 2026, 3, 7, 9, 0)
    schedule = parse_schedule("rate(1 day)", "America/New_York", start=start)
    following = schedule.next_after(start)
    assert following == start + timedelta(hours=24)
    assert following is not None
    assert following.astimezone(ZoneInfo("America/New_York")).hour == 10  # the wall clock moved


def test_at_fires_once_at_local_time() -> None:
    schedule = parse_schedule("at(2026-06-01T09:00:00)", "Europe/Paris")
    assert isinstance(schedule, AtSchedule)
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 6, 1, 7, 0)
    assert schedule.next_after(utc(2026, 6, 1, 7, 0)) is None
    assert schedule.upcoming(utc(2026, 1, 1), 3) == [utc(2026, 6, 1, 7, 0)]


def test_at_in_a_gap_fires_when_the_gap_ends() -> None:
    schedule = parse_schedule("at(2026-03-08T02:30:00)", "America/New_York")
    assert schedule.next_after(utc(2026, 1, 1)) == local("America/New_York", 2026, 3, 8, 3, 0)


def test_at_in_a_repeated_hour_fires_the_first_time() -> None:
    schedule = parse_schedule("at(2026-11-01T01:30:00)", "America/New_York")
    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 11, 1, 5, 30)


# -- cron against a brute-force reference -------------------------------------------------------
#
# Random cron fields, rendered to an expression, against a minute-by-minute walk over the next
# few days in real time: each UTC minute is turned into the zone's wall clock, the second pass
# of a repeated hour (fold=1) does not fire, and wall times skipped by the clocks never appear.


@dataclass
class Part:
    text: str
    values: frozenset[int]


def _field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[Part]:
    def shown(value: int, draw_name: bool) -> str:
        return names[value - low] if names and draw_name else str(value)

    @st.composite
    def build(draw: st.DrawFn) -> Part:
        form = draw(st.sampled_from(["*", "one", "list", "range", "step", "star-step"]))
        named = draw(st.booleans())
        if form == "*":
            return Part("*", frozenset(range(low, high + 1)))
        if form == "one":
            value = draw(st.integers(low, high))
            return Part(shown(value, named), frozenset({value}))
        if form == "list":
            values = draw(st.sets(st.integers(low, high), min_size=2, max_size=5))
            return Part(",".join(shown(v, named) for v in sorted(values)), frozenset(values))
        first = draw(st.integers(low, high))
        if form == "range":
            last = draw(st.integers(first, high))
            return Part(
                f"{shown(first, named)}-{shown(last, named)}", frozenset(range(first, last + 1))
            )
        step = draw(st.integers(1, high - low + 1))
        if form == "step":
            return Part(f"{first}/{step}", frozenset(range(first, high + 1, step)))
        return Part(f"*/{step}", frozenset(range(low, high + 1, step)))

    return build()


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _eb_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # 1=SUN .. 7=SAT


def _nearest_weekday(year: int, month: int, wanted: int) -> int | None:
    length = calendar.monthrange(year, month)[1]
    if wanted > length:
        return None
    weekday = date(year, month, wanted).weekday()
    if weekday == 5:
        return wanted + 2 if wanted == 1 else wanted - 1
    if weekday == 6:
        return wanted - 2 if wanted == length else wanted + 1
    return wanted


@st.composite
def day_rules(draw: st.DrawFn) -> tuple[str, str, object]:
    """(day-of-month text, day-of-week text, predicate on a date)."""
    form = draw(st.sampled_from(["dom", "dom", "dow", "dow", "L", "LW", "W", "nL", "#", "dowL"]))
    if form == "dom":
        part = draw(_field(1, 31))
        return part.text, "?", lambda d: d.day in part.values
    if form == "dow":
        part = draw(_field(1, 7, DAYS).filter(lambda p: "/" not in p.text))
        return "?", part.text, lambda d: _eb_weekday(d) in part.values
    if form == "L":
        return "L", "?", lambda d: d.day == calendar.monthrange(d.year, d.month)[1]
    if form == "LW":

        def last_weekday(d: date) -> bool:
            length = calendar.monthrange(d.year, d.month)[1]
            day = length
            while date(d.year, d.month, day).weekday() >= 5:
                day -= 1
            return d.day == day

        return "LW", "?", last_weekday
    if form == "W":
        wanted = draw(st.integers(1, 31))
        return f"{wanted}W", "?", lambda d: d.day == _nearest_weekday(d.year, d.month, wanted)
    if form == "nL":
        weekday = draw(st.integers(1, 7))

        def last_of(d: date) -> bool:
            length = calendar.monthrange(d.year, d.month)[1]
            return _eb_weekday(d) == weekday and d.day + 7 > length

        return "?", f"{weekday}L", last_of
    if form == "dowL":
        return "?", "L", lambda d: _eb_weekday(d) == 7
    weekday, nth = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    return (
        "?",
        f"{weekday}#{nth}",
        lambda d: _eb_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth,
    )


ZONES = ["UTC", "America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kathmandu"]
WINDOW = timedelta(days=3)


def _transitions(zone: str, year: int) -> list[datetime]:
    """The instants a zone's UTC offset changes in a year (to the half hour)."""
    tz = ZoneInfo(zone)
    found = []
    moment = utc(year, 1, 1)
    while moment.year == year:
        following = moment + timedelta(minutes=30)
        if moment.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            found.append(following)
        moment = following
    return found


TRANSITIONS = {zone: _transitions(zone, 2026) for zone in ZONES}


EVERY_MONTH = Part("*", frozenset(range(1, 13)))
EVERY_DAY: tuple[str, str, object] = ("*", "?", lambda d: True)


@dataclass
class Case:
    zone: str
    instant: datetime
    minutes: Part
    hours: Part
    days: tuple[str, str, object]
    months: Part


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Random cron fields, a zone and an instant. Half the time the instant is shortly before the
    zone's clocks change, with hours around the change and every day of every month, so that the
    next match is often in the gap or the repeated hour."""
    zone = draw(st.sampled_from(ZONES))
    minutes = draw(_field(0, 59))
    changes = TRANSITIONS[zone]
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        instant = change - timedelta(seconds=draw(st.integers(0, 3 * 3600)))
        hour = (change - timedelta(minutes=1)).astimezone(ZoneInfo(zone)).hour
        near = sorted({(hour + offset) % 24 for offset in (-1, 0, 1)})
        chosen = draw(st.sets(st.sampled_from(near), min_size=1))
        hours = Part(",".join(str(h) for h in sorted(chosen)), frozenset(chosen))
        return Case(zone, instant, minutes, hours, EVERY_DAY, EVERY_MONTH)
    anywhere = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 1), timezones=st.just(UTC))
    return Case(
        zone,
        draw(anywhere),
        minutes,
        draw(_field(0, 23)),
        draw(day_rules()),
        draw(_field(1, 12, MONTHS)),
    )


def test_the_reference_sees_the_changes() -> None:
    assert len(TRANSITIONS["America/New_York"]) == 2
    assert len(TRANSITIONS["Australia/Lord_Howe"]) == 2  # half-hour changes
    assert TRANSITIONS["UTC"] == []


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_cron_matches_a_minute_by_minute_reference(case: Case) -> None:
    zone, instant = case.zone, case.instant
    minutes, hours, days, months = case.minutes, case.hours, case.days, case.months
    dom_text, dow_text, day_matches = days
    expression = f"cron({minutes.text} {hours.text} {dom_text} {months.text} {dow_text} *)"
    schedule = parse_schedule(expression, zone)
    tz = ZoneInfo(zone)

    expected = None
    moment = instant.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment <= instant + WINDOW:
        wall = moment.astimezone(tz)
        if (
            wall.fold == 0
            and wall.minute in minutes.values
            and wall.hour in hours.values
            and wall.month in months.values
            and day_matches(wall.date())  # type: ignore[operator]
        ):
            expected = moment
            break
        moment += timedelta(minutes=1)

    found = schedule.next_after(instant)
    if expected is None:
        assert found is None or found > instant + WINDOW, expression
    else:
        assert found == expected, expression
