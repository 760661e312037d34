"""Time zones named in words: cities, abbreviations, IANA names.

A schedule's zone must be an IANA name (EventBridge Scheduler and `flowlane.engine.schedule`
refuse anything else), so every way people name a zone maps to one here. Abbreviations stand
for the zone people mean, daylight saving included: "EST" in a request means New York time all
year, not a fixed UTC-5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowlane.engine.schedule import ScheduleError, parse_timezone

CITY_ZONES: dict[str, str] = {
    "paris": "Europe/Paris",
    "france": "Europe/Paris",
    "london": "Europe/London",
    "uk": "Europe/London",
    "berlin": "Europe/Berlin",
    "germany": "Europe/Berlin",
    "munich": "Europe/Berlin",
    "madrid": "Europe/Madrid",
    "spain": "Europe/Madrid",
    "barcelona": "Europe/Madrid",
    "rome": "Europe/Rome",
    "milan": "Europe/Rome",
    "italy": "Europe/Rome",
    "amsterdam": "Europe/Amsterdam",
    "brussels": "Europe/Brussels",
    "zurich": "Europe/Zurich",
    "geneva": "Europe/Zurich",
    "vienna": "Europe/Vienna",
    "stockholm": "Europe/Stockholm",
    "oslo": "Europe/Oslo",
    "copenhagen": "Europe/Copenhagen",
    "helsinki": "Europe/Helsinki",
    "warsaw": "Europe/Warsaw",
    "prague": "Europe/Prague",
    "dublin": "Europe/Dublin",
    "lisbon": "Europe/Lisbon",
    "athens": "Europe/Athens",
    "istanbul": "Europe/Istanbul",
    "moscow": "Europe/Moscow",
    "kyiv": "Europe/Kyiv",
    "tokyo": "Asia/Tokyo",
    "japan": "Asia/Tokyo",
    "seoul": "Asia/Seoul",
    "singapore": "Asia/Singapore",
    "hong kong": "Asia/Hong_Kong",
    "shanghai": "Asia/Shanghai",
    "beijing": "Asia/Shanghai",
    "china": "Asia/Shanghai",
    "taipei": "Asia/Taipei",
    "bangkok": "Asia/Bangkok",
    "jakarta": "Asia/Jakarta",
    "manila": "Asia/Manila",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata",
    "india": "Asia/Kolkata",
    "dubai": "Asia/Dubai",
    "tel aviv": "Asia/Jerusalem",
    "sydney": "Australia/Sydney",
    "melbourne": "Australia/Melbourne",
    "brisbane": "Australia/Brisbane",
    "perth": "Australia/Perth",
    "auckland": "Pacific/Auckland",
    "new zealand": "Pacific/Auckland",
    "new york": "America/New_York",
    "nyc": "America/New_York",
    "boston": "America/New_York",
    "miami": "America/New_York",
    "toronto": "America/Toronto",
    "montreal": "America/Toronto",
    "chicago": "America/Chicago",
    "dallas": "America/Chicago",
    "austin": "America/Chicago",
    "denver": "America/Denver",
    "phoenix": "America/Phoenix",
    "los angeles": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "vancouver": "America/Vancouver",
    "mexico city": "America/Mexico_City",
    "sao paulo": "America/Sao_Paulo",
    "são paulo": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires",
    "bogota": "America/Bogota",
    "lima": "America/Lima",
    "johannesburg": "Africa/Johannesburg",
    "cape town": "Africa/Johannesburg",
    "cairo": "Africa/Cairo",
    "lagos": "Africa/Lagos",
    "nairobi": "Africa/Nairobi",
}

# Abbreviations and zone words, matched as whole words (case-insensitive).
ABBREVIATION_ZONES: dict[str, str] = {
    "utc": "UTC",
    "gmt": "Europe/London",
    "bst": "Europe/London",
    "cet": "Europe/Paris",
    "cest": "Europe/Paris",
    "central european": "Europe/Paris",
    "eet": "Europe/Athens",
    "eest": "Europe/Athens",
    "est": "America/New_York",
    "edt": "America/New_York",
    "eastern": "America/New_York",
    "et": "America/New_York",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "central": "America/Chicago",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "mountain": "America/Denver",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pacific": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    "sgt": "Asia/Singapore",
    "ist": "Asia/Kolkata",
    "aest": "Australia/Sydney",
    "aedt": "Australia/Sydney",
    "nzst": "Pacific/Auckland",
    "nzdt": "Pacific/Auckland",
}
# Words that name a zone only next to "time" ("Central time"), never alone.
_NEEDS_TIME_WORD = frozenset({"central", "eastern", "mountain", "pacific", "et", "pt"})

_IANA = re.compile(
    r"\b((?:Africa|America|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Za-z_]+(?:/[A-Za-z_]+)?)\b"
)
_CITY_WORDS = "|".join(sorted((re.escape(c) for c in CITY_ZONES), key=len, reverse=True))
# "Paris time", "in Tokyo", "(Berlin)", "Berlin timezone"; a city alone is usually a place, not
# a time ("weather in Paris"), so it needs a time cue next to it or an "in"/"at" after a time.
_CITY_TIME = re.compile(
    rf"\b({_CITY_WORDS})(?:'s)?\s+(?:local\s+)?(?:time|timezone|time zone|hours?)\b"
)
_IN_CITY = re.compile(
    rf"(?:\d|am|pm|morning|evening|night|noon|midnight)\s*(?:,\s*)?(?:in|at|for)\s+({_CITY_WORDS})\b"
)
_ZONE_WORDS = "|".join(sorted((re.escape(a) for a in ABBREVIATION_ZONES), key=len, reverse=True))
_ABBREVIATION = re.compile(rf"\b({_ZONE_WORDS})\b(\s+(?:time|timezone|time zone))?")


@dataclass(frozen=True)
class ZoneMatch:
    zone: str
    start: int
    end: int
    words: str


def find_timezone(text: str) -> ZoneMatch | None:
    """The time zone the text names, if any (first found: IANA name, city, abbreviation)."""
    match = _IANA.search(text)
    if match and _valid(match.group(1)):
        return ZoneMatch(match.group(1), match.start(), match.end(), match.group(0))
    lowered = text.lower()
    for pattern in (_CITY_TIME, _IN_CITY):
        found = pattern.search(lowered)
        if found:
            zone = CITY_ZONES[found.group(1)]
            return ZoneMatch(zone, found.start(1), found.end(), found.group(0))
    for found in _ABBREVIATION.finditer(lowered):
        word = found.group(1)
        if word in _NEEDS_TIME_WORD and not found.group(2):
            continue
        # "ET" and "PT" are common words only in upper case: "9am ET", not "set", "pt".
        original = text[found.start(1) : found.end(1)]
        if (
            len(word) <= 4
            and word not in ("utc", "gmt")
            and not original.isupper()
            and not found.group(2)
        ):
            continue
        return ZoneMatch(ABBREVIATION_ZONES[word], found.start(), found.end(), found.group(0))
    return None


def _valid(name: str) -> bool:
    try:
        parse_timezone(name)
    except ScheduleError:
        return False
    return True


def zone_label(zone: str) -> str:
    """`Europe/Paris` -> `Paris` (for node names)."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")
