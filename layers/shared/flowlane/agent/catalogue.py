"""Search the node catalogue: the agent's "which nodes could do this?" step.

A lexical ranking (Okapi BM25) over every node template: its id, type, subtype, name and
description, its parameter names, descriptions and enum values (from `parameters_schema`), and a
small hand-written synonym table per node kind, which carries the words people use for what a
node does ("post", "notify" for Slack; "every", "daily" for a schedule). Nothing is downloaded and
no embedding is computed: the catalogue is about twenty templates, and a model reading the
digest does the fine judgement.

Tokens are lower-cased words with punctuation removed, stop words dropped and a light stemming
(plural `s`, `-ing`/`-ed`, a final `e`; summarise/summarize/summary are one stem). Multi-word
synonyms ("pull request", "more than", "every item") are matched as phrases, and the words of a
matched phrase do not also count alone: "every item" is a loop, not a schedule.

The index is built on the first search and kept for the process (the templates do not change
while it runs); a search after that is a few dictionary lookups and a sort of at most twenty
scores. Measured here: about 8 ms to build the index (once the templates are loaded), then 20 µs
for a short query and 50 µs for a long one.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from flowlane.models.node_template import NodeTemplate
from flowlane.models.workflow import NodeType, normalise_node_type
from flowlane.nodes.templates import all_templates

# -- the synonym table ---------------------------------------------------------------------------

# The words people use for what each node does, beyond what its own text says. Phrases are
# matched as phrases. A word listed for several kinds counts for each (BM25 gives it less weight).
_MEMORY_WORDS = (
    "remember",
    "memory",
    "history",
    "dedupe",
    "deduplicate",
    "duplicate",
    "state",
    "persist",
    "across runs",
    "already seen",
)
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "TRIGGER.MANUAL": ("manual", "manually", "on demand", "button", "run now", "by hand"),
    "TRIGGER.WEBHOOK": (
        "webhook",
        "form",
        "submission",
        "submitted",
        "receive",
        "event",
        "incoming",
        "inbound",
        "signup",
        "callback",
    ),
    "TRIGGER.SCHEDULE": (
        "schedule",
        "scheduled",
        "every",
        "daily",
        "weekly",
        "monthly",
        "hourly",
        "nightly",
        "cron",
        "at",
        "morning",
        "evening",
        "night",
        "weekday",
        "weekend",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "day",
        "week",
        "month",
        "hour",
        "minute",
        "recurring",
        "periodically",
        "o clock",
    ),
    "ACTION.SET": ("set", "field", "assign", "variable", "compose", "build", "prepare"),
    "ACTION.TRANSFORM": (
        "transform",
        "reshape",
        "convert",
        "map",
        "compute",
        "calculate",
        "count",
        "sum",
        "total",
        "jsonata",
        "format",
    ),
    "ACTION.HTTP_REQUEST": (
        "fetch",
        "api",
        "url",
        "http",
        "download",
        "rss",
        "feed",
        "rest",
        "get",
        "call",
        "endpoint",
        "website",
        "web page",
        "scrape",
        "retrieve",
        "json",
    ),
    "AI_AGENT.CHAT": (
        "ai",
        "summarise",
        "summarize",
        "summary",
        "classify",
        "categorise",
        "categorize",
        "extract",
        "translate",
        "llm",
        "gpt",
        "chatgpt",
        "claude",
        "openai",
        "anthropic",
        "model",
        "agent",
        "analyse",
        "analyze",
        "sentiment",
        "generate",
        "draft",
        "rewrite",
        "answer",
    ),
    "EXTERNAL_ACTION.SLACK": ("slack", "channel", "post", "message", "notify", "alert", "ping"),
    "EXTERNAL_ACTION.EMAIL": ("email", "mail", "send", "inbox", "ses", "recipient", "newsletter"),
    "EXTERNAL_ACTION.GITHUB": (
        "github",
        "issue",
        "pull request",
        "repo",
        "repository",
        "bug",
        "ticket",
        "comment",
    ),
    "EXTERNAL_ACTION.WEBHOOK": ("webhook", "outgoing", "callback", "zapier", "forward", "push"),
    "FLOW.IF": (
        "if",
        "when",
        "otherwise",
        "else",
        "condition",
        "more than",
        "less than",
        "greater than",
        "at least",
        "unless",
        "whether",
        "check",
    ),
    "FLOW.SWITCH": ("switch", "route", "router", "case", "depending", "depends on", "category"),
    "FLOW.FILTER": ("filter", "keep", "only", "exclude", "drop", "matching", "where", "select"),
    "FLOW.MERGE": ("merge", "combine", "join", "together", "both", "wait for all", "gather"),
    "FLOW.LOOP": (
        "loop",
        "each",
        "every item",
        "iterate",
        "foreach",
        "row",
        "batch",
        "one by one",
        "per item",
        "list",
    ),
    # Durations are schedule words too; "wait" or "delay" next to them decides.
    "FLOW.WAIT": ("wait", "delay", "pause", "sleep", "later", "until", "minute", "hour", "day"),
    "HUMAN_IN_THE_LOOP.APPROVAL": (
        "approve",
        "approval",
        "sign off",
        "manager",
        "review",
        "human",
        "confirm",
        "permission",
        "reject",
    ),
    "TOOL.HTTP_TOOL": ("tool", "function", "look up", "lookup", "function calling"),
    "MEMORY.KEY_VALUE": (*_MEMORY_WORDS, "key", "store", "save", "last", "previous", "counter"),
    "MEMORY.CONVERSATION": (*_MEMORY_WORDS, "conversation", "chat history", "context", "thread"),
}

# How much each part of a template counts: the synonyms and the name say what a node is for;
# parameter text mostly says how.
_WEIGHT_NAME = 3
_WEIGHT_SYNONYM = 3
_WEIGHT_DESCRIPTION = 1
_WEIGHT_PARAMETERS = 1

# Okapi BM25's usual constants.
_K1 = 1.2
_B = 0.75

# -- tokens --------------------------------------------------------------------------------------

_STOP_TEXT = """a an the and or but to of in on for from with by into onto about as is are was were
    be been being it its this that these those my our your their his her me us we i you they them
    he she do does did done please can could would should will shall may might must then than so
    up out some any just also there here what which who whom how want need like make let s t
    have has had via using use new"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_WORD = re.compile(r"[a-z0-9]+")
