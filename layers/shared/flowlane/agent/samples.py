"""Sample data for the agent's dry run: trigger data, and pinned outputs for every node that
would reach outside.

The agent validates and dry-runs what it drafts before saving it. A dry run must not post to
Slack, send mail, call GitHub, an API or an LLM, or write memory: `sample_pins` gives each such
node (every registered subtype that is not `pure`) a sample output as `pin_data`, in the exact
shape the real node returns (see the node modules and CONTRACT.md section 3), so the pure nodes
(SET, TRANSFORM, IF, SWITCH, FILTER, MERGE, LOOP, WAIT, APPROVAL in a dry run) really run and
their expressions are exercised on data shaped like the real thing.

Where a shape is open (a manual trigger's data, a webhook's body and query, an HTTP response's
body, an AI answer's `data`, a GitHub object), the sample also holds every field the workflow's
expressions read from it: `{{ input.body.plan }}` after a webhook puts a `plan` in the sample
body, `item.lines.(qty * price)` in a loop over `input.orders` makes `orders` a list of objects
whose `lines` are a list of objects with numeric `qty` and `price`. The paths are read from the
JSONata syntax tree of each expression and followed back through the graph (`input` is the
upstream output, through IF/SWITCH/WAIT and disabled nodes, which pass it on; `item` is an
element of a LOOP's or FILTER's `items`; `nodes.ID` and `trigger` name their node). Values are
chosen by field name (an `email` looks like an address, a `price` is a number) and by use (an
operand of `*` or `gt` is a number). Everything is deterministic: the same workflow gives the
same samples.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from flowlane.engine.expressions import (
    Expression,
    ExpressionSyntaxError,
    compile_expression,
    parse_template,
)
from flowlane.engine.graph import EACH, WorkflowGraph, is_loop
from flowlane.models.workflow import NodeData, NodeType, WorkflowCreate, WorkflowData
from flowlane.nodes.base import ERROR_PORT, Node
from flowlane.nodes.registry import UnknownNode, lookup

Path = tuple[str, ...]
# What a field is used as, when an expression tells: a number, a boolean, a list.
Hint = str | None
NUMBER, BOOLEAN, LIST = "number", "bool", "list"

# A list in a sample has three items: enough for a loop, a filter and a count to mean something.
LIST_SIZE = 3
SCHEDULED_TIME = "2026-01-05T09:00:00Z"  # a Monday, 9:00
SAMPLE_TIME = SCHEDULED_TIME
SLACK_TS = "1767603600.000100"  # SCHEDULED_TIME as a Slack timestamp
SAMPLE_PROVIDER = "sample"


class _Missing(Enum):
    """Nothing yet at this place of a sample (None is a value a sample may hold)."""

    TOKEN = 0


MISSING = _Missing.TOKEN

# -- leaf values by field name -------------------------------------------------------------------

_PEOPLE = ("Ada Lovelace", "Grace Hopper", "Alan Turing")
# (pattern over the snake_case field name, values by list position). First match wins.
_LEAF_TABLE: tuple[tuple[re.Pattern[str], tuple[Any, ...]], ...] = (
    (
        re.compile(r"(^|_)e?mails?(_address)?$"),
        ("ada@example.com", "grace@example.com", "alan@example.com"),
    ),
    (
        re.compile(r"(^|_)(url|link|href|website|homepage|avatar)$"),
        (
            "https://example.com/items/1",
            "https://example.com/items/2",
            "https://example.com/items/3",
        ),
    ),
    (re.compile(r"(^|_)(day|birthday)$"), ("2026-01-05", "2026-01-06", "2026-01-07")),
    (
        re.compile(r"(_at|(^|_)(time|timestamp|date|datetime|created|updated|deadline|due))$"),
        (SAMPLE_TIME, "2026-01-05T10:30:00Z", "2026-01-06T08:15:00Z"),
    ),
    (re.compile(r"(^|_)(number|num|no)$"), (101, 102, 103)),
    (re.compile(r"(^|_)(id|uuid|key|ref|reference)$"), ("sample-1", "sample-2", "sample-3")),
    (re.compile(r"(^|_)(login|username|handle)$"), ("ada", "grace", "alan")),
    (
        re.compile(
            r"(^|_)(name|full_name|first_name|customer|author|user|owner|assignee|sender"
            r"|requester|contact|person)$"
        ),
        _PEOPLE,
    ),
    (
        re.compile(r"(^|_)(company|organisation|organization|org|account|business)$"),
        ("Initech", "Acme", "Globex"),
    ),
    (
        re.compile(r"(^|_)(price|amount|total|cost|revenue|balance|subtotal|budget|salary|fee)s?$"),
        (120.0, 45.5, 80.0),
    ),
    (
        re.compile(
            r"(^|_)(count|qty|quantity|seats|size|age|score|rating|duration|length|limit|hours"
            r"|minutes|seconds|days|votes|stars|comments|priority|year|month)$"
        ),
        (3, 12, 1),
    ),
    (
        re.compile(r"(^|_)(confidence|probability|ratio|percent|percentage)$"),
        (0.92, 0.75, 0.6),
    ),
    (
        re.compile(
            r"^(is|has|can|should|was)_|(^|_)(ok|active|enabled|done|success|approved|valid"
            r"|verified|paid|urgent)$"
        ),
        (True, False, True),
    ),
    (re.compile(r"(^|_)(status|state)$"), ("open", "open", "closed")),
    (re.compile(r"(^|_)(plan|tier|subscription)$"), ("pro", "enterprise", "free")),
    (re.compile(r"(^|_)(phone|mobile|tel)$"), ("+44 20 7946 0000",)),
    (re.compile(r"(^|_)country$"), ("GB", "FR", "US")),
    (re.compile(r"(^|_)city$"), ("London", "Paris", "Boston")),
    (re.compile(r"(^|_)currency$"), ("EUR", "GBP", "USD")),
    (re.compile(r"(^|_)(lang|language|locale)$"), ("en", "fr", "de")),
    (re.compile(r"(^|_)channel$"), ("#general",)),
)
_NUMBERS = (3, 12, 1)
_BOOLEANS = (True, False, True)
_NOT_PLURAL = re.compile(r"(ss|us|is|news|series|data|details|settings|headers|status)$")


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _is_plural(name: str) -> bool:
    snake = _snake(name)
    return len(snake) > 3 and snake.endswith("s") and not _NOT_PLURAL.search(snake)


def _singular(name: str) -> str:
    if not _is_plural(name):
        return name
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("ches", "shes", "sses", "xes")):
        return name[:-2]
    return name[:-1]


def _pick(values: tuple[Any, ...], index: int | None) -> Any:
    return values[(index or 0) % len(values)]


def _text(name: str, index: int | None) -> str:
    words = _snake(name).replace("_", " ") or "value"
    return f"Sample {words}" if index is None else f"Sample {words} {index + 1}"


def leaf_value(name: str, hint: Hint = None, index: int | None = None) -> Any:
    """A plausible value for a field of this name (and use), the `index`th of a list."""
    if hint == LIST:
        element = _singular(name)
        return [leaf_value(element, None, i) for i in range(LIST_SIZE)]
    snake = _snake(name)
    found: Any = MISSING
    for pattern, values in _LEAF_TABLE:
        if pattern.search(snake):
            found = _pick(values, index)
            break
    if hint == NUMBER and (isinstance(found, bool) or not isinstance(found, int | float)):
        return _pick(_NUMBERS, index)
    if hint == BOOLEAN and not isinstance(found, bool):
        return _pick(_BOOLEANS, index)
    if found is not MISSING:
        return found
    if _is_plural(name):
        return [leaf_value(_singular(name), None, i) for i in range(LIST_SIZE)]
    return _text(name, index)


# -- filling the paths expressions read ----------------------------------------------------------


def _fill(value: Any, keys: Path, hint: Hint, name: str, index: int | None) -> Any:
    """`value` with the place at `keys` made to exist (lists are mapped over, as JSONata does);
    what is already there is kept, and a scalar on the way is left alone."""
    if not keys:
        return leaf_value(name, hint, index) if value is MISSING else value
    key, rest = keys[0], keys[1:]
    if key == "*":
        if value is MISSING or value is None:
            value = [MISSING] * LIST_SIZE
        if isinstance(value, list):
            element = _singular(name)
            return [_fill(v, rest, hint, element, i) for i, v in enumerate(value)]
        return _fill(value, rest, hint, name, index)
    if value is MISSING or value is None:
        # A field read from `orders` means orders is a list of objects.
        value = [MISSING] * LIST_SIZE if _is_plural(name) else {}
    if isinstance(value, dict):
        value[key] = _fill(value.get(key, MISSING), rest, hint, key, index)
        return value
    if isinstance(value, list):
        element = _singular(name)
        return [
            _fill(v, keys, hint, element, i) if isinstance(v, dict | _Missing) else v
            for i, v in enumerate(value)
        ]
    return value


def _fill_all(value: Any, refs: Mapping[Path, Hint], name: str = "") -> Any:
    # Longest paths first, so `orders.*.id` makes `orders` a list before `orders` alone is seen.
    for keys in sorted(refs, key=lambda k: (-len(k), k)):
        if keys:
            value = _fill(value, keys, refs[keys], name, None)
    return None if value is MISSING else value


def _under(refs: Mapping[Path, Hint], prefix: Path) -> dict[Path, Hint]:
    """The references below `prefix`, relative to it."""
    size = len(prefix)
    return {k[size:]: h for k, h in refs.items() if k[:size] == prefix and len(k) > size}


# -- the paths an expression reads ---------------------------------------------------------------

_ROOTS = frozenset({"input", "trigger", "item", "nodes"})
# Children of a jsonata-python syntax tree node (`Parser.Symbol`); a path's steps are read
# apart. Read with getattr: an attribute a version does not have is simply not followed.
_CHILDREN = (
    "arguments",
    "expressions",
    "expression",
    "expr",
    "lhs",
    "rhs",
    "condition",
    "then",
    "_else",
    "lhs_object",
    "rhs_object",
    "body",
    "terms",
    "update",
    "delete",
)
_NUMERIC_OPERATORS = frozenset({"+", "-", "*", "/", "%", "<", "<=", ">", ">="})
_NUMERIC_FUNCTIONS = frozenset(
    {"sum", "average", "max", "min", "round", "floor", "ceil", "abs", "sqrt", "power", "number"}
)
# Condition operators that tell what `left` is.
_NUMERIC_CONDITIONS = frozenset({"gt", "gte", "lt", "lte"})
_BOOLEAN_CONDITIONS = frozenset({"is_true", "is_false"})


class _PathReader:
    """Collects the data paths an expression reads, as (root, key, ...) with "*" for a list
    element, and what the path's value is used as."""

    def __init__(self) -> None:
        self.found: dict[Path, Hint] = {}
        self._seen: set[int] = set()

    def add(self, path: Path, hint: Hint) -> None:
        if path and path[0] in _ROOTS and (path not in self.found or self.found[path] is None):
            self.found[path] = hint

    def walk(self, node: Any, context: Path | None, hint: Hint = None) -> None:
        if isinstance(node, list | tuple):
            for child in node:
                self.walk(child, context, hint)
            return
        if node is None or isinstance(node, str | int | float | bool) or id(node) in self._seen:
            return
        self._seen.add(id(node))
        kind, value = getattr(node, "type", None), getattr(node, "value", None)
        if kind == "path":
            self._path(getattr(node, "steps", None) or [], context, hint)
            self.walk(getattr(node, "group", None), context)
            return
        if kind == "name":
            self._path([node], context, hint)
            return
        child_hint: Hint = None
        if kind in ("binary", "unary") and value in _NUMERIC_OPERATORS:
            child_hint = NUMBER
        if kind == "function":
            procedure = getattr(node, "procedure", None)
            if getattr(procedure, "value", None) in _NUMERIC_FUNCTIONS:
                child_hint = NUMBER
        for attribute in _CHILDREN:
            self.walk(getattr(node, attribute, None), context, child_hint)
        self.walk(getattr(node, "group", None), context)

    def _stages(self, step: Any) -> list[Any]:
        stages = list(getattr(step, "stages", None) or [])
        predicate = getattr(step, "predicate", None)
        if predicate:
            stages.extend(predicate if isinstance(predicate, list) else [predicate])
        return stages

    def _path(self, steps: list[Any], context: Path | None, hint: Hint) -> None:
        if not steps:
            return
        first = steps[0]
        kind, value = getattr(first, "type", None), getattr(first, "value", None)
        keys: list[str]
        if kind == "name" and isinstance(value, str) and (value in _ROOTS or context is None):
            keys, rest = [value], steps[1:]
        elif kind == "name" and isinstance(value, str) and context is not None:
            keys, rest = [*context, value], steps[1:]
        elif kind == "variable" and value == "" and context is not None:
            keys, rest = list(context), steps[1:]  # `$`: the context item itself
        else:
            # `$var.x`, `$f().x`: not data this sampler can follow; read inside it.
            for step in steps:
                self.walk(step, context)
            return
        self._filters(first, keys)
        for step in rest:
            if getattr(step, "type", None) != "name" or not isinstance(step.value, str):
                # `.(qty * price)`, `.{...}`: read relative to what the path reached; the
                # path's own value is then something else, so the hint is not its.
                self.walk(step, tuple(keys))
                self.add(tuple(keys), None)
                return
            keys.append(step.value)
            self._filters(step, keys)
        self.add(tuple(keys), hint)

    def _filters(self, step: Any, keys: list[str]) -> None:
        """Filters `[...]` after a step: the value is a list; read the filters per element."""
        stages = self._stages(step)
        if stages:
            keys.append("*")
            for stage in stages:
                self.walk(getattr(stage, "expr", stage), tuple(keys))


