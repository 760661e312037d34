"""Schedules in words -> EventBridge Scheduler expressions (`cron(...)`, `rate(...)`, `at(...)`).

`find_schedule(text)` reads the schedule a request describes ("every weekday at 9am Paris
time", "every 6 hours", "on the 1st of every month", "nightly") and answers the expression, the
IANA time zone when one is named, a label for people, the assumptions it made (each one a
sentence for the user) and the spans of text it used, so the action reader can skip them.

Choices (each is said in `notes` when used):
- a part of the day without a time: morning 09:00, afternoon 14:00, evening 18:00, night or
  nightly 02:00 (a quiet hour for batch work), end of day 17:00;
- a day, week or month with no time at all: 09:00;
- "weekly" with no day: Monday; "monthly" with no day: the 1st;
- a bare hour from 1 to 6 with no am/pm ("at 4"): the afternoon, as business automations mean;
- "twice a day": 09:00 and 17:00; "three times a day": 08:00, 13:00 and 18:00;
- seconds are below EventBridge Scheduler's one-minute precision: every minute.
Daily and weekly crons put `?` in day-of-month (`cron(0 9 ? * MON-FRI *)`); monthly and yearly
ones put it in day-of-week (`cron(0 9 1 * ? *)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flowlane.agent.offline.lexicon import (
    DAY_NAMES,
    DAY_TITLES,
    MONTH_NAMES,
    NUMBER,
    UNIT,
    WEEK_ORDER,
    number,
)
from flowlane.agent.offline.timezones import find_timezone, zone_label

_FLAGS = re.IGNORECASE

# -- the pieces ------------------------------------------------------------------------------

_RATE = re.compile(rf"\b(?:every|each)\s+(other\s+|{NUMBER}\s+)?({UNIT}|month|months)\b", _FLAGS)
_HALF_HOUR = re.compile(r"\bevery\s+half[\s-]+(?:an\s+)?hour\b", _FLAGS)
_HOURLY = re.compile(r"\b(hourly|once an hour|every hour)\b", _FLAGS)
_TIMES_A_DAY = re.compile(
    r"\b(twice|two times|three times|3 times|four times)\s+(?:a|per)\s+day\b|\btwice daily\b",
    _FLAGS,
)
_DAILY = re.compile(
    r"\b(daily|every\s*day|each day|once a day|per day|every (?:single )?(?:morning|afternoon|"
    r"evening|night)|"
    r"each (?:morning|afternoon|evening|night)|nightly|overnight|mornings|evenings)\b",
    _FLAGS,
)
_WEEKLY = re.compile(r"\b(weekly|every week|each week|once a week)\b", _FLAGS)
_MONTHLY = re.compile(r"\b(monthly|every month|each month|once a month)\b", _FLAGS)
_YEARLY = re.compile(r"\b(yearly|annually|every year|each year|once a year)\b", _FLAGS)
_BUSINESS_HOURS = re.compile(
    r"\b(?:during|in|within)\s+(?:business|working|office|work)\s+hours\b", _FLAGS
)
_HOUR_RANGE = re.compile(
    r"\b(?:between|from)\s+(\d{1,2})(?::00)?\s*(am|pm)?\s+(?:and|to|-)\s+(\d{1,2})(?::00)?\s*(am|pm)?\b",
    _FLAGS,
)

_WEEKDAYS = re.compile(
    r"\b(?:every|each|on|on all)?\s*(?:weekdays?|work\s*days?|working days?|business days?)\b|"
    r"\b(?:monday|mon)\s*(?:-|\u2013|to|through|thru|until)\s*(?:friday|fri)\b",
    _FLAGS,
)
_WEEKENDS = re.compile(r"\b(?:every|each|on|at)?\s*(?:the\s+)?weekends?\b", _FLAGS)
_DAY_WORDS = "|".join(sorted(DAY_NAMES, key=len, reverse=True))
_DAY = re.compile(rf"\b({_DAY_WORDS})(s)?\b", _FLAGS)
_DAY_RANGE = re.compile(
    rf"\b({_DAY_WORDS})\s*(?:-|\u2013|to|through|thru)\s*({_DAY_WORDS})\b", _FLAGS
)
_DAY_CUE_BEFORE = re.compile(r"(?:every|each|on|weekly on|and|or|,|&|next|this)\s*$", _FLAGS)
_DAY_CUE_AFTER = re.compile(
    r"^\s*(?:at\b|@|morning|afternoon|evening|night|mornings|evenings|\d|noon|midnight)", _FLAGS
)

# "a Friday email": a day named before what is sent that day.
_A_DAY_THING = re.compile(
    r"^\s*(?:email|report|digest|summary|update|newsletter|reminder|check|run|post|recap)\b", _FLAGS
)
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH_DAY = re.compile(
    rf"\b(?:on\s+)?(?:the\s+)?{_ORDINAL}\s+(?:day\s+)?of\s+(?:every|each|the|a)\s+month\b|"
    rf"\bevery\s+month\s+on\s+the\s+{_ORDINAL}\b|\bon\s+the\s+{_ORDINAL}\b|\bon\s+day\s+(\d{{1,2}})\b|"
    rf"\bmonthly\s+on\s+(?:day\s+|the\s+)?{_ORDINAL}\b",
    _FLAGS,
)
_FIRST_OF_MONTH = re.compile(
    r"\b(?:the\s+)?(first|1st)\s+(?:day\s+)?of\s+(?:every|each|the)\s+month\b", _FLAGS
)
_LAST_OF_MONTH = re.compile(
    r"\b(?:the\s+)?last\s+day\s+of\s+(?:every|each|the)\s+month\b|\bend\s+of\s+(?:every|each|the)\s+month\b",
    _FLAGS,
)
_NTH_WEEKDAY = re.compile(
    rf"\b(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|last)\s+({_DAY_WORDS})\s+of\s+(?:every|each|the)\s+month\b",
    _FLAGS,
)
_MONTH_WORDS = "|".join(sorted(MONTH_NAMES, key=len, reverse=True))
_DATE_IN_YEAR = re.compile(
    rf"\b(?:on\s+)?({_MONTH_WORDS})\.?\s+{_ORDINAL}\b(?:,?\s+(\d{{4}}))?", _FLAGS
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T\s](\d{2}):(\d{2})(?::(\d{2}))?)?\b", _FLAGS)

_AMPM_TIME = re.compile(
    r"\b(?:at\s+|@\s*)?(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])", _FLAGS
)
_CLOCK_TIME = re.compile(
    r"\b(?:at\s+|@\s*)?([01]?\d|2[0-3]):([0-5]\d)\b(?!\s*(?:%|[ap]\.?m\b))", _FLAGS
)
_BARE_TIME = re.compile(
    r"\b(?:at|@)\s+(\d{1,2})\b(?![:.]\d|\s*(?:%|am|pm|a\.m|p\.m|minutes?|hours?|days?|percent|"
    r"issues?|items?|of\b|st\b|nd\b|rd\b|th\b))",
    _FLAGS,
)
_O_CLOCK = re.compile(r"\b(\d{1,2})\s+o'?clock\b", _FLAGS)
_PART_OF_DAY: tuple[tuple[re.Pattern[str], int, str], ...] = (
    (re.compile(r"\bnoon\b|\bmidday\b|\blunch\s*time\b|\blunch\b", _FLAGS), 12, "noon is 12:00"),
    (re.compile(r"\bmidnight\b", _FLAGS), 0, "midnight is 00:00"),
    (
        re.compile(r"\bend of (?:the )?(?:work\s*)?day\b|\bclose of business\b|\beod\b", _FLAGS),
        17,
        "the end of the day is 17:00",
    ),
    (
        re.compile(r"\bmornings?\b|\bstart of (?:the )?(?:work\s*)?day\b", _FLAGS),
        9,
        "morning means 09:00",
    ),
    (re.compile(r"\bafternoons?\b", _FLAGS), 14, "afternoon means 14:00"),
    (re.compile(r"\bevenings?\b|\btonight\b", _FLAGS), 18, "evening means 18:00"),
    (
        re.compile(r"\bnightly\b|\bnights?\b|\bovernight\b", _FLAGS),
        2,
        "nightly runs at 02:00, a quiet hour for batch work",
    ),
)
_ORDINAL_WORDS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
}


@dataclass(frozen=True)
class ScheduleMatch:
    expression: str
    timezone: str | None
    label: str
    notes: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


@dataclass
class _Reading:
    """What has been read so far, and where."""

    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def take(self, match: re.Match[str], group: int = 0) -> None:
        self.spans.append((match.start(group), match.end(group)))

    def free(self, match: re.Match[str]) -> bool:
        """Whether the match overlaps nothing taken yet."""
        return not any(s < match.end() and match.start() < e for s, e in self.spans)


# -- times ---------------------------------------------------------------------------------


def _times(reading: _Reading, night: bool) -> list[tuple[int, int]]:
    """(hour, minute) pairs named in the text, in order."""
    found: list[tuple[int, int, int]] = []  # (position, hour, minute)
    text = reading.text
    for match in _AMPM_TIME.finditer(text):
        if not reading.free(match):
            continue
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour > 12 or minute > 59:
            continue
        pm = match.group(3).lower().startswith("p")
        hour = (hour % 12) + (12 if pm else 0)
        found.append((match.start(), hour, minute))
        reading.take(match)
    for match in _CLOCK_TIME.finditer(text):
        if not reading.free(match):
            continue
        found.append((match.start(), int(match.group(1)), int(match.group(2))))
        reading.take(match)
    for pattern in (_BARE_TIME, _O_CLOCK):
        for match in pattern.finditer(text):
            if not reading.free(match):
                continue
            hour = int(match.group(1))
            if hour > 23:
                continue
            if 1 <= hour <= 6 and not night:
                reading.notes.append(
                    f"{hour} o'clock without am or pm is read as {hour + 12}:00 (afternoon)"
                )
                hour += 12
            found.append((match.start(), hour, 0))
            reading.take(match)
    if not found:
        for pattern, hour, note in _PART_OF_DAY:
            part = pattern.search(text)
            if part:
                found.append((part.start(), hour, 0))
                reading.notes.append(
                    f"{note[:1].upper()}{note[1:]}; change it if you meant another time"
                )
                break
    found.sort()
    unique: list[tuple[int, int]] = []
    for _, hour, minute in found:
        if (hour, minute) not in unique:
            unique.append((hour, minute))
    return unique


# -- days ----------------------------------------------------------------------------------


def _days(reading: _Reading) -> list[str]:
    text = reading.text
    days: list[str] = []
    for match in _WEEKDAYS.finditer(text):
        days.extend(WEEK_ORDER[:5])
        reading.take(match)
    for match in _WEEKENDS.finditer(text):
        if reading.free(match):
            days.extend(("SAT", "SUN"))
            reading.take(match)
    for match in _DAY_RANGE.finditer(text):
        if not reading.free(match):
            continue
        first = WEEK_ORDER.index(DAY_NAMES[match.group(1).lower()])
        last = WEEK_ORDER.index(DAY_NAMES[match.group(2).lower()])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        days.extend(WEEK_ORDER[i] for i in span)
        reading.take(match)
    for match in _DAY.finditer(text):
        if not reading.free(match):
            continue
        word = match.group(1).lower()
        if (
            len(word) <= 3
            and not match.group(1)[0].isupper()
            and word in ("sat", "sun", "mon", "wed")
        ):
            continue  # "sat", "sun": English words, not days, unless capitalised
        plural = bool(match.group(2))
        cue = (
            _DAY_CUE_BEFORE.search(text[: match.start()])
            or _DAY_CUE_AFTER.search(text[match.end() :])
            or (
                re.search(r"\ba\s+$", text[: match.start()], _FLAGS)
                and _A_DAY_THING.search(text[match.end() :])
            )
        )
        if plural or cue:
            days.append(DAY_NAMES[word])
            reading.take(match)
    ordered = [d for d in WEEK_ORDER if d in days]
    return ordered


def _day_field(days: list[str]) -> str:
    if days == list(WEEK_ORDER):
        return "*"
    if days == list(WEEK_ORDER[:5]):
        return "MON-FRI"
    if days == ["SAT", "SUN"]:
        return "SAT,SUN"
    return ",".join(days)


def _days_label(days: list[str]) -> str:
    if days == list(WEEK_ORDER[:5]):
        return "Every weekday"
    if days == ["SAT", "SUN"]:
        return "Every weekend day"
    names = [DAY_TITLES[d] for d in days]
    return "Every " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


# -- the whole -----------------------------------------------------------------------------


def _clock(times: list[tuple[int, int]]) -> str:
    return " and ".join(f"{h:02d}:{m:02d}" for h, m in times)


def _hour_field(times: list[tuple[int, int]], reading: _Reading) -> tuple[str, str]:
    """The cron minute and hour fields for the times (one minute for all of them)."""
    minutes = {m for _, m in times}
    if len(minutes) > 1:
        reading.notes.append(
            f"One schedule fires at one minute past each hour it names; "
            f"{_clock(times)} became {', '.join(f'{h:02d}:{times[0][1]:02d}' for h, _ in times)}"
        )
    return str(times[0][1]), ",".join(str(h) for h in sorted({h for h, _ in times}))


def _rate(value: int, unit: str) -> str:
    return f"rate({value} {unit}{'' if value == 1 else 's'})"


def find_schedule(text: str) -> ScheduleMatch | None:
    """The schedule `text` describes, or None when it names no schedule (see the module doc)."""
    reading = _Reading(text)
    zone_match = find_timezone(text)
    if zone_match is not None:
        reading.spans.append((zone_match.start, zone_match.end))
    zone = zone_match.zone if zone_match else None
    result = _read(reading)
    if result is None:
        return None
    expression, label = result
    if zone:
        label = f"{label} ({zone_label(zone)} time)"
    return ScheduleMatch(
        expression, zone, label, tuple(dict.fromkeys(reading.notes)), tuple(reading.spans)
    )


def _read(reading: _Reading) -> tuple[str, str] | None:
    text = reading.text
    iso = _ISO_DATE.search(text)
    if iso:
        reading.take(iso)
        year, month, day = iso.group(1), iso.group(2), iso.group(3)
        hour, minute = iso.group(4), iso.group(5)
        if hour is None:
            times = _times(reading, night=False) or [(9, 0)]
            if not hour and times == [(9, 0)]:
                reading.notes.append("No time was given for the date: it runs at 09:00")
            hour, minute = f"{times[0][0]:02d}", f"{times[0][1]:02d}"
        stamp = f"{year}-{month}-{day}T{hour}:{minute}:{iso.group(6) or '00'}"
        return f"at({stamp})", f"Once, on {year}-{month}-{day} at {hour}:{minute}"

    rate = _rate_reading(reading)
    if rate is not None:
        return rate

    night = bool(re.search(r"\bnight(ly)?\b|\bovernight\b", text, _FLAGS))
    yearly = _YEARLY.search(text)
    if yearly:
        reading.take(yearly)
        date = _DATE_IN_YEAR.search(text)
        times = _times(reading, night) or _default_time(reading)
        minute, hours = _hour_field(times, reading)
        if date:
            reading.take(date)
            month, day = MONTH_NAMES[date.group(1).lower()], int(date.group(2))
        else:
            month, day = 1, 1
            reading.notes.append("No date was given for the yearly run: it runs on January 1st")
        return (
            f"cron({minute} {hours} {day} {month} ? *)",
            f"Every year on {month:02d}-{day:02d} at {_clock(times)}",
        )

    monthly = _monthly(reading)
    if monthly is not None:
        dom, dow, what = monthly
        times = _times(reading, night) or _default_time(reading)
        minute, hours = _hour_field(times, reading)
        return f"cron({minute} {hours} {dom} * {dow} *)", f"{what} at {_clock(times)}"

    days = _days(reading)
    multiple = _TIMES_A_DAY.search(text)
    daily = _DAILY.search(text)
    weekly = _WEEKLY.search(text)
    times = _times(reading, night)
    if multiple:
        reading.take(multiple)
        if len(times) < 2:
            word = multiple.group(0).lower()
            times = (
                [(8, 0), (13, 0), (18, 0)] if "three" in word or "3" in word else [(9, 0), (17, 0)]
            )
            if "four" in word:
                times = [(8, 0), (12, 0), (16, 0), (20, 0)]
            reading.notes.append(f"{multiple.group(0).capitalize()} runs at {_clock(times)}")
    if daily:
        reading.take(daily)
    if weekly:
        reading.take(weekly)
    if not days and weekly:
        days = ["MON"]
        reading.notes.append("No day was given for the weekly run: it runs on Mondays")
    if not (days or daily or multiple or times):
        return None
    if not times:
        times = _default_time(reading)
    elif not (days or daily or multiple):
        reading.notes.append("No day was given: it runs every day")
    minute, hours = _hour_field(times, reading)
    if days and len(days) < 7:
        return (
            f"cron({minute} {hours} ? * {_day_field(days)} *)",
            f"{_days_label(days)} at {_clock(times)}",
        )
    return f"cron({minute} {hours} ? * * *)", f"Every day at {_clock(times)}"


def _default_time(reading: _Reading) -> list[tuple[int, int]]:
    reading.notes.append("No time of day was given: it runs at 09:00")
    return [(9, 0)]


def _rate_reading(reading: _Reading) -> tuple[str, str] | None:
    """`every N minutes/hours/days`, `hourly`, `every half hour` (with an hour or day window)."""
    text = reading.text
    value: int | None = None
    unit = ""
    half = _HALF_HOUR.search(text)
    hourly = _HOURLY.search(text)
    match = _RATE.search(text)
    if half:
        value, unit = 30, "minute"
        reading.take(half)
    elif match and match.group(2).lower().startswith(("sec", "min", "hour", "hr")):
        reading.take(match)
        count = (match.group(1) or "").strip().lower()
        value = 2 if count == "other" else int(number(count) or 1) if count else 1
        unit = match.group(2).lower()
        unit = "minute" if unit.startswith(("sec", "min")) else "hour"
        if match.group(2).lower().startswith("sec"):
            reading.notes.append(
                "EventBridge Scheduler runs at most once a minute: it runs every minute"
            )
            value = 1
    elif hourly:
        value, unit = 1, "hour"
        reading.take(hourly)
    elif match and match.group(2).lower().startswith(("day", "week")):
        count = (match.group(1) or "").strip().lower()
        days_count = 2 if count == "other" else int(number(count) or 1) if count else 1
        if match.group(2).lower().startswith("week"):
            if days_count == 1:
                return None  # "every week": a weekly cron, read by the caller
            days_count *= 7
        if days_count == 1:
            return None  # "every day": a daily cron, read by the caller
        reading.take(match)
        night = bool(re.search(r"\bnight(ly)?\b", text, _FLAGS))
        times = _times(reading, night)
        if times:
            minute, hours = _hour_field(times, reading)
            return (
                f"cron({minute} {hours} */{days_count} * ? *)",
                f"Every {days_count} days at {_clock(times)}",
            )
        return _rate(days_count, "day"), f"Every {days_count} days"
    if value is None:
        return None
    window = _window(reading)
    days = _days(reading)
    if not window and not days:
        label = (
            f"Every {value} {unit}{'' if value == 1 else 's'}" if value != 1 else f"Every {unit}"
        )
        return _rate(value, unit), label
    hours = window or "*"
    day_field = _day_field(days) if days else "*"
    if unit == "minute":
        minute, hour = (f"0/{value}" if value > 1 else "*"), hours
    else:
        minute, hour = (
            "0",
            (
                f"{hours}/{value}"
                if value > 1 and hours != "*"
                else (f"*/{value}" if value > 1 else hours)
            ),
        )
        if hours != "*" and value > 1:
            start, _, end = hours.partition("-")
            hour = f"{start}-{end}/{value}"
    label = f"Every {value} {unit}s" if value > 1 else f"Every {unit}"
    if window:
        start, _, end = window.partition("-")
        label += f" from {int(start):02d}:00 to {int(end):02d}:00"
    if days:
        label += f", {_days_label(days).lower()}"
    return f"cron({minute} {hour} ? * {day_field} *)", label


def _window(reading: _Reading) -> str | None:
    """An hour range ("between 9 and 5", "during business hours") as a cron hour field."""
    text = reading.text
    business = _BUSINESS_HOURS.search(text)
    span = _HOUR_RANGE.search(text)
    if span:
        reading.take(span)
        start, end = int(span.group(1)), int(span.group(3))
        if (span.group(2) or "").lower() == "pm" and start < 12:
            start += 12
        if ((span.group(4) or "").lower() == "pm" and end < 12) or (
            not span.group(4) and end < start
        ):
            end += 12
        return f"{start}-{end}"
    if business:
        reading.take(business)
        reading.notes.append("Business hours are 09:00 to 17:00, Monday to Friday")
        reading.text = text + " weekdays"
        return "9-17"
    return None


def _monthly(reading: _Reading) -> tuple[str, str, str] | None:
    """(day-of-month field, day-of-week field, label) of a monthly schedule."""
    text = reading.text
    nth = _NTH_WEEKDAY.search(text)
    if nth:
        reading.take(nth)
        day = DAY_NAMES[nth.group(2).lower()]
        which = nth.group(1).lower()
        if which == "last":
            return (
                "?",
                f"{WEEK_ORDER.index(day) + 2 if day != 'SUN' else 1}L",
                f"The last {DAY_TITLES[day]} of every month",
            )
        return (
            "?",
            f"{day}#{_ORDINAL_WORDS[which]}",
            f"The {which} {DAY_TITLES[day]} of every month",
        )
    last = _LAST_OF_MONTH.search(text)
    if last:
        reading.take(last)
        return "L", "?", "The last day of every month"
    first = _FIRST_OF_MONTH.search(text)
    if first:
        reading.take(first)
        return "1", "?", "The 1st of every month"
    monthly = _MONTHLY.search(text)
    day_match = _MONTH_DAY.search(text)
    if day_match and (monthly or "month" in day_match.group(0).lower()):
        reading.take(day_match)
        if monthly:
            reading.take(monthly)
        dom = int(next(g for g in day_match.groups() if g))
        if 1 <= dom <= 31:
            return str(dom), "?", f"Day {dom} of every month"
    if monthly:
        reading.take(monthly)
        rate = _RATE.search(text)
        if rate and rate.group(2).lower().startswith("month"):
            reading.take(rate)
        reading.notes.append("No day was given for the monthly run: it runs on the 1st")
        return "1", "?", "The 1st of every month"
    rate = _RATE.search(text)
    if rate and rate.group(2).lower().startswith("month"):
        reading.take(rate)
        reading.notes.append("No day was given for the monthly run: it runs on the 1st")
        return "1", "?", "The 1st of every month"
    return None


def mentioned_times(text: str) -> list[tuple[int, int]]:
    """The times of day `text` names ("at 8", "5:30pm", "noon"), for changing only those."""
    night = bool(re.search(r"\bnight(ly)?\b", text, _FLAGS))
    reading = _Reading(text)
    zone = find_timezone(text)
    if zone is not None:
        reading.spans.append((zone.start, zone.end))
    return _times(reading, night)


def mentioned_days(text: str) -> list[str]:
    """The days of the week `text` names ("every Monday", "weekdays"), for changing only those."""
    return _days(_Reading(text))
