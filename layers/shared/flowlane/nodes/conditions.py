"""Conditions of IF, SWITCH and FILTER (CONTRACT.md section 3).

`{"conditions": [{"left": V, "op": OP, "right": V}], "combinator": "and" | "or"}`. Values arrive
with their expressions resolved. Comparisons are typed the way a user reads them: a number and a
numeric string compare as numbers (a webhook's query string carries "10", not 10); comparing
values that have no order (a list with a number) is an error, not a silent false.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from flowlane.nodes.base import NodeError

Operator = Literal[
    "equals",
    "not_equals",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "matches",
    "exists",
    "not_exists",
    "is_empty",
    "is_not_empty",
    "is_true",
    "is_false",
]
# Operators that read `left` only.
UNARY = frozenset({"exists", "not_exists", "is_empty", "is_not_empty", "is_true", "is_false"})
# Python's re has no time limit: keep patterns and subjects small enough to stay fast.
MAX_PATTERN = 1_000
MAX_SUBJECT = 100_000


class Condition(BaseModel):
    model_config = ConfigDict(extra="ignore")

    left: JsonValue = None
    op: Annotated[Operator, Field(description="The comparison")] = "equals"
    right: JsonValue = None


class ConditionGroup(BaseModel):
    model_config = ConfigDict(extra="ignore")

    conditions: Annotated[list[Condition], Field(min_length=1)]
    combinator: Literal["and", "or"] = "and"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _ordered(left: Any, right: Any, op: str) -> tuple[Any, Any]:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a, b
    if isinstance(left, str) and isinstance(right, str):
        return left, right  # ISO dates and times compare correctly as text
    raise NodeError(
        "CONDITION_ERROR",
        f"cannot compare {_show(left)} with {_show(right)} using {op}",
        {"op": op},
    )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _equal(left: Any, right: Any) -> bool:
    if left == right and type(left) is not bool and type(right) is not bool:
        return True
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right or str(left).lower() == str(right).lower()
    a, b = _number(left), _number(right)
    if a is not None and b is not None and (isinstance(left, str) != isinstance(right, str)):
        return a == b
    return bool(left == right)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _text(item) in container
    if isinstance(container, list):
        return any(_equal(element, item) for element in container)
    if isinstance(container, dict):
        return _text(item) in container
    if container is None:
        return False
    raise NodeError(
        "CONDITION_ERROR",
        f"contains needs text, a list or an object on the left, not {_show(container)}",
        {"op": "contains"},
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _falsy(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _matches(left: Any, pattern: Any) -> bool:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise NodeError(
            "CONDITION_ERROR",
            "matches needs a regular expression (text of at most "
            f"{MAX_PATTERN} characters) on the right",
            {"op": "matches"},
        )
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise NodeError(
            "CONDITION_ERROR", f"invalid regular expression {pattern!r}: {exc}", {"op": "matches"}
        ) from None
    return compiled.search(_text(left)[:MAX_SUBJECT]) is not None


def evaluate_condition(condition: Condition) -> bool:
    left, op, right = condition.left, condition.op, condition.right
    if op == "equals":
        return _equal(left, right)
    if op == "not_equals":
        return not _equal(left, right)
    if op in ("gt", "gte", "lt", "lte"):
        if left is None or right is None:
            return False  # a missing value is not greater or smaller than anything
        a, b = _ordered(left, right, op)
        outcome: bool = {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
        return outcome
    if op == "contains":
        return _contains(left, right)
    if op == "not_contains":
        return not _contains(left, right)
    if op == "starts_with":
        return left is not None and _text(left).startswith(_text(right))
    if op == "ends_with":
        return left is not None and _text(left).endswith(_text(right))
    if op == "matches":
        return left is not None and _matches(left, right)
    if op == "exists":
        return left is not None
    if op == "not_exists":
        return left is None
    if op == "is_empty":
        return _empty(left)
    if op == "is_not_empty":
        return not _empty(left)
    if op == "is_true":
        return _truthy(left)
    return _falsy(left)  # is_false


def evaluate_group(group: ConditionGroup) -> bool:
    results = (evaluate_condition(c) for c in group.conditions)
    return all(results) if group.combinator == "and" else any(results)