def _read_paths(source: str, hint: Hint) -> dict[Path, Hint]:
    reader = _PathReader()
    try:
        tree = compile_expression(source).ast
    except ExpressionSyntaxError:
        return {}  # validation reports it; a sample cannot help
    reader.walk(tree, None, hint)
    return reader.found


def _expressions(value: Any) -> Iterator[str]:
    """The JSONata sources of the `{{ }}` expressions in a parameter value."""
    if isinstance(value, str):
        if "{{" not in value:
            return
        try:
            parts = parse_template(value).expressions
        except ExpressionSyntaxError:
            return
        yield from (p.source for p in parts)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def _condition_hint(condition: Mapping[str, Any], side: str) -> Hint:
    op = condition.get("op")
    other = condition.get("right" if side == "left" else "left")
    if op in _NUMERIC_CONDITIONS:
        return NUMBER
    if op in _BOOLEAN_CONDITIONS and side == "left":
        return BOOLEAN
    if op in ("equals", "not_equals") and isinstance(other, int | float):
        return BOOLEAN if isinstance(other, bool) else NUMBER
    return None


def _conditions(node: NodeData) -> list[Mapping[str, Any]]:
    """IF's and FILTER's conditions, or those of every SWITCH case."""
    params: Mapping[str, Any] = node.parameters
    groups = params.get("cases") if node.subtype == "SWITCH" else [params]
    found: list[Any] = []
    for group in groups if isinstance(groups, list) else []:
        if isinstance(group, Mapping) and isinstance(group.get("conditions"), list):
            found.extend(group["conditions"])
    return [c for c in found if isinstance(c, Mapping)]