_SUMMARY = re.compile(r"^summar(?:y|ies|i[sz](?:e|es|ed|ing|ation))$")
# Words the suffix rules would not bring together.
_IRREGULAR = {
    "notification": "notify",
    "notifies": "notify",
    "notified": "notify",
    "emails": "email",
    "emailed": "email",
    "analysis": "analyse",
    "analyze": "analyse",
    "analyzed": "analyse",
    "analyses": "analyse",
    "categorize": "categorise",
    "iteration": "iterate",
    "scheduled": "schedule",
    "sent": "send",
}


def stem(word: str) -> str:
    """A light stemmer: enough that "posts", "posted", "posting" and "post" meet."""
    word = _IRREGULAR.get(word, word)
    if _SUMMARY.match(word):
        return "summar"
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _phrase_token(words: Sequence[str]) -> str:
    return "_".join(stem(w) for w in words)


@cache
def _phrases() -> dict[tuple[str, ...], str]:
    """Every multi-word synonym, as its stemmed words -> its token."""
    found: dict[tuple[str, ...], str] = {}
    for entries in SYNONYMS.values():
        for entry in entries:
            words = _words(entry)
            if len(words) > 1:
                found[tuple(stem(w) for w in words)] = _phrase_token(words)
    return found


@dataclass(frozen=True)
class _Token:
    term: str
    surface: str  # as the text wrote it, for explanations


def _tokens(text: str) -> list[_Token]:
    """Phrases first (their words then do not count alone), then the other non-stop words."""
    words = _words(text)
    stems = [stem(w) for w in words]
    phrases = _phrases()
    longest = max((len(p) for p in phrases), default=1)
    result: list[_Token] = []
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 1, -1):
            token = phrases.get(tuple(stems[i : i + size]))
            if token is not None:
                result.append(_Token(token, " ".join(words[i : i + size])))
                i += size
                break
        else:
            if words[i] not in STOP_WORDS and not words[i].isdigit():
                result.append(_Token(stems[i], words[i]))
            i += 1
    return result


def _terms(text: str) -> list[str]:
    return [t.term for t in _tokens(text)]


# -- the index -----------------------------------------------------------------------------------


def _schema_text(schema: Mapping[str, Any]) -> list[str]:
    """Top-level parameter names, descriptions and enum/const values."""
    parts: list[str] = []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return parts
    for name, prop in properties.items():
        parts.append(str(name))
        if isinstance(prop, Mapping):
            if isinstance(prop.get("description"), str):
                parts.append(prop["description"])
            parts.extend(str(v) for v in _enum_values(prop))
    return parts


def _enum_values(prop: Mapping[str, Any]) -> list[Any]:
    if "const" in prop:
        return [prop["const"]]
    if isinstance(prop.get("enum"), list):
        return list(prop["enum"])
    values: list[Any] = []
    for option in prop.get("anyOf", []):
        if isinstance(option, Mapping):
            values.extend(_enum_values(option))
    return values


def _document(template: NodeTemplate) -> Counter[str]:
    """A template's terms with their (weighted) frequencies."""
    terms: Counter[str] = Counter()

    def add(texts: Iterable[str], weight: int) -> None:
        for text in texts:
            for term in _terms(text):
                terms[term] += weight

    add([template.id, template.type, template.subtype, template.name], _WEIGHT_NAME)
    add(SYNONYMS.get(template.id, ()), _WEIGHT_SYNONYM)
    add([template.description], _WEIGHT_DESCRIPTION)
    add(_schema_text(template.parameters_schema), _WEIGHT_PARAMETERS)
    return terms


@dataclass(frozen=True)
class _Index:
    templates: tuple[NodeTemplate, ...]
    # term -> ((template position, BM25 weight of the term in that template), ...)
    postings: Mapping[str, tuple[tuple[int, float], ...]]


