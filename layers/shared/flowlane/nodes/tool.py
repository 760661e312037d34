"""TOOL nodes: functions an AI agent may call (CONTRACT.md section 3).

TOOL / HTTP_TOOL describes one function (`name`, `description`, `input_schema`, a JSON Schema
object) that an AI_AGENT node offers to its model when the tool is attached on `ai_tool`. When the
model calls it, the executor runs the node with the model's arguments as `ctx.input` (so the url
and headers may use `{{ input.city }}`, resolved before `run`). The request itself is an
HTTP_REQUEST's: same egress policy, errors, output `{status_code, headers, body}` and credentials
(`{"http": NAME}` or the node's only credential).

The arguments also travel in the request: for GET and HEAD, the top-level scalars of the input
object go to the query string; for every other method the whole input is the JSON body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, JsonValue, field_validator

from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node, NodeContext, NodeParameters, NodeResult
from flowlane.nodes.http import (
    TIMEOUT_MARGIN_SECONDS,
    Headers,
    Method,
    TimeoutSeconds,
    node_http_credential,
    perform_request,
)
from flowlane.nodes.registry import register

if TYPE_CHECKING:
    from flowlane.config import EngineSettings

# What OpenAI and Anthropic accept as a function name.
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_BODILESS = frozenset({"GET", "HEAD"})


def _empty_schema() -> dict[str, JsonValue]:
    return {"type": "object", "properties": {}}


class HttpToolParameters(NodeParameters):
    name: Annotated[
        str, Field(pattern=TOOL_NAME_PATTERN, description="Function name the model sees")
    ]
    description: Annotated[
        str, Field(max_length=1024, description="What the tool does, for the model")
    ] = ""
    method: Method = "GET"
    url: Annotated[str, Field(min_length=1, description="URL; may use {{ input.ARGUMENT }}")]
    headers: Headers = Field(default_factory=dict)
    input_schema: Annotated[
        dict[str, JsonValue], Field(description="JSON Schema of the arguments (an object)")
    ] = Field(default_factory=_empty_schema)
    timeout_seconds: TimeoutSeconds = 30
    fail_on_status: Annotated[
        bool, Field(description="Fail the tool call when the status is 400 or more")
    ] = True

    @field_validator("input_schema")
    @classmethod
    def _object_schema(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        # Function-calling APIs take an object of named arguments, nothing else.
        if value.get("type", "object") != "object":
            raise ValueError('input_schema must describe an object ({"type": "object", ...})')
        properties = value.get("properties", {})
        if not isinstance(properties, dict):
            raise ValueError("input_schema.properties must be an object")
        required = value.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise ValueError("input_schema.required must be a list of property names")
        return {"type": "object", **value}


def _query_from_input(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if isinstance(v, str | int | float | bool)}


@register
class HttpToolNode(Node[HttpToolParameters]):
    type = NodeType.TOOL
    subtype = "HTTP_TOOL"
    title = "HTTP tool"
    description = (
        "A function an AI agent can call: an HTTP request with the model's arguments "
        "(query string for GET, JSON body otherwise)."
    )
    parameters_model = HttpToolParameters
    attachable_as = ("ai_tool",)

    def timeout_seconds(self, parameters: HttpToolParameters, settings: EngineSettings) -> float:
        return parameters.timeout_seconds + TIMEOUT_MARGIN_SECONDS

    def run(self, ctx: NodeContext, params: HttpToolParameters) -> NodeResult:
        if params.method in _BODILESS:
            query, body = _query_from_input(ctx.input), None
        else:
            query, body = None, ctx.input
        output = perform_request(
            ctx,
            method=params.method,
            url=params.url,
            headers=params.headers,
            query=query,
            body=body,
            json_body=body is not None,
            timeout=params.timeout_seconds,
            fail_on_status=params.fail_on_status,
            credential=node_http_credential(ctx),
        )
        return NodeResult(output)