def _node_expressions(node: NodeData) -> Iterator[tuple[str, str, Hint]]:
    """(parameter, JSONata source, hint for a plain path) for every expression of a node."""
    params: Mapping[str, Any] = node.parameters
    flow = node.type is NodeType.FLOW
    for name, value in params.items():
        if flow and name in ("conditions", "cases"):
            continue  # below, with what each side of a condition is compared as
        hint = LIST if flow and name == "items" else None
        if node.subtype == "TRANSFORM" and name == "expression" and isinstance(value, str):
            yield name, _bare(value), None
            continue
        for source in _expressions(value):
            yield name, source, hint
    if flow:
        for condition in _conditions(node):
            for side in ("left", "right"):
                for source in _expressions(condition.get(side)):
                    yield "conditions", source, _condition_hint(condition, side)


def _bare(expression: str) -> str:
    """TRANSFORM's expression is JSONata with or without `{{ }}` around it."""
    text = expression.strip()
    if text.startswith("{{") and text.endswith("}}"):
        try:
            single = parse_template(text).single
        except ExpressionSyntaxError:
            return text
        if single is not None:
            return single.source
    return text


# -- following paths back to the node whose output they read ---------------------------------------

# Nodes whose output is their input (a disabled node passes its input on too).
_PASS_THROUGH = frozenset({"IF", "SWITCH", "WAIT"})
_MAX_HOPS = 64


