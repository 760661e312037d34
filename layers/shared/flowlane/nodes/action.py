"""ACTION nodes: SET, TRANSFORM, HTTP_REQUEST (the last in `flowlane.nodes.http`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, JsonValue, field_validator

from flowlane.engine.expressions import (
    CLOSE,
    OPEN,
    ExpressionSyntaxError,
    parse_template,
)
from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node, NodeContext, NodeError, NodeParameters, NodeResult
from flowlane.nodes.registry import register


class SetParameters(NodeParameters):
    values: Annotated[
        dict[str, JsonValue], Field(description="key -> value or {{ expression }}")
    ] = Field(default_factory=dict)
    keep_input: Annotated[bool, Field(description="Start from the input object")] = False


@register
class SetNode(Node[SetParameters]):
    type = NodeType.ACTION
    subtype = "SET"
    title = "Set"
    description = "Build an object from values and expressions (optionally on top of the input)."
    parameters_model = SetParameters
    pure = True

    def run(self, ctx: NodeContext, params: SetParameters) -> NodeResult:
        base = dict(ctx.input) if params.keep_input and isinstance(ctx.input, dict) else {}
        base.update(params.values)
        return NodeResult(base)


def _bare(expression: str) -> str:
    """TRANSFORM's expression is JSONata; `{{ ... }}` around it is accepted and removed."""
    text = expression.strip()
    if text.startswith(OPEN) and text.endswith(CLOSE):
        template = parse_template(text)
        if template.single is not None:
            return template.single.source
    return text


class TransformParameters(NodeParameters):
    expression: Annotated[str, Field(min_length=1, description="JSONata over the context")]

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str) -> str:
        from flowlane.engine.expressions import compile_expression

        try:
            compile_expression(_bare(value))
        except ExpressionSyntaxError as exc:
            raise ValueError(f"invalid JSONata: {exc}") from None
        return value


@register
class TransformNode(Node[TransformParameters]):
    type = NodeType.ACTION
    subtype = "TRANSFORM"
    title = "Transform"
    description = "Reshape data with one JSONata expression over {input, nodes, trigger, ...}."
    parameters_model = TransformParameters
    lazy_parameters = frozenset({"expression"})
    pure = True

    def run(self, ctx: NodeContext, params: TransformParameters) -> NodeResult:
        from flowlane.engine.expressions import evaluate

        try:
            result: Any = evaluate(_bare(params.expression), ctx.scope, ctx.services.engine)
        except (ExpressionSyntaxError, ValueError) as exc:
            raise NodeError(
                "EXPRESSION_ERROR",
                f"parameter 'expression': {exc}",
                {"parameter": "expression"},
            ) from None
        return NodeResult(result)


# HTTP_REQUEST lives with the HTTP machinery it shares with Slack, GitHub and tools; importing it
# registers it after SET and TRANSFORM, the catalogue's order.
import flowlane.nodes.http  # noqa: E402, F401
