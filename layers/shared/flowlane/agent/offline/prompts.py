"""What the AI steps are told: system prompts, labels for a classification, fields to extract.

The words of the request stay in every prompt ("Task: ..."), so the model gets the user's own
intent as well as the planner's reading of it.
"""

from __future__ import annotations

import re

from flowlane.agent.offline.lexicon import sentence_case
from flowlane.agent.offline.model import Step, StepKind

_F = re.IGNORECASE

SYSTEM_PROMPTS: dict[StepKind, str] = {
    StepKind.AI_SUMMARISE: (
        "You write short, factual summaries for a busy team: a few bullet points, the most "
        "important first. Never invent facts."
    ),
    StepKind.AI_CLASSIFY: (
        "You classify incoming items so they can be routed automatically. Answer with a single "
        "JSON object and nothing else."
    ),
    StepKind.AI_EXTRACT: (
        "You extract structured data from documents and messages. Answer with a single JSON "
        "object; use null for a value that is not there. Never guess."
    ),
    StepKind.AI_TRANSLATE: (
        "You are a professional translator. Keep the meaning, tone, names, numbers, links and "
        "formatting; answer with the translation only."
    ),
    StepKind.AI_GENERATE: (
        "You are a helpful assistant for a small team. Be clear, concise and friendly, and "
        "never invent facts."
    ),
}
MAX_TOKENS = {
    StepKind.AI_SUMMARISE: 600,
    StepKind.AI_CLASSIFY: 200,
    StepKind.AI_EXTRACT: 800,
    StepKind.AI_TRANSLATE: 1500,
    StepKind.AI_GENERATE: 800,
}

_LABEL_GROUPS = (
    re.compile(r"\{([^{}]{3,200})\}"),
    re.compile(r"\(([^()]{3,200}(?:/|,| or )[^()]{1,200})\)"),
    re.compile(
        r"\b(?:one of|either|into|as)\s+((?:[\w-]+(?:\s+[\w-]+)?\s*(?:,|/|"
        r"\bor\b)\s*){1,6}(?:or\s+)?(?:an?\s+)?[\w-]+)",
        _F,
    ),
)
_DEFAULT_LABELS: tuple[tuple[str, list[str]], ...] = (
    (r"sentiment|positive|negative", ["positive", "neutral", "negative"]),
    (r"spam", ["spam", "not_spam"]),
    (r"priorit|urgen|severity|score|triage", ["high", "medium", "low"]),
    (r"bug|feature|issue", ["bug", "feature", "question"]),
    (r"lead|prospect|icp", ["hot", "warm", "cold"]),
    (r"support|ticket|request|email", ["billing", "technical", "other"]),
)
_FIELD_GROUPS = (
    re.compile(r"[\u2014\u2013-]\s*((?:[\w ]+,\s*){2,}[\w ]+?)\s*[\u2014\u2013-]"),
    re.compile(r"\(((?:[\w ]+,\s*){1,}[\w ]+?)\)"),
    re.compile(
        r"\b(?:fields?|details|data|information|info)\s*(?:such as|like|including|"
        r":)\s*((?:[\w ]+,\s*)+(?:and\s+)?[\w ]+)",
        _F,
    ),
    re.compile(
        r"\b(?:extracts?|pulls? out|"
        r"parses?)\s+(?:the\s+)?((?:[\w ]+,\s*)+(?:and\s+)?[\w ]+?)(?:\s+from|\s*$|\.)",
        _F,
    ),
)
_DEFAULT_FIELDS: tuple[tuple[str, list[str]], ...] = (
    (
        r"invoice|receipt|bill",
        ["vendor", "invoice_number", "invoice_date", "due_date", "total", "currency"],
    ),
    (r"lead|contact|signup|customer", ["name", "email", "company", "phone"]),
    (r"order", ["order_id", "customer", "items", "total"]),
    (r"resume|cv|candidate", ["name", "email", "skills", "years_of_experience"]),
    (r"meeting|event", ["title", "date", "attendees", "action_items"]),
)
_STOP = frozenset(
    {"and", "or", "the", "a", "an", "one", "of", "either", "fallback", "default", "every", "all"}
)


def _snake(words: str) -> str:
    return "_".join(w for w in re.findall(r"[a-z0-9]+", words.lower()) if w not in _STOP)


def labels(words: str) -> list[str]:
    """The labels a classification chooses from (named in the words, else a sensible set)."""
    for pattern in _LABEL_GROUPS:
        match = pattern.search(words)
        if match:
            parts = [_snake(p) for p in re.split(r",|/|\bor\b", match.group(1), flags=_F)]
            found = [p for p in dict.fromkeys(parts) if p and len(p) <= 40]
            if len(found) >= 2:
                return found
    for cue, default in _DEFAULT_LABELS:
        if re.search(cue, words, _F):
            return list(default)
    return ["important", "normal", "ignore"]


def fields(words: str) -> list[str]:
    """The fields an extraction returns (named in the words, else by what is read)."""
    for pattern in _FIELD_GROUPS:
        match = pattern.search(words)
        if match:
            parts = [_snake(p) for p in re.split(r",|\band\b", match.group(1), flags=_F)]
            found = [
                p for p in dict.fromkeys(parts) if p and len(p) <= 40 and not p.startswith("every")
            ]
            if len(found) >= 2:
                return found[:12]
    for cue, default in _DEFAULT_FIELDS:
        if re.search(cue, words, _F):
            return list(default)
    return ["title", "date", "amount", "people", "summary"]


_NEXT_ACTION = re.compile(
    r"\s+(?:and|then|,)\s+(?:then\s+)?(?:post|posts|send|sends|email|emails|notify|share|deliver|add|adds|save|store|"
    r"upload|create|log|forward|publish)\b.*$",
    _F,
)


def task(step: Step) -> str:
    """The request's own words for this step (up to the next action they name)."""
    words = _NEXT_ACTION.sub("", step.words).strip(" ,.;:")
    return sentence_case(words) if words else ""


def prompt(step: Step, noun: str, data_text: str | None, count: str | None) -> str:
    """The prompt of an AI step over the data (`data_text`: a JSONata expression, or None)."""
    data = f"\n\n{{{{ {data_text} }}}}" if data_text else ""
    words = task(step)
    intent = f"Task: {words}\n\n" if words else ""
    kind = step.kind
    if kind is StepKind.AI_SUMMARISE:
        how_many = f"{{{{ {count} }}}} " if count else ""
        return f"{intent}Summarise these {how_many}{noun} in a few short bullet points.{data}"
    if kind is StepKind.AI_CLASSIFY:
        choices = ", ".join(labels(step.words))
        return (
            f"{intent}Classify this {noun} as exactly one of: {choices}. Answer with JSON: "
            f'{{"label": "<one of the labels>", "reason": "<one short sentence>"}}.{data}'
        )
    if kind is StepKind.AI_EXTRACT:
        keys = ", ".join(fields(step.words))
        return (
            f"{intent}Extract these fields from the {noun}: {keys}. Answer with a JSON object with "
            f"exactly these keys (null when a value is missing).{data}"
        )
    if kind is StepKind.AI_TRANSLATE:
        language = str(step.params.get("language", "English"))
        return f"{intent}Translate the following into {language}.{data}"
    return (
        f"{words or 'Write the answer'}.{data}"
        if data
        else (words or "Write a short message for the team.")
    )