def _single_path(value: Any) -> Path | None:
    """The path of a parameter that is exactly one `{{ a.b.c }}` (filters allowed)."""
    if not isinstance(value, str):
        return None
    try:
        single = parse_template(value).single
    except ExpressionSyntaxError:
        return None
    if not isinstance(single, Expression):
        return None
    if getattr(compile_expression(single.source).ast, "type", None) != "path":
        return None
    # The path itself is read last, after what its filters read.
    found = list(_read_paths(single.source, None))
    return found[-1] if found else None


class _Analysis:
    """Which fields of which node's output the workflow's expressions read."""

    def __init__(self, workflow: WorkflowData | WorkflowCreate) -> None:
        self.graph = WorkflowGraph(workflow.nodes, workflow.connections)
        self.start = _start_trigger(self.graph)
        self.refs: dict[str, dict[Path, Hint]] = defaultdict(dict)
        for node in workflow.nodes:
            if not node.disabled:
                self._collect(node)

    def _collect(self, node: NodeData) -> None:
        for parameter, source, hint in _node_expressions(node):
            for path, found_hint in _read_paths(source, hint).items():
                target = self._resolve(node, parameter, path, 0)
                if target is None:
                    continue
                root, keys = target
                known = self.refs[root].get(keys)
                self.refs[root][keys] = known or found_hint

    def _resolve(
        self, node: NodeData, parameter: str, path: Path, hops: int
    ) -> tuple[str, Path] | None:
        if hops > _MAX_HOPS:
            return None
        root, keys = path[0], path[1:]
        if root == "trigger":
            return (self.start, keys) if self.start else None
        if root == "nodes":
            return self._output_of(keys[0], keys[1:], hops + 1) if keys else None
        if root == "input":
            return self._input_of(node.id, keys, hops + 1)
        if root == "item":
            if node.subtype == "FILTER" and parameter == "conditions":
                return self._items_of(node, keys, hops + 1)
            loop = self.graph.enclosing_loop.get(node.id)
            if loop is not None:
                return self._items_of(self.graph.nodes[loop], keys, hops + 1)
        return None

    def _output_of(self, node_id: str, keys: Path, hops: int) -> tuple[str, Path] | None:
        node = self.graph.nodes.get(node_id)
        if node is None:
            return None
        flow = node.type is NodeType.FLOW and not node.disabled
        if flow and node.subtype == "FILTER":
            # The kept items are items: a field read from them is a field of every item.
            return self._items_of(node, keys[1:] if keys[:1] == ("*",) else keys, hops + 1)
        if node.disabled or (flow and node.subtype in _PASS_THROUGH):
            return self._input_of(node_id, keys, hops + 1)
        return (node_id, keys)

    def _input_of(self, node_id: str, keys: Path, hops: int) -> tuple[str, Path] | None:
        if node_id in self.graph.attached_only:
            return self._attached_input(node_id, keys, hops + 1)
        edges = [e for e in self.graph.in_edges(node_id) if not self.graph.is_back_edge(e)]
        sources = list(dict.fromkeys(e.source for e in edges))
        if len(sources) > 1:
            # Several upstream outputs arrive as {source_id: output}.
            if not keys or keys[0] not in sources:
                return None
            edges = [e for e in edges if e.source == keys[0]]
            keys = keys[1:]
        if not edges:
            return None
        edge = edges[0]
        if edge.port == ERROR_PORT:
            return None  # {"error": ...}, not the node's sample
        source = self.graph.nodes[edge.source]
        if is_loop(source) and edge.port == EACH:
            return self._items_of(source, keys, hops + 1)
        return self._output_of(edge.source, keys, hops + 1)

    def _attached_input(self, node_id: str, keys: Path, hops: int) -> tuple[str, Path] | None:
        """A memory or model node attached to an agent is evaluated in the agent's context; a
        tool's input is the arguments the model chose, which no sample can follow."""
        for edge in self.graph.attachment_edges:
            if edge.source == node_id and edge.attachment_kind != "ai_tool":
                return self._input_of(edge.target, keys, hops + 1)
        return None

    def _items_of(self, node: NodeData, keys: Path, hops: int) -> tuple[str, Path] | None:
        """An element of a LOOP's or FILTER's `items`."""
        items = _single_path(node.parameters.get("items", "{{ input }}"))
        if items is None:
            return None
        return self._resolve(node, "items", (*items, "*", *keys), hops + 1)


