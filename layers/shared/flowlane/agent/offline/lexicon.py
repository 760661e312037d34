"""Small word tables shared by the planner's readers: numbers, units, day names, slugs."""

from __future__ import annotations

import re

NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "couple of": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    "forty five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
    "a hundred": 100,
    "half an": 0,  # "half an hour": handled by the unit reader
}
NUMBER = (
    r"(?:\d+(?:[.,]\d+)?|"
    + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
    + r")"
)

UNIT_SECONDS: dict[str, int] = {
    "second": 1,
    "sec": 1,
    "minute": 60,
    "min": 60,
    "hour": 3600,
    "hr": 3600,
    "day": 86_400,
    "week": 604_800,
}
UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)"

DAY_NAMES: dict[str, str] = {
    "monday": "MON",
    "mon": "MON",
    "tuesday": "TUE",
    "tues": "TUE",
    "tue": "TUE",
    "wednesday": "WED",
    "wed": "WED",
    "thursday": "THU",
    "thurs": "THU",
    "thu": "THU",
    "friday": "FRI",
    "fri": "FRI",
    "saturday": "SAT",
    "sat": "SAT",
    "sunday": "SUN",
    "sun": "SUN",
}
WEEK_ORDER = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DAY_TITLES = {
    "MON": "Monday",
    "TUE": "Tuesday",
    "WED": "Wednesday",
    "THU": "Thursday",
    "FRI": "Friday",
    "SAT": "Saturday",
    "SUN": "Sunday",
}
MONTH_NAMES: dict[str, int] = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}


def number(text: str) -> float | None:
    """`"10"` -> 10, `"ten"` -> 10, `"1,5"` -> 1.5; None when it is not a number."""
    word = text.strip().lower()
    if word in NUMBER_WORDS:
        return float(NUMBER_WORDS[word])
    try:
        return float(word.replace(",", "."))
    except ValueError:
        return None


def unit_seconds(unit: str) -> int:
    word = unit.lower().rstrip("s") or unit.lower()
    return UNIT_SECONDS.get(word, UNIT_SECONDS.get(word[:3], 60))


def slug(text: str, limit: int = 40) -> str:
    """Kebab-case, ASCII, at most `limit` characters, cut on a word boundary."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    result = ""
    for word in words:
        candidate = f"{result}-{word}" if result else word
        if len(candidate) > limit:
            break
        result = candidate
    return result or (words[0][:limit] if words else "")


def squash(text: str) -> str:
    """One line, single spaces."""
    return " ".join(text.split())


def sentence_case(text: str) -> str:
    text = squash(text)
    return text[:1].upper() + text[1:]
