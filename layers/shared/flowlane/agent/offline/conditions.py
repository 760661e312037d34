"""Conditions in words -> `ConditionSpec` (what is tested, how, against what).

"there are more than 10" -> count gt 10; "the deal size exceeds $500" -> field deal_size gt 500;
"it contains 'urgent'" -> text contains urgent; "the site is down" -> status gte 400;
"it's a bug" (after a classification) -> label equals bug. `compose` writes the expression of the
subject over the data the condition follows. The readers are a table, tried in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flowlane.agent.offline.lexicon import NUMBER, number, squash
from flowlane.agent.offline.model import ConditionSpec
from flowlane.nodes.conditions import Operator

_F = re.IGNORECASE
_COMPARATORS: tuple[tuple[str, Operator], ...] = (
    (r"at least|no fewer than|no less than|>=|≥|or more|reach(?:es|ed)?|hits?", "gte"),
    (r"at most|no more than|<=|≤|or fewer|or less", "lte"),
    (
        r"more than|over|above|greater than|higher than|larger than|bigger than|exceeds?|"
        r"exceeding|>",
        "gt",
    ),
    (r"fewer than|less than|under|below|lower than|smaller than|<", "lt"),
    (r"exactly|equal to|equals|==|=", "equals"),
)
_COMPARATOR = "|".join(f"(?:{words})" for words, _ in _COMPARATORS)
_AMOUNT = rf"[$€£]?\s*({NUMBER})\s*(k\b)?(?:\s*(?:[$€£%]|usd|eur|gbp|dollars|euros))?"
_COMPARISON = re.compile(
    rf"(?P<subject>[\w' -]{{0,40}}?)\s*(?:is\s+|are\s+|was\s+|gets\s+|has\s+|"
    rf"have\s+)?(?P<cmp>{_COMPARATOR})\s*{_AMOUNT}"
    rf"(?:\s+(?P<noun>[a-z]+))?",
    _F,
)
_ITEM_NOUNS = frozenset(
    [
        "issues",
        "items",
        "results",
        "orders",
        "errors",
        "rows",
        "messages",
        "articles",
        "leads",
        "tickets",
        "bugs",
        "prs",
        "pull",
        "requests",
        "open",
        "entries",
        "records",
        "posts",
        "emails",
        "users",
        "customers",
        "comments",
        "stories",
        "events",
        "alerts",
        "failures",
        "new",
        "jobs",
        "tasks",
        "products",
        "files",
        "signups",
        "subscribers",
        "deals",
        "invoices",
        "mentions",
        "reviews",
    ]
)
_COUNT_SUBJECTS = re.compile(
    r"(?:there|it|we|they|the list|the number|count|the count|total number|if there|there are|"
    r"there is)",
    _F,
)
_STATUS_DOWN = re.compile(
    r"\b(is|goes|went|are)\s+(down|offline|unreachable|unavailable)\b|\bdown\b|\bfails?\b|\bfailed\b|"
    r"\bfailing\b|\berrors?\b|\bnot (?:ok|200|up|healthy|reachable)\b|\bunhealthy\b|\btimes? out\b",
    _F,
)
_STATUS_UP = re.compile(
    r"\b(is|goes|comes)\s+(back\s+)?(up|online|healthy)\b|\bsucceeds?\b|\brecovers?\b", _F
)
_CONTAINS = re.compile(
    r"(?P<subject>[\w ]{0,30}?)\s*\b(?P<verb>contains?|containing|mentions?|mentioning|includes?|"
    r"including|has the word|have the word|matches|with the word)\s+"
    r"(?:the word\s+|the phrase\s+|"
    r"the keyword\s+)?[\"'\u201c\u2018]?"
    r"(?P<value>[\w$€£#@.-]+(?: [\w$€£#@.-]+){0,3}?)[\"'\u201d\u2019]?(?=\s*(?:$|,|"
    r"\.|;|\bin\b|\bthen\b|\band\b|\bor\b))",
    _F,
)
_EQUALS = re.compile(
    r"(?P<subject>(?:the\s+)?[a-z_]+(?:\s+[a-z_]+)?)\s+(?:is|equals|==|is set to|"
    r"=)\s+(?:not\s+)?(?:an?\s+|the\s+)?[\"'\u201c]?(?P<value>[\w-]+(?: [\w-]+)?)[\"'\u201d]?\s*$",
    _F,
)
_ADJECTIVE = re.compile(
    r"\b(?:it(?:'s| is)|they(?:'re| are)|this is|is|are|marked(?: as)?|classified as|"
    r"labell?ed(?: as)?|categori[sz]ed as|flagged(?: as)?)\s+"
    r"(?:an?\s+|the\s+)?(?P<value>urgent|high[- ]priority|low[- ]priority|critical|important|"
    r"spam|negative|positive|neutral|"
    r"bug|feature(?: request)?|question|billing|refund|complaint|hot|qualified|enterprise|pro|"
    r"vip|p0|p1|high|medium|low)\b",
    _F,
)
_BARE_ADJECTIVE = re.compile(
    r"^\s*(?:for\s+|the\s+)?(?P<value>urgent|high[- ]priority|critical|important|spam|negative|"
    r"positive|bug|hot|qualified|vip|new)\b",
    _F,
)
_WEATHER = re.compile(
    r"\b(rain|raining|snow|snowing|storm|thunderstorm|frost|freezing|sunny|heatwave)\b", _F
)
_ANY = re.compile(
    r"\b(?:there (?:are|is) (?:any|some|new)|any new|any|new (?:ones|items|issues|results)|"
    r"is not empty|isn'?t empty|are not empty)\b",
    _F,
)
_NONE = re.compile(r"\b(?:there (?:are|is) no|no new|nothing new|none|is empty|are empty)\b", _F)
_NEGATION = re.compile(r"\b(not|n't|never)\b", _F)
_STOP_SUBJECT = frozenset(
    [
        "the",
        "a",
        "an",
        "its",
        "it",
        "their",
        "our",
        "my",
        "your",
        "if",
        "when",
        "only",
        "whenever",
        "is",
        "are",
        "was",
        "has",
        "have",
        "of",
        "that",
        "this",
        "there",
        "these",
        "those",
        "and",
        "or",
        "value",
        "total",
        "lead",
        "leads",
    ]
)
_NEGATE: dict[Operator, Operator] = {
    "gt": "lte",
    "gte": "lt",
    "lt": "gte",
    "lte": "gt",
    "equals": "not_equals",
    "not_equals": "equals",
    "contains": "not_contains",
    "not_contains": "contains",
    "is_empty": "is_not_empty",
    "is_not_empty": "is_empty",
    "is_true": "is_false",
    "is_false": "is_true",
}


def field_name(words: str) -> str | None:
    """`the deal size` -> `deal_size`; None when nothing names a field."""
    kept = [w for w in re.findall(r"[a-z][a-z0-9_]*", words.lower()) if w not in _STOP_SUBJECT]
    if not kept:
        return None
    return "_".join(kept[-2:])


def _operator(comparator: str) -> Operator:
    for words, op in _COMPARATORS:
        if re.fullmatch(words, comparator.strip(), _F):
            return op
    return "gt"


def _comparison(text: str, labels: bool) -> ConditionSpec | None:
    match = _COMPARISON.search(text)
    if not match:
        return None
    value = number(match.group(3).replace(" ", "")) if match.group(3) else None
    if value is None:
        return None
    if match.group(4):
        value *= 1000
    op = _operator(match.group("cmp"))
    subject_words = match.group("subject") or ""
    noun = (match.group("noun") or "").lower()
    field = field_name(subject_words)
    right: int | float = int(value) if float(value).is_integer() else value
    subject = subject_words.strip().lower()
    counting = (
        not field
        or bool(_COUNT_SUBJECTS.fullmatch(subject))
        or subject.startswith(("the number of", "number of", "count of"))
    )
    if not counting and noun not in _ITEM_NOUNS:
        return ConditionSpec(words=text, subject="field", field=field, op=op, value=right)
    return ConditionSpec(words=text, subject="count", op=op, value=right)


def _status(text: str, labels: bool) -> ConditionSpec | None:
    if _STATUS_UP.search(text):
        return ConditionSpec(words=text, subject="status", op="lt", value=400)
    if _STATUS_DOWN.search(text):
        return ConditionSpec(words=text, subject="status", op="gte", value=400)
    return None


def _contains(text: str, labels: bool) -> ConditionSpec | None:
    match = _CONTAINS.search(text)
    if not match:
        return None
    value = match.group("value").strip().strip("'\"")
    field = field_name(match.group("subject") or "")
    if field in (None, "there", "message", "it"):
        return ConditionSpec(words=text, subject="text", op="contains", value=value)
    return ConditionSpec(words=text, subject="field", field=field, op="contains", value=value)


def _adjective(text: str, labels: bool) -> ConditionSpec | None:
    match = _ADJECTIVE.search(text) or _BARE_ADJECTIVE.search(text)
    if not match:
        return None
    value = match.group("value").lower().replace(" ", "_").replace("-", "_")
    if value == "new":
        return None
    if labels:
        return ConditionSpec(words=text, subject="label", op="equals", value=value)
    return ConditionSpec(words=text, subject="text", op="contains", value=value.replace("_", " "))


_IS_WORD = re.compile(
    r"^\s*(?:it(?:'s| is)|they(?:'re| are)|this is|that is|the \w+ is)\s+(?:an?\s+|"
    r"the\s+)?(?:about\s+)?(?P<value>[\w-]+)\s*$",
    _F,
)


def _is_label(text: str, labels: bool) -> ConditionSpec | None:
    """After a classification, "if it's sales" tests the label."""
    match = _IS_WORD.search(text)
    if not labels or not match:
        return None
    return ConditionSpec(
        words=text, subject="label", op="equals", value=match.group("value").lower()
    )


def _equals(text: str, labels: bool) -> ConditionSpec | None:
    match = _EQUALS.search(text)
    if not match:
        return None
    field = field_name(match.group("subject"))
    value = match.group("value").strip()
    if not field or field in ("it", "there"):
        return None
    if labels and field in (
        "category",
        "label",
        "type",
        "class",
        "priority",
        "sentiment",
        "team",
        "intent",
    ):
        return ConditionSpec(
            words=text, subject="label", op="equals", value=value.lower().replace(" ", "_")
        )
    return ConditionSpec(words=text, subject="field", field=field, op="equals", value=value)


def _weather(text: str, labels: bool) -> ConditionSpec | None:
    match = _WEATHER.search(text)
    if not match:
        return None
    word = match.group(1).lower()
    stem = {"raining": "rain", "snowing": "snow", "freezing": "frost"}.get(word, word)
    return ConditionSpec(words=text, subject="text", op="contains", value=stem)


def _any(text: str, labels: bool) -> ConditionSpec | None:
    if _NONE.search(text):
        return ConditionSpec(words=text, subject="count", op="equals", value=0)
    if _ANY.search(text):
        return ConditionSpec(words=text, subject="count", op="gt", value=0)
    return None


_READERS: tuple[Callable[[str, bool], ConditionSpec | None], ...] = (
    _comparison,
    _contains,
    _status,
    _adjective,
    _is_label,
    _weather,
    _equals,
    _any,
)


def read_condition(words: str, *, after_classification: bool = False) -> tuple[ConditionSpec, bool]:
    """The condition `words` state, and whether it was understood (else a guess to check)."""
    text = squash(words).strip(" ,.;:")
    negated = bool(re.match(r"^\s*(?:unless|if not|if no\b)", text, _F))
    text = re.sub(
        r"^\s*(?:only\s+)?(?:if|when|whenever|unless|in case|provided that)\s+", "", text, flags=_F
    )
    for reader in _READERS:
        spec = reader(text, after_classification)
        if spec is not None:
            if reader is _equals and _NEGATION.search(text):
                negated = not negated
            if negated:
                spec = spec.model_copy(update={"op": _NEGATE[spec.op]})
            return spec, True
    guess = text.split(" ")[-1] if text else "yes"
    return ConditionSpec(words=text, subject="text", op="contains", value=guess), False