def _start_trigger(graph: WorkflowGraph) -> str | None:
    """The trigger a dry run starts at, as the interpreter chooses it."""
    manual = [t for t in graph.triggers if graph.nodes[t].subtype == "MANUAL"]
    chosen = manual or graph.triggers
    return chosen[0] if chosen else None


# -- parameters as the sample sees them ------------------------------------------------------------


def _literal(value: Any, placeholder: str = "sample") -> Any:
    """A parameter with each `{{ }}` replaced by a placeholder (a sample does not evaluate)."""
    if not isinstance(value, str) or "{{" not in value:
        return value
    try:
        parts = parse_template(value).parts
    except ExpressionSyntaxError:
        return value
    return "".join(p if isinstance(p, str) else placeholder for p in parts)


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    """An enum parameter, or its default (the first allowed) when it is unset or computed."""
    return value if isinstance(value, str) and value in allowed else allowed[0]


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# -- triggers --------------------------------------------------------------------------------------

_SAMPLE_BODY = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "message": "Hello! I would like to know more about your product.",
}
_SAMPLE_HEADERS = {"content-type": "application/json", "user-agent": "flowlane-sample/1.0"}
_WEBHOOK_METHODS = ("POST", "GET", "PUT", "PATCH", "DELETE")


def _webhook_request(node: NodeData, refs: Mapping[Path, Hint]) -> dict[str, Any]:
    body_refs = _under(refs, ("body",))
    body = _fill_all({}, body_refs, "body") if body_refs else dict(_SAMPLE_BODY)
    return {
        "body": body,
        "headers": dict(_SAMPLE_HEADERS),
        "query": _fill_all({}, _under(refs, ("query",)), "query"),
        "method": _choice(str(node.parameters.get("method", "POST")).upper(), _WEBHOOK_METHODS),
    }


def _trigger_data(node: NodeData, refs: Mapping[Path, Hint]) -> Any:
    if node.subtype == "WEBHOOK":
        return _webhook_request(node, refs)
    if node.subtype == "SCHEDULE":
        # The node adds nothing else to a schedule's data: no field to invent.
        return {"scheduled_time": SCHEDULED_TIME}
    # MANUAL (and any other trigger): the data is whatever the workflow reads from it (a list
    # when a LOOP iterates the trigger data itself).
    data = _fill_all(MISSING, refs)
    return {} if data is None else data


# -- outputs of the nodes that reach outside -------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    node: NodeData
    refs: Mapping[Path, Hint]
    analysis: _Analysis


def _http_response(body: Any, content_type: str = "application/json") -> dict[str, Any]:
    return {"status_code": 200, "headers": {"content-type": content_type}, "body": body}


