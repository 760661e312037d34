"""FLOW nodes: IF, SWITCH, FILTER, MERGE, LOOP, WAIT (CONTRACT.md sections 3 and 4).

The executor (interpreter or compiled machine) does the flow itself: it follows the port a node
returns, joins branches, runs a LOOP's body per item and waits at a WAIT. These nodes decide:
the port, the items, the wait.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from flowlane.engine.expressions import has_expression
from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node, NodeContext, NodeError, NodeParameters, NodeResult
from flowlane.nodes.conditions import Condition, ConditionGroup, evaluate_group
from flowlane.nodes.registry import register

# A loop's items and a filter's list are held in memory and recorded in node runs.
MAX_ITEMS = 10_000
# A Step Functions Wait is bounded by the execution's one-year limit.
MAX_WAIT_SECONDS = 31_536_000


class IfParameters(NodeParameters):
    conditions: Annotated[list[Condition], Field(min_length=1)]
    combinator: Literal["and", "or"] = "and"


@register
class IfNode(Node[IfParameters]):
    type = NodeType.FLOW
    subtype = "IF"
    title = "If"
    description = "Route the input to `true` or `false` by conditions."
    parameters_model = IfParameters
    outputs = ("true", "false")
    failure_port = "false"
    pure = True

    def run(self, ctx: NodeContext, params: IfParameters) -> NodeResult:
        group = ConditionGroup(conditions=params.conditions, combinator=params.combinator)
        return NodeResult(ctx.input, "true" if evaluate_group(group) else "false")


class SwitchCase(ConditionGroup):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class SwitchParameters(NodeParameters):
    cases: Annotated[list[SwitchCase], Field(min_length=1)]

    @field_validator("cases")
    @classmethod
    def _names(cls, cases: list[SwitchCase]) -> list[SwitchCase]:
        names = [c.name for c in cases]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"case names must be unique: {', '.join(duplicates)}")
        reserved = {"default", "error"} & set(names)
        if reserved:
            raise ValueError(f"{', '.join(sorted(reserved))} is a reserved port name")
        return cases


@register
class SwitchNode(Node[SwitchParameters]):
    type = NodeType.FLOW
    subtype = "SWITCH"
    title = "Switch"
    description = "Route the input to the first case whose conditions match, else `default`."
    parameters_model = SwitchParameters
    outputs = ("default",)
    failure_port = "default"
    pure = True

    def output_ports(self, parameters: Any) -> list[str]:
        cases = parameters.get("cases") if isinstance(parameters, dict) else None
        names = [
            c["name"] for c in cases or [] if isinstance(c, dict) and isinstance(c.get("name"), str)
        ]
        return [*names, "default"]

    def run(self, ctx: NodeContext, params: SwitchParameters) -> NodeResult:
        for case in params.cases:
            if evaluate_group(case):
                return NodeResult(ctx.input, case.name)
        return NodeResult(ctx.input, "default")


def _as_items(value: Any, parameter: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        # JSONata returns a lone value for a one-element sequence: treat it as one item.
        value = [value]
    if len(value) > MAX_ITEMS:
        raise NodeError(
            "VALIDATION_ERROR",
            f"parameter '{parameter}' has {len(value)} items, more than {MAX_ITEMS}",
            {"parameter": parameter},
        )
    items: list[Any] = value
    return items


class FilterParameters(NodeParameters):
    items: Annotated[Any, Field(description="Expression giving the list to filter")] = "{{ input }}"
    conditions: Annotated[list[Any], Field(min_length=1)]
    combinator: Literal["and", "or"] = "and"

    @field_validator("conditions")
    @classmethod
    def _shape(cls, conditions: list[Any]) -> list[Any]:
        # Evaluated per item later; check the shape now, keeping expressions as written.
        for c in conditions:
            Condition.model_validate(
                {k: v for k, v in c.items() if not has_expression(v)} if isinstance(c, dict) else c
            )
        return conditions


@register
class FilterNode(Node[FilterParameters]):
    type = NodeType.FLOW
    subtype = "FILTER"
    title = "Filter"
    description = "Keep the items of a list that match conditions over `item` (and `index`)."
    parameters_model = FilterParameters
    lazy_parameters = frozenset({"conditions"})
    pure = True

    def run(self, ctx: NodeContext, params: FilterParameters) -> NodeResult:
        kept = []
        for index, item in enumerate(_as_items(params.items, "items")):
            resolved = ctx.evaluate(params.conditions, "conditions", {"item": item, "index": index})
            group = ConditionGroup(conditions=resolved, combinator=params.combinator)
            if evaluate_group(group):
                kept.append(item)
        return NodeResult(kept)


class MergeParameters(NodeParameters):
    mode: Literal["append", "merge_objects", "choose_branch"] = "append"
    branch: Annotated[int, Field(ge=0, description="Input index kept by choose_branch")] = 0


@register
class MergeNode(Node[MergeParameters]):
    type = NodeType.FLOW
    subtype = "MERGE"
    title = "Merge"
    description = (
        "Wait for every upstream branch that runs, then combine: append (one list), "
        "merge_objects (one object, later inputs win) or choose_branch (one input's output)."
    )
    parameters_model = MergeParameters
    pure = True

    def run(self, ctx: NodeContext, params: MergeParameters) -> NodeResult:
        inputs = sorted(ctx.inputs, key=lambda i: i.index)
        if params.mode == "append":
            merged: list[Any] = []
            for value in inputs:
                merged.extend(value.value if isinstance(value.value, list) else [value.value])
            return NodeResult(merged)
        if params.mode == "merge_objects":
            combined: dict[str, Any] = {}
            for value in inputs:
                if isinstance(value.value, dict):
                    combined.update(value.value)
                elif value.value is not None:
                    raise NodeError(
                        "VALIDATION_ERROR",
                        f"merge_objects needs objects; input {value.index} from "
                        f"'{value.source}' is {type(value.value).__name__}",
                        {"input": value.index, "source": value.source},
                    )
            return NodeResult(combined)
        chosen = [v for v in inputs if v.index == params.branch]
        # The chosen branch was not taken: nothing to pass on (null), which is not an error.
        return NodeResult(chosen[0].value if chosen else None)


class LoopParameters(NodeParameters):
    items: Annotated[Any, Field(description="Expression giving the list to iterate")] = (
        "{{ input }}"
    )
    max_concurrency: Annotated[int, Field(ge=1, le=40)] = 1


@register
class LoopNode(Node[LoopParameters]):
    type = NodeType.FLOW
    subtype = "LOOP"
    title = "Loop"
    description = (
        "Run the body on port `each` once per item (with `item` and `index`); port `done` "
        "gets the list of body results in item order."
    )
    parameters_model = LoopParameters
    outputs = ("each", "done")
    failure_port = "done"
    pure = True

    def run(self, ctx: NodeContext, params: LoopParameters) -> NodeResult:
        items = _as_items(params.items, "items")
        # The executor runs the body and records the results as this node's output on `done`.
        return NodeResult(items, "each", {"items": items, "concurrency": params.max_concurrency})


class WaitParameters(NodeParameters):
    seconds: Annotated[float | None, Field(ge=0, le=MAX_WAIT_SECONDS)] = None
    until: Annotated[str | None, Field(description="ISO-8601 time; expressions allowed")] = None

    @model_validator(mode="after")
    def _one_of(self) -> WaitParameters:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give exactly one of 'seconds' and 'until'")
        if self.until is not None and not has_expression(self.until):
            _parse_time(self.until)
        return self


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'until' is not an ISO-8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@register
class WaitNode(Node[WaitParameters]):
    type = NodeType.FLOW
    subtype = "WAIT"
    title = "Wait"
    description = "Pause for `seconds` or until a time, then pass the input on."
    parameters_model = WaitParameters
    pure = True

    def run(self, ctx: NodeContext, params: WaitParameters) -> NodeResult:
        if params.seconds is not None:
            return NodeResult(ctx.input, control={"wait_seconds": params.seconds})
        assert params.until is not None  # the model guarantees one of them
        try:
            until = _parse_time(params.until)
        except ValueError as exc:
            raise NodeError("VALIDATION_ERROR", str(exc), {"parameter": "until"}) from None
        # The executor turns the control data into a native wait (a Step Functions Wait).
        return NodeResult(ctx.input, control={"wait_until": until.astimezone(UTC).isoformat()})
