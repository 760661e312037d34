"""EventBridge Scheduler expressions: `cron(...)`, `rate(...)`, `at(...)` and when they fire.

A SCHEDULE trigger becomes an EventBridge Scheduler schedule on AWS, and the dev server fires the
same schedules itself (no local emulator does). Both must agree on what an expression means, so
this module follows the EventBridge documentation rather than Unix cron or Quartz:

- `cron(minutes hours day-of-month month day-of-week year)`: six fields; exactly one of
  day-of-month and day-of-week is `?`. Day-of-week numbers run 1=SUN .. 7=SAT. Wildcards per
  field, as documented: minutes, hours, month, year take `, - * /`; day-of-month `, - * ? / L W`;
  day-of-week `, - * ? L #` (no `/`). `L`, `W`, `#` items stand alone in their field
  (`L`, `LW`, `15W`; `L` (Saturday, the last day of the week), `5L`, `2#1`), as in Quartz,
  which EventBridge's syntax comes from. Names (JAN-DEC, SUN-SAT) are case-insensitive.
  A range that runs backwards wraps round in the cyclic fields (`FRI-MON`, `22-2` hours) and is
  an error in day-of-month and year.
- `rate(value unit)`: a positive whole number; `minute`/`hour`/`day` for 1 and the plural for
  more. AWS rejects `rate(1 minutes)` and `rate(5 minute)`, so this does too.
- `at(yyyy-mm-ddThh:mm:ss)`: once, at that local time.

Time zones are IANA names; cron and at expressions are read in the schedule's zone. Daylight
saving, as EventBridge Scheduler documents it ("How can I adjust my Amazon EventBridge schedule
for daylight saving?", AWS re:Post knowledge center): a cron time that does not exist when the
clocks go forward is skipped; a cron time that happens twice when they go back fires once (the
first time). A rate counts real elapsed time from its start (a `rate(1 day)` stays 24 hours
apart across a change). For a one-time `at()` a skipped time would mean never running at all, so
a local time inside a gap fires at the first instant after the gap (documented choice: AWS does
not say).

`next_after` walks the cron's field sets (years, months, the days of each month, hours, minutes)
from the instant on, so finding the next firing costs a handful of steps, never a minute-by-minute
scan.
"""

from __future__ import annotations

import calendar
import re
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

YEAR_MIN, YEAR_MAX = 1970, 2199
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1..7, as EventBridge numbers them
CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
SATURDAY = 7

# ZoneInfo loads these from the system's zoneinfo directory, but they are not IANA zone names
# (a copy of the machine's own zone, a template, alternative trees) and AWS would refuse them.
_NOT_ZONES = frozenset({"localtime", "posixrules"})
_NOT_ZONE_PREFIXES = ("posix/", "right/")

_ONE_MINUTE = timedelta(minutes=1)
RateUnit = Literal["minute", "hour", "day"]


class ScheduleError(ValueError):
    """An expression or time zone EventBridge Scheduler would refuse; says what and where.

    `field` is the trigger parameter at fault: `expression` or `timezone`.
    """

    def __init__(self, message: str, field: Literal["expression", "timezone"] = "expression"):
        super().__init__(message)
        self.message = message
        self.field = field


# -- time zones ---------------------------------------------------------------------------------


def parse_timezone(name: str | None) -> ZoneInfo:
    """An IANA time zone; None or blank is UTC."""
    if name is None or not name.strip():
        return ZoneInfo("UTC")
    if name != name.strip():
        raise ScheduleError(f"time zone {name!r} has blanks around it", "timezone")
    if name in _NOT_ZONES or name.startswith(_NOT_ZONE_PREFIXES):
        raise ScheduleError(f"{name!r} is not an IANA time zone name", "timezone")
    try:
        return ZoneInfo(name)
    # ValueError: a malformed key (absolute path, `..`, not a TZif file).
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Paris or UTC",
            "timezone",
        ) from None