_FEED = re.compile(r"(rss|atom|feed|\.xml)(\b|$)", re.IGNORECASE)
_SAMPLE_FEED = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Sample feed'
    "</title>"
    + "".join(
        f"<item><title>Sample article {n}</title><link>https://example.com/articles/{n}</link>"
        f"<pubDate>Mon, 05 Jan 2026 0{n}:00:00 GMT</pubDate></item>"
        for n in range(1, LIST_SIZE + 1)
    )
    + "</channel></rss>"
)


def _guess_body(method: str, url: str) -> tuple[Any, str]:
    """A plausible response body from the request alone: a list for a collection URL, the
    created object for a POST, an RSS document for a feed."""
    if method == "DELETE":
        return {}, "application/json"
    if method in ("POST", "PUT", "PATCH"):
        return {"id": "sample-1", "status": "ok"}, "application/json"
    if _FEED.search(url):
        return _SAMPLE_FEED, "application/rss+xml"
    segments = [s for s in urlsplit(url).path.split("/") if s]
    last = segments[-1] if segments else "item"
    if _is_plural(last):
        element = _singular(last)
        items = [{"id": i + 1, "name": _text(element, i)} for i in range(LIST_SIZE)]
        return items, "application/json"
    return {"id": 1, "name": _text(last, None), "status": "ok"}, "application/json"


def _http_sample(request: _Request) -> Any:
    params: Mapping[str, Any] = request.node.parameters
    body_refs = _under(request.refs, ("body",))
    if body_refs:
        return _http_response(_fill_all(MISSING, body_refs, "body"))
    method = str(params.get("method") or "GET").upper()
    body, content_type = _guess_body(method, str(_literal(params.get("url")) or ""))
    return _http_response(body, content_type)


def _outgoing_webhook_sample(request: _Request) -> Any:
    body = _fill_all({}, _under(request.refs, ("body",)), "body")
    return {"status_code": 200, "headers": {}, "body": body}


def _slack_sample(request: _Request) -> Any:
    text = _literal(request.node.parameters.get("text")) or ""
    message = {"type": "message", "text": text, "ts": SLACK_TS, "bot_id": "B0123456789"}
    return {"ok": True, "channel": "C0123456789", "ts": SLACK_TS, "message": message}


def _email_sample(request: _Request) -> Any:
    return {"message_id": "0100019b8c1f2a3b-sample-dry-run-000000"}


_ISSUES = (
    ("Crash when saving a draft", "bug", "Saving a draft with an empty title crashes the editor."),
    ("Add dark mode", "enhancement", "The editor should follow the system's dark mode."),
    ("Fix the install link in the docs", "documentation", "The README links to an old page."),
)
_LOGINS = ("ada", "grace", "alan")


def _github_user(index: int) -> dict[str, Any]:
    login = _pick(_LOGINS, index)
    return {
        "login": login,
        "id": 5_000_001 + index,
        "html_url": f"https://github.com/{login}",
        "type": "User",
    }


def _github_issue(
    owner: str, repo: str, index: int, title: str, labels: list[str], body: str, state: str
) -> dict[str, Any]:
    number = 101 + index
    return {
        "id": 1_000_001 + index,
        "number": number,
        "title": title,
        "state": state,
        "labels": [{"id": 7_000_001 + n, "name": name} for n, name in enumerate(labels)],
        "user": _github_user(index),
        "assignees": [],
        "comments": _pick((2, 0, 5), index),
        "body": body,
        "html_url": f"https://github.com/{owner}/{repo}/issues/{number}",
        "url": f"https://api.github.com/repos/{owner}/{repo}/issues/{number}",
        "created_at": _pick((SAMPLE_TIME, "2026-01-04T16:20:00Z", "2026-01-02T11:05:00Z"), index),
        "updated_at": SAMPLE_TIME,
    }


def _github_sample(request: _Request) -> Any:
    params: Mapping[str, Any] = request.node.parameters
    owner = params.get("owner") if isinstance(params.get("owner"), str) else None
    repo = params.get("repo") if isinstance(params.get("repo"), str) else None
    owner = _literal(owner or "octo-org", "sample")
    repo = _literal(repo or "sample-repo", "sample")
    operation = _choice(params.get("operation"), ("create_issue", "list_issues", "add_comment"))
    labels = [str(_literal(x)) for x in params.get("labels") or [] if isinstance(x, str)]
    if operation == "list_issues":
        state = _choice(params.get("state"), ("open", "closed", "all"))
        count = min(LIST_SIZE, _int(params.get("per_page"), LIST_SIZE))
        issues = [
            _github_issue(
                owner,
                repo,
                i,
                title,
                labels or [label],
                body,
                "open" if state == "all" else state,
            )
            for i, (title, label, body) in enumerate(_ISSUES[:count])
        ]
        return _fill_all(issues, request.refs)
    if operation == "create_issue":
        title = str(_literal(params.get("title")) or _ISSUES[0][0])
        body = str(_literal(params.get("body")) or "")
        issue = _github_issue(owner, repo, 0, title, labels, body, "open")
        issue["assignees"] = [
            {"login": str(_literal(a))} for a in params.get("assignees") or [] if isinstance(a, str)
        ]
        return _fill_all(issue, request.refs)
    number = _int(params.get("issue_number"), 101)
    comment = {
        "id": 2_000_001,
        "body": str(_literal(params.get("body")) or ""),
        "user": _github_user(0),
        "html_url": f"https://github.com/{owner}/{repo}/issues/{number}#issuecomment-2000001",
        "issue_url": f"https://api.github.com/repos/{owner}/{repo}/issues/{number}",
        "created_at": SAMPLE_TIME,
        "updated_at": SAMPLE_TIME,
    }
    return _fill_all(comment, request.refs)