@cache
def _index() -> _Index:
    templates = all_templates()
    documents = [_document(t) for t in templates]
    count = len(documents)
    average = sum(sum(d.values()) for d in documents) / max(count, 1)
    frequency: Counter[str] = Counter(term for d in documents for term in d)
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for position, document in enumerate(documents):
        length = sum(document.values())
        norm = _K1 * (1 - _B + _B * length / average)
        for term, tf in document.items():
            n = frequency[term]
            idf = math.log((count - n + 0.5) / (n + 0.5) + 1)
            postings[term].append((position, idf * tf * (_K1 + 1) / (tf + norm)))
    return _Index(templates, {k: tuple(v) for k, v in postings.items()})


# -- search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueHit:
    template: NodeTemplate
    score: float
    matched: tuple[str, ...]  # the query terms that matched, for explanations


def _type_filter(node_type: str | None) -> str | None:
    if node_type is None:
        return None
    return NodeType(str(normalise_node_type(node_type))).value


def search_catalogue(
    query: str, *, limit: int = 8, node_type: str | None = None
) -> list[CatalogueHit]:
    """The templates that match `query`, best first (ties by template id); only templates that
    match at least one term. `node_type` (e.g. "EXTERNAL_ACTION", "external_action_node") keeps
    one family; an unknown type raises ValueError naming the valid ones."""
    wanted = _type_filter(node_type)
    if limit < 1:
        return []
    index = _index()
    scores: dict[int, float] = defaultdict(float)
    matched: dict[int, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for token in _tokens(query):
        if token.term in seen:
            continue
        seen.add(token.term)
        for position, weight in index.postings.get(token.term, ()):
            scores[position] += weight
            matched[position].append(token.surface)
    hits = [
        CatalogueHit(index.templates[p], round(score, 6), tuple(matched[p]))
        for p, score in scores.items()
        if wanted is None or index.templates[p].type == wanted
    ]
    hits.sort(key=lambda h: (-h.score, h.template.id))
    return hits[:limit]


# -- the digest ----------------------------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"))
        if isinstance(target, Mapping):
            return target
    return schema


def _render_type(schema: Mapping[str, Any], defs: Mapping[str, Any], depth: int = 0) -> str:
    """A JSON Schema as a short type a model reads easily: `"a" | "b"`, `list[string]`, ..."""
    schema = _resolve(schema, defs)
    if "const" in schema:
        return json.dumps(schema["const"])
    if isinstance(schema.get("enum"), list):
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if isinstance(schema.get("anyOf"), list):
        return " | ".join(
            _render_type(o, defs, depth) for o in schema["anyOf"] if isinstance(o, Mapping)
        )
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        inner = _render_type(items, defs, depth) if isinstance(items, Mapping) else "any"
        return f"list[{inner}]"
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties")
        if isinstance(properties, Mapping) and properties and depth < 1:
            fields = ", ".join(
                f"{name}: {_render_type(p, defs, depth + 1)}"
                for name, p in properties.items()
                if isinstance(p, Mapping)
            )
            return "{" + fields + "}"
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and extra:
            return f"object of {_render_type(extra, defs, depth + 1)}"
        return "object"
    return str(kind) if isinstance(kind, str) else "any"


def _render_range(schema: Mapping[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is None and high is None:
        return ""
    return f" {'' if low is None else low}..{'' if high is None else high}"


def _render_parameter(
    name: str, schema: Mapping[str, Any], required: bool, defs: Mapping[str, Any]
) -> str:
    line = f"    - {name}: {_render_type(schema, defs)}{_render_range(schema)}"
    if required:
        line += " (required)"
    elif "default" in schema:
        line += f" = {json.dumps(schema['default'], sort_keys=True)}"
    description = schema.get("description")
    if isinstance(description, str) and description:
        line += f"; {description}"
    return line


def _render_template(template: NodeTemplate) -> list[str]:
    schema = template.parameters_schema
    found = schema.get("$defs")
    defs: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    properties = schema.get("properties")
    required = set(schema.get("required", []))
    lines = [f"{template.id} ({template.name}): {template.description}"]
    if isinstance(properties, Mapping) and properties:
        lines.append("  parameters:")
        lines.extend(
            _render_parameter(name, prop, name in required, defs)
            for name, prop in properties.items()
            if isinstance(prop, Mapping)
        )
    else:
        lines.append("  parameters: none")
    ports = template.ports
    outputs = ", ".join(ports.outputs)
    if ports.dynamic_outputs:
        outputs += " (+ one per case name)"
    lines.append(f"  ports: in {', '.join(ports.inputs) or 'none'}; out {outputs}")
    if template.attachable_as:
        lines.append(f"  attach to an AI agent as: {', '.join(template.attachable_as)}")
    return lines


def catalogue_digest(hits: Sequence[CatalogueHit]) -> str:
    """The templates of `hits` as compact text for an LLM prompt: id, description, parameters
    (type, enum values, range, default or required, description) and ports. Deterministic: the
    same hits give the same text."""
    blocks = ["\n".join(_render_template(hit.template)) for hit in hits]
    return "\n\n".join(blocks)
