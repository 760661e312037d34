"""`{{ JSONata }}` expressions in node parameters (CONTRACT.md section 3).

A string that is exactly one `{{ EXPR }}` takes the expression's raw JSON value; any other string
with expressions becomes text, each result rendered in place. Expressions are evaluated with
`jsonata-python` over the context object `{input, nodes, trigger, item, index, execution,
workflow}`, bounded in time and depth (its timebox) and in the size of what they build. Nothing
else is ever evaluated: JSONata has no access to Python.

Parsed expressions are cached: parsing is most of the cost, and the same parameter is evaluated
once per item in a loop.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flowlane.nodes.base import NodeError

if TYPE_CHECKING:
    from flowlane.config import EngineSettings

OPEN, CLOSE = "{{", "}}"
# Deep enough for any sane expression, shallow enough to stop a runaway recursion before
# Python's own stack does.
MAX_DEPTH = 200


class ExpressionSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    """A parameter string split into literal text and expressions."""

    parts: tuple[str | Expression, ...]

    @property
    def single(self) -> Expression | None:
        """The expression, when the whole string (trimmed) is exactly one."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Expression):
            return self.parts[0]
        return None

    @property
    def expressions(self) -> list[Expression]:
        return [p for p in self.parts if isinstance(p, Expression)]


@dataclass(frozen=True)
class Expression:
    source: str


def has_expression(value: Any) -> bool:
    return isinstance(value, str) and OPEN in value


def _scan(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each `{{ ... }}`, end after the closing braces.

    A `}}` inside a JSONata string literal, a backtick name or a nested object constructor does
    not close the expression, so `{{ {"a": {"b": 1}} }}` is one expression.
    """
    i, n = 0, len(text)
    while True:
        start = text.find(OPEN, i)
        if start < 0:
            return
        j = start + 2
        depth = 0
        quote: str | None = None
        while j < n:
            ch = text[j]
            if quote:
                if ch == "\\" and quote != "`":
                    j += 2
                    continue
                if ch == quote:
                    quote = None
            elif ch in "\"'`":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0 and text.startswith(CLOSE, j):
                    break
                depth -= 1
            j += 1
        else:
            raise ExpressionSyntaxError(f"unclosed '{{{{' at character {start}")
        yield start, j + 2
        i = j + 2


@lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    parts: list[str | Expression] = []
    pos = 0
    stripped = text.strip()
    for start, end in _scan(text):
        if start > pos:
            parts.append(text[pos:start])
        source = text[start + 2 : end - 2].strip()
        if not source:
            raise ExpressionSyntaxError("empty expression '{{ }}'")
        compile_expression(source)  # raises on a syntax error
        parts.append(Expression(source))
        pos = end
    if pos < len(text):
        parts.append(text[pos:])
    # "  {{ x }}  " is still one expression: surrounding blanks would be an accident of typing.
    if stripped != text and len(parts) > 1:
        inner = [p for p in parts if not (isinstance(p, str) and not p.strip())]
        if len(inner) == 1 and isinstance(inner[0], Expression):
            return Template((inner[0],))
    return Template(tuple(parts))


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Any:
    import jsonata

    try:
        return jsonata.Jsonata(source)
    except Exception as exc:  # jsonata raises JException (a RuntimeError) on syntax errors
        raise ExpressionSyntaxError(_message(exc)) from None


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def syntax_errors(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(parameter path, message) for every expression in a raw value that does not parse."""
    found: list[tuple[str, str]] = []
    for where, text in _strings(value, path):
        if OPEN not in text:
            continue
        try:
            parse_template(text)
        except ExpressionSyntaxError as exc:
            found.append((where, str(exc)))
    return found


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def evaluate(source: str, scope: Mapping[str, Any], settings: EngineSettings) -> Any:
    """Evaluate one JSONata expression; raises ExpressionSyntaxError or ValueError."""
    expr = compile_expression(source)
    frame = expr.create_frame()
    frame.set_runtime_bounds(settings.expression_timeout_ms, MAX_DEPTH)
    try:
        result = expr.evaluate(dict(scope), frame)
    except RecursionError:
        raise ValueError("expression recursed too deeply") from None
    except Exception as exc:  # JException carries JSONata's own message (e.g. D1012 timeout)
        raise ValueError(_message(exc)) from None
    result = _plain(result)
    size = len(json.dumps(result, default=str))
    if size > settings.expression_max_bytes:
        raise ValueError(
            f"expression built {size} bytes, more than the limit of {settings.expression_max_bytes}"
        )
    return result


def _plain(value: Any) -> Any:
    """JSONata's sequences and numbers as plain JSON values (an integral float becomes an int,
    as JSON has one number type and users expect `2` not `2.0`)."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | bool):
        return value
    # Anything else is a JSONata function or a regex object: `{{ $uppercase }}` without a call.
    raise ValueError("the expression gives a function, not a JSON value (call it with ( ))")


def render(value: Any) -> str:
    """An expression result as text: strings as they are, undefined as nothing, else JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def resolve(value: Any, scope: Mapping[str, Any], parameter: str, settings: EngineSettings) -> Any:
    """Resolve every expression inside a parameter value (nested objects and lists too).

    Raises NodeError EXPRESSION_ERROR naming the parameter (its path, e.g. `values.total`).
    """
    if isinstance(value, str):
        if OPEN not in value:
            return value
        try:
            template = parse_template(value)
            single = template.single
            if single is not None:
                return evaluate(single.source, scope, settings)
            pieces = [
                part if isinstance(part, str) else render(evaluate(part.source, scope, settings))
                for part in template.parts
            ]
        except (ExpressionSyntaxError, ValueError) as exc:
            raise NodeError(
                "EXPRESSION_ERROR",
                f"parameter '{parameter}': {exc}",
                {"parameter": parameter, "expression": value[:500]},
            ) from None
        text = "".join(pieces)
        if len(text) > settings.expression_max_bytes:
            raise NodeError(
                "EXPRESSION_ERROR",
                f"parameter '{parameter}': the text built is larger than "
                f"{settings.expression_max_bytes} bytes",
                {"parameter": parameter},
            )
        return text
    if isinstance(value, Mapping):
        return {
            key: resolve(item, scope, f"{parameter}.{key}", settings) for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            resolve(item, scope, f"{parameter}[{index}]", settings)
            for index, item in enumerate(value)
        ]
    return value


# `nodes.fetch`, `nodes.`fetch-issues``: the upstream outputs an expression reads, so an executor
# loads only those. `nodes[...]` or `$lookup(nodes, ...)` read any node: None means "all".
_NODE_REF = re.compile(r"\bnodes\s*\.\s*(`[^`]+`|[A-Za-z_$][\w$]*)")
_ANY_NODE = re.compile(r"\bnodes\b(?!\s*\.\s*(`[^`]+`|[A-Za-z_$][\w$]*))")


def referenced_nodes(values: Any) -> set[str] | None:
    """Ids of the nodes whose outputs the expressions in `values` read (None: any of them)."""
    ids: set[str] = set()
    for _, text in _strings(values, ""):
        if OPEN not in text or "nodes" not in text:
            continue
        try:
            sources = [e.source for e in parse_template(text).expressions]
        except ExpressionSyntaxError:
            continue
        for source in sources:
            if _ANY_NODE.search(source):
                return None
            ids.update(m.strip("`") for m in _NODE_REF.findall(source))
    return ids