# What a prompt may say about the answer it wants: quoted JSON keys (`"label":`), a brace list
# of names (`{label, confidence}`), "fields a, b and c", and labels ("one of bug, feature or
# question", "as positive, negative or neutral").
_QUOTED_KEY = re.compile(r"[\"'`]([A-Za-z_][A-Za-z0-9_]{0,40})[\"'`]\s*:")
_BRACE_KEYS = re.compile(r"\{\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)+)\s*\}")
_NAMED_KEYS = re.compile(
    r"\b(?:fields?|keys?|properties)\s*:?\s*([A-Za-z_]\w*(?:\s*(?:,|\band\b)\s*[A-Za-z_]\w*)+)"
)
_LABEL_WORD = r"[\"'`]?[\w-]+[\"'`]?"
# "a, b or c", "a or b", "a/b/c": an alternative, not any list ("as JSON, briefly")...
_ALTERNATIVES = (
    rf"{_LABEL_WORD}(?:\s*,\s*{_LABEL_WORD})*,?\s+or\s+{_LABEL_WORD}"
    rf"|{_LABEL_WORD}(?:/{_LABEL_WORD})+"
)
# ... except after "one of", where a plain list is one ("exactly one of: a, b, c").
_LABELS = re.compile(
    rf"\bone of\s*:?\s*({_ALTERNATIVES}|{_LABEL_WORD}(?:\s*,\s*{_LABEL_WORD})+)"
    rf"|\b(?:either|as|is it|whether it is)\s*:?\s*({_ALTERNATIVES})",
    re.IGNORECASE,
)
_LABEL_KEYS = ("label", "category", "class", "classification", "sentiment", "intent", "type")


def _names(listed: str) -> list[str]:
    return [w.strip("\"'` ") for w in re.split(r",|/|\bor\b|\band\b", listed) if w.strip("\"'` ")]


def _answer_data(texts: list[str], refs: Mapping[Path, Hint]) -> dict[str, Any]:
    """The JSON answer a prompt asks for: the fields it names (a label field holds its first
    label), then whatever the workflow reads from `data`."""
    text = "\n".join(texts)
    keys: list[str] = []
    for pattern in (_QUOTED_KEY, _BRACE_KEYS, _NAMED_KEYS):
        for match in pattern.finditer(text):
            keys.extend(_names(match.group(1)))
    labels_match = _LABELS.search(text)
    listed = labels_match.group(1) or labels_match.group(2) if labels_match else None
    labels = _names(listed) if listed else []
    data: dict[str, Any] = {}
    for key in dict.fromkeys(keys):
        data[key] = labels[0] if labels and key in _LABEL_KEYS else leaf_value(key)
    if labels and not any(k in data for k in _LABEL_KEYS):
        data["label"] = labels[0]
    data = _fill_all(data, refs, "data")
    return data or {"result": "Sample result"}


def _tool_calls(request: _Request) -> list[dict[str, Any]]:
    """One call of each attached tool, so what reads `tool_calls` finds the tools' names."""
    from flowlane.nodes.ai_agent import tool_name

    graph = request.analysis.graph
    calls = []
    for tool_id in graph.attachments.get(request.node.id, {}).get("ai_tool", []):
        tool = graph.nodes[tool_id]
        if tool.disabled:
            continue
        params: Mapping[str, Any] = tool.parameters
        raw = params.get("name")
        schema = params.get("input_schema")
        properties = schema.get("properties") if isinstance(schema, Mapping) else None
        arguments = {
            str(k): leaf_value(str(k), NUMBER if _is_number(v) else None)
            for k, v in (properties.items() if isinstance(properties, Mapping) else [])
        }
        result = _node_sample(tool, request.analysis)
        calls.append(
            {
                "name": tool_name(raw if isinstance(raw, str) else tool_id),
                "arguments": arguments,
                "result": result,
            }
        )
    return calls