def _aware_utc(instant: datetime, what: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (UTC), got {instant!r}")
    return instant.astimezone(UTC)


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """A local wall-clock time as UTC; None when the clocks skip it (a daylight-saving gap).

    A repeated wall time (clocks going back) maps to its first occurrence (fold=0).
    """
    utc = wall.replace(tzinfo=zone).astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return utc


# -- schedules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule(ABC):
    """A parsed expression in its time zone. `start`: occurrences before it do not count; for a
    rate it is also where the count starts (default: when the schedule was parsed)."""

    expression: str  # as given, surrounding blanks removed
    timezone: str
    zone: ZoneInfo = field(repr=False, compare=False)
    start: datetime | None = None

    kind: ClassVar[Literal["cron", "rate", "at"]]

    @abstractmethod
    def next_after(self, instant: datetime) -> datetime | None:
        """The first firing strictly after `instant` (aware), in UTC; None if there is none."""

    def upcoming(self, instant: datetime, count: int) -> list[datetime]:
        """The next `count` firings after `instant` (fewer if the schedule ends)."""
        found: list[datetime] = []
        current = instant
        while len(found) < count:
            following = self.next_after(current)
            if following is None:
                break
            found.append(following)
            current = following
        return found


@dataclass(frozen=True)
class RateSchedule(Schedule):
    value: int = 1
    unit: RateUnit = "minute"
    kind: ClassVar[Literal["cron", "rate", "at"]] = "rate"

    @property
    def period(self) -> timedelta:
        return timedelta(**{f"{self.unit}s": self.value})

    def next_after(self, instant: datetime) -> datetime | None:
        instant = _aware_utc(instant)
        anchor = self.start if self.start is not None else instant
        if instant < anchor:
            return anchor  # EventBridge fires a rate schedule at its start date first
        # Integer microseconds: float division drifts after enough periods.
        period_us = self.period // timedelta(microseconds=1)
        elapsed_us = (instant - anchor) // timedelta(microseconds=1)
        return anchor + timedelta(microseconds=(elapsed_us // period_us + 1) * period_us)


@dataclass(frozen=True)
class AtSchedule(Schedule):
    local_time: datetime = datetime(1970, 1, 1)  # naive wall-clock time in `zone`
    kind: ClassVar[Literal["cron", "rate", "at"]] = "at"

    @property
    def fires_at(self) -> datetime:
        """The instant of the one firing (a time in a daylight-saving gap: the gap's end)."""
        utc = _to_utc(self.local_time, self.zone)
        if utc is not None:
            return utc
        # Inside a gap: fold=0 reads the wall time with the offset in force before the change,
        # which lands after the gap; the gap's end is the first existing minute at or before it.
        shifted = self.local_time.replace(tzinfo=self.zone).astimezone(UTC)
        candidate = shifted
        while True:
            earlier = candidate - _ONE_MINUTE
            if earlier.astimezone(self.zone).replace(tzinfo=None) < self.local_time:
                return candidate
            candidate = earlier

    def next_after(self, instant: datetime) -> datetime | None:
        instant = _aware_utc(instant)
        when = self.fires_at
        if when <= instant or (self.start is not None and when < self.start):
            return None
        return when


@dataclass(frozen=True)
class _DayRule:
    """Which days of a month a cron fires on: one of the day fields, the other being `?`."""

    values: frozenset[int] = frozenset()  # days of month 1..31, or weekdays 1..7
    by_weekday: bool = False
    last: bool = False  # L (day-of-month)
    last_weekday: bool = False  # LW
    nearest_weekday: int | None = None  # 15W
    last_of_weekday: int | None = None  # 5L: the last Thursday
    nth_weekday: tuple[int, int] | None = None  # 2#1: (weekday, n), the first Monday

    def days(self, year: int, month: int) -> list[int]:
        first_weekday, length = calendar.monthrange(year, month)  # Monday = 0
        # EventBridge weekday (1=SUN..7=SAT) of day 1 of the month.
        first = (first_weekday + 1) % 7 + 1

        def weekday(day: int) -> int:
            return (first - 1 + day - 1) % 7 + 1

        if self.last:
            return [length]
        if self.last_weekday:
            day = length
            while weekday(day) in (1, SATURDAY):
                day -= 1
            return [day]
        if self.nearest_weekday is not None:
            day = self.nearest_weekday
            if day > length:
                return []  # like a plain 31 in April: that month has no such day
            # The nearest weekday in the same month, never across its edges (as Quartz does).
            if weekday(day) == SATURDAY:
                day = day + 2 if day == 1 else day - 1
            elif weekday(day) == 1:
                day = day - 2 if day == length else day + 1
            return [day]
        if self.last_of_weekday is not None:
            day = length
            while weekday(day) != self.last_of_weekday:
                day -= 1
            return [day]
        if self.nth_weekday is not None:
            wanted, n = self.nth_weekday
            day = 1 + (wanted - first) % 7 + 7 * (n - 1)
            return [day] if day <= length else []
        if self.by_weekday:
            return [d for d in range(1, length + 1) if weekday(d) in self.values]
        return sorted(d for d in self.values if d <= length)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    years: tuple[int, ...] = ()
    day_rule: _DayRule = field(default_factory=_DayRule)
    kind: ClassVar[Literal["cron", "rate", "at"]] = "cron"
    # (year, month) -> firing days; a cron is consulted over and over by the dev scheduler.
    _days: dict[tuple[int, int], list[int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def days_of(self, year: int, month: int) -> list[int]:
        key = (year, month)
        days = self._days.get(key)
        if days is None:
            days = self._days[key] = self.day_rule.days(year, month)
        return days

    def next_after(self, instant: datetime) -> datetime | None:
        instant = _aware_utc(instant)
        if self.start is not None and instant < self.start:
            instant = self.start - timedelta(microseconds=1)
        local = instant.astimezone(self.zone).replace(tzinfo=None)
        if local.year > YEAR_MAX:
            return None
        # The next whole minute in local wall-clock time (cron fires at second 0).
        begin = local.replace(second=0, microsecond=0) + _ONE_MINUTE
        for wall in self._walk(begin):
            utc = _to_utc(wall, self.zone)
            # None: skipped by the clocks going forward. <= instant: the first pass of a repeated
            # hour already went by while `instant` is in its second pass.
            if utc is not None and utc > instant:
                return utc
        return None

    def _walk(self, begin: datetime) -> Iterator[datetime]:
        """Every matching wall-clock minute from `begin` on, in order."""
        y0, mo0, d0, h0, mi0 = begin.year, begin.month, begin.day, begin.hour, begin.minute
        for year in self.years[bisect_left(self.years, y0) :]:
            in_first_year = year == y0
            for month in self.months[bisect_left(self.months, mo0) if in_first_year else 0 :]:
                in_first_month = in_first_year and month == mo0
                days = self.days_of(year, month)
                for day in days[bisect_left(days, d0) if in_first_month else 0 :]:
                    on_first_day = in_first_month and day == d0
                    for hour in self.hours[bisect_left(self.hours, h0) if on_first_day else 0 :]:
                        in_first_hour = on_first_day and hour == h0
                        start = bisect_left(self.minutes, mi0) if in_first_hour else 0
                        for minute in self.minutes[start:]:
                            yield datetime(year, month, day, hour, minute)


# -- parsing ------------------------------------------------------------------------------------


def parse_schedule(
    expression: str, timezone: str | None = None, *, start: datetime | None = None
) -> Schedule:
    """Parse an EventBridge Scheduler expression; raise ScheduleError saying what is wrong.

    `start` (aware): no firing before it; a rate counts its periods from it. A rate without a
    start counts from now, as EventBridge starts a rate schedule when it is created.
    """
    if not isinstance(expression, str):
        raise ScheduleError(f"a schedule expression is a string, got {type(expression).__name__}")
    text = expression.strip()
    zone = parse_timezone(timezone)
    zone_name = zone.key
    start_utc = _aware_utc(start, "start") if start is not None else None
    if text.startswith("cron(") and text.endswith(")"):
        return _parse_cron(text, zone_name, zone, start_utc)
    if text.startswith("rate(") and text.endswith(")"):
        value, unit = _parse_rate(text[5:-1])
        if start_utc is None:
            start_utc = datetime.now(UTC)
        return RateSchedule(text, zone_name, zone, start_utc, value=value, unit=unit)
    if text.startswith("at(") and text.endswith(")"):
        return AtSchedule(text, zone_name, zone, start_utc, local_time=_parse_at(text[3:-1]))
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise ScheduleError(
        "a schedule expression is cron(minutes hours day-of-month month day-of-week year), "
        f"rate(value unit) or at(yyyy-mm-ddThh:mm:ss); got {shown!r}"
    )


_RATE = re.compile(r"(\S+) (\S+)")
_RATE_UNITS: dict[str, RateUnit] = {
    "minute": "minute",
    "minutes": "minute",
    "hour": "hour",
    "hours": "hour",
    "day": "day",
    "days": "day",
}


def _parse_rate(body: str) -> tuple[int, RateUnit]:
    match = _RATE.fullmatch(body)
    if not match:
        raise ScheduleError(
            f"rate({body}): a rate is rate(value unit) with one space, e.g. rate(5 minutes)"
        )
    raw_value, unit = match.groups()
    if not raw_value.isdigit() or int(raw_value) < 1:
        raise ScheduleError(f"rate({body}): the value must be a whole number of at least 1")
    value = int(raw_value)
    singular = _RATE_UNITS.get(unit)
    if singular is None:
        raise ScheduleError(f"rate({body}): unit {unit!r} is not one of minute(s), hour(s), day(s)")
    if value == 1 and unit != singular:
        raise ScheduleError(f"rate({body}): a value of 1 takes the singular unit '{singular}'")
    if value > 1 and unit == singular:
        raise ScheduleError(f"rate({body}): a value of {value} takes the plural unit '{unit}s'")
    return value, singular


_AT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")


def _parse_at(body: str) -> datetime:
    match = _AT.fullmatch(body)
    if not match:
        raise ScheduleError(
            f"at({body}): a one-time schedule is at(yyyy-mm-ddThh:mm:ss) in local time, "
            "e.g. at(2026-06-01T09:00:00)"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        raise ScheduleError(f"at({body}): {year:04d}-{month:02d}-{day:02d} is not a date") from None
    if hour > 23 or minute > 59 or second > 59:
        raise ScheduleError(
            f"at({body}): {hour:02d}:{minute:02d}:{second:02d} is not a time of day"
        )
    return datetime(year, month, day, hour, minute, second)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names for low..high
    cyclic: bool = True  # a backwards range wraps round

    def error(self, message: str) -> ScheduleError:
        return ScheduleError(f"cron field '{self.name}': {message}")

    def describe(self) -> str:
        if self.name == "day-of-week":
            return "a day name or number 1-7"
        if self.name == "month":
            return "a month name or number 1-12"
        return f"a number {self.low}-{self.high}"

    def value(self, text: str) -> int:
        upper = text.upper()
        if upper in self.names:
            return self.low + self.names.index(upper)
        if not text.isdigit():
            raise self.error(f"{text!r} is not {self.describe()}")
        number = int(text)
        if not self.low <= number <= self.high:
            hint = " (EventBridge numbers days 1=SUN to 7=SAT)" if self.names == DAY_NAMES else ""
            raise self.error(f"{number} is out of range {self.low}-{self.high}{hint}")
        return number

    def span(self, start: int, end: int) -> list[int]:
        if start <= end:
            return list(range(start, end + 1))
        if not self.cyclic:
            raise self.error(f"the range {start}-{end} runs backwards")
        return [*range(start, self.high + 1), *range(self.low, end + 1)]

    def values(self, text: str, *, steps: bool = True) -> frozenset[int]:
        """A list of values, ranges and increments (`,` `-` `*` `/`)."""
        found: set[int] = set()
        for item in text.split(","):
            if not item:
                raise self.error(f"{text!r} has an empty item in its list")
            base, slash, step_text = item.partition("/")
            if slash and not steps:
                raise self.error(
                    f"{item!r}: increments ('/') are not allowed in this field; "
                    "allowed: , - * ? L #"
                )
            if base == "*":
                candidates = list(range(self.low, self.high + 1))
            elif "-" in base:
                first, _, last = base.partition("-")
                candidates = self.span(self.value(first), self.value(last))
            else:
                start_value = self.value(base)
                # `10/15`: from 10 to the end of the field, every 15.
                candidates = list(range(start_value, self.high + 1)) if slash else [start_value]
            if slash:
                width = self.high - self.low + 1
                if not step_text.isdigit() or not 1 <= int(step_text) <= width:
                    raise self.error(
                        f"{item!r}: the increment after '/' must be a number 1-{width}"
                    )
                candidates = candidates[:: int(step_text)]
            found.update(candidates)
        return frozenset(found)


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, cyclic=False)
_MONTH = _Field("month", 1, 12, MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, DAY_NAMES)
_YEAR = _Field("year", YEAR_MIN, YEAR_MAX, cyclic=False)

_ALLOWED = {
    "minutes": set("0123456789,-*/"),
    "hours": set("0123456789,-*/"),
    "month": set("0123456789,-*/ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "year": set("0123456789,-*/"),
}


def _check_characters(spec: _Field, text: str) -> None:
    allowed = _ALLOWED[spec.name]
    for ch in text.upper():
        if ch not in allowed:
            if ch in "?LW#":
                where = {
                    "?": "day-of-month or day-of-week",
                    "L": "day-of-month or day-of-week",
                    "W": "day-of-month",
                    "#": "day-of-week",
                }[ch]
                raise spec.error(f"{text!r}: '{ch}' is only allowed in {where}")
            raise spec.error(f"{text!r}: unexpected character {ch!r}")


def _parse_cron(text: str, zone_name: str, zone: ZoneInfo, start: datetime | None) -> Schedule:
    parts = text[5:-1].split()
    if len(parts) != 6:
        hint = "; the year is required (use * for every year)" if len(parts) == 5 else ""
        raise ScheduleError(
            f"cron needs 6 fields ({' '.join(CRON_FIELDS)}), got {len(parts)}{hint}"
        )
    minute_text, hour_text, dom_text, month_text, dow_text, year_text = parts
    for spec, value in (
        (_MINUTES, minute_text),
        (_HOURS, hour_text),
        (_MONTH, month_text),
        (_YEAR, year_text),
    ):
        _check_characters(spec, value)
    if dom_text == "?" and dow_text == "?":
        raise ScheduleError(
            "cron fields 'day-of-month' and 'day-of-week' are both '?'; "
            "exactly one of them must be '?'"
        )
    if dom_text != "?" and dow_text != "?":
        raise ScheduleError(
            "cron fields 'day-of-month' and 'day-of-week' are both set; exactly one of them "
            "must be '?', e.g. cron(0 9 ? * MON-FRI *) or cron(0 9 1 * ? *)"
        )
    rule = _day_of_week(dow_text) if dom_text == "?" else _day_of_month(dom_text)
    return CronSchedule(
        text,
        zone_name,
        zone,
        start,
        minutes=tuple(sorted(_MINUTES.values(minute_text))),
        hours=tuple(sorted(_HOURS.values(hour_text))),
        months=tuple(sorted(_MONTH.values(month_text))),
        years=tuple(sorted(_YEAR.values(year_text))),
        day_rule=rule,
    )


def _alone(spec: _Field, text: str, what: str) -> None:
    if "," in text:
        raise spec.error(f"{text!r}: {what} cannot be combined with other values in a list")


def _day_of_month(text: str) -> _DayRule:
    spec = _DAY_OF_MONTH
    upper = text.upper()
    if "?" in upper:
        raise spec.error(f"{text!r}: '?' stands alone")
    if "#" in upper:
        raise spec.error(f"{text!r}: '#' is only allowed in day-of-week")
    if "L" in upper or "W" in upper:
        _alone(spec, upper, "L and W")
        if upper == "L":
            return _DayRule(last=True)
        if upper == "LW":
            return _DayRule(last_weekday=True)
        if upper.endswith("W") and upper[:-1].isdigit():
            return _DayRule(nearest_weekday=spec.value(upper[:-1]))
        raise spec.error(
            f"{text!r} is not a day-of-month: use L (the last day), LW (the last weekday) or "
            "a day with W (15W: the weekday nearest the 15th)"
        )
    for ch in upper:
        if ch not in "0123456789,-*/":
            raise spec.error(f"{text!r}: unexpected character {ch!r}")
    return _DayRule(values=spec.values(upper))


def _day_of_week(text: str) -> _DayRule:
    spec = _DAY_OF_WEEK
    upper = text.upper()
    if "?" in upper:
        raise spec.error(f"{text!r}: '?' stands alone")
    if "#" in upper:
        _alone(spec, upper, "'#'")
        day, _, nth = upper.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise spec.error(f"{text!r}: the number after '#' must be 1-5 (the nth such day)")
        return _DayRule(nth_weekday=(spec.value(day), int(nth)), by_weekday=True)
    if upper == "L":
        return _DayRule(values=frozenset({SATURDAY}), by_weekday=True)  # the last day of a week
    for item in upper.split(","):
        if item.endswith("L") and item[:-1] and "-" not in item and "/" not in item:
            _alone(spec, upper, "'L'")
            return _DayRule(last_of_weekday=spec.value(item[:-1]), by_weekday=True)
        if item.endswith("W") and item[:-1].isdigit():
            raise spec.error(f"{item!r}: 'W' is only allowed in day-of-month")
    return _DayRule(values=spec.values(upper, steps=False), by_weekday=True)