def _is_number(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") in ("number", "integer")


def _chat_sample(request: _Request) -> Any:
    params: Mapping[str, Any] = request.node.parameters
    texts = [
        str(_literal(params.get(name), ""))
        for name in ("system_prompt", "prompt")
        if isinstance(params.get(name), str)
    ]
    model = params.get("model")
    json_output = params.get("output_format") == "json"
    data = _answer_data(texts, _under(request.refs, ("data",))) if json_output else None
    text = (
        json.dumps(data, ensure_ascii=False)
        if json_output
        else f"[sample] A sample answer from '{request.node.name}' for the dry run."
    )
    return {
        "text": text,
        "data": data,
        "provider": SAMPLE_PROVIDER,
        "model": model if isinstance(model, str) and model and "{{" not in model else "sample",
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "tool_calls": _tool_calls(request),
    }


def _key_value_sample(request: _Request) -> Any:
    params: Mapping[str, Any] = request.node.parameters
    operation = _choice(params.get("operation"), ("get", "set", "delete", "append"))
    raw = params.get("value")
    # A stored value is unknown (null, as for a key never set); what a set or an append
    # writes is known when it holds no expression.
    literal = None if next(_expressions(raw), None) is not None else raw
    value: Any = None
    if operation == "set":
        value = literal
    elif operation == "append":
        value = [] if literal is None else [literal]
    return {"key": str(_literal(params.get("key")) or "sample-key"), "value": value}


def _conversation_sample(request: _Request) -> Any:
    params: Mapping[str, Any] = request.node.parameters
    if params.get("operation") != "append":
        return {"messages": []}
    given = params.get("message")
    items = given if isinstance(given, list) else [] if given is None else [given]
    messages = []
    for item in items:
        if isinstance(item, str):
            messages.append({"role": "user", "content": str(_literal(item))})
        elif isinstance(item, Mapping) and isinstance(item.get("content"), str):
            role = _choice(item.get("role"), ("user", "assistant", "system"))
            messages.append({"role": role, "content": str(_literal(item["content"]))})
    return {"messages": messages}


def _generic_sample(request: _Request) -> Any:
    # A subtype added after this table: its shape is unknown, so the sample is what is read.
    data = _fill_all(MISSING, request.refs)
    return {} if data is None else data


_SAMPLERS: Mapping[tuple[NodeType, str], Callable[[_Request], Any]] = {
    (NodeType.ACTION, "HTTP_REQUEST"): _http_sample,
    (NodeType.TOOL, "HTTP_TOOL"): _http_sample,
    (NodeType.EXTERNAL_ACTION, "WEBHOOK"): _outgoing_webhook_sample,
    (NodeType.EXTERNAL_ACTION, "SLACK"): _slack_sample,
    (NodeType.EXTERNAL_ACTION, "EMAIL"): _email_sample,
    (NodeType.EXTERNAL_ACTION, "GITHUB"): _github_sample,
    (NodeType.AI_AGENT, "CHAT"): _chat_sample,
    (NodeType.MEMORY, "KEY_VALUE"): _key_value_sample,
    (NodeType.MEMORY, "CONVERSATION"): _conversation_sample,
}


def _node_sample(node: NodeData, analysis: _Analysis) -> Any:
    sampler = _SAMPLERS.get((node.type, node.subtype or ""), _generic_sample)
    return sampler(_Request(node, analysis.refs.get(node.id, {}), analysis))


def _definition(node: NodeData) -> Node[Any] | None:
    try:
        return lookup(node.type, node.subtype)
    except UnknownNode:
        return None  # validation reports it; the dry run fails on it, as it should


def needs_pin(node: NodeData) -> bool:
    """Whether a dry run must not run this node: it reaches outside (every registered subtype
    that is not pure). Triggers only present their data; disabled nodes pass it on."""
    if node.disabled or node.type is NodeType.TRIGGER:
        return False
    definition = _definition(node)
    return definition is not None and not definition.pure


# -- the API -------------------------------------------------------------------------------------


def sample_trigger_data(workflow: WorkflowData | WorkflowCreate) -> Any:
    """Trigger data for a dry run, for the trigger the run starts at: MANUAL → an object with
    the fields the workflow reads (`{}` when it reads none); WEBHOOK → `{body, headers, query,
    method}`; SCHEDULE → `{scheduled_time}`."""
    analysis = _Analysis(workflow)
    if analysis.start is None:
        return {}
    node = analysis.graph.nodes[analysis.start]
    return _trigger_data(node, analysis.refs.get(node.id, {}))


def sample_pins(workflow: WorkflowData | WorkflowCreate) -> dict[str, Any]:
    """Node id → sample output for every enabled node with side effects or outside calls
    (EXTERNAL_ACTION.*, ACTION.HTTP_REQUEST, AI_AGENT.CHAT, TOOL.HTTP_TOOL, MEMORY.*), in the
    shape the real node returns. Nodes of an unknown subtype are left for the dry run to fail."""
    analysis = _Analysis(workflow)
    return {node.id: _node_sample(node, analysis) for node in workflow.nodes if needs_pin(node)}
