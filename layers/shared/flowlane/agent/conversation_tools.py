"""The conversational turn's vocabulary: its events, the tools it acts through, and running one
tool call safely (see `flowlane.agent.conversation`, which re-exports everything here).

A tool call never fails the turn for something the model (or the person) can correct: an unknown
tool name, arguments that are not an object or miss a field, or a tool that raises FlowlaneError
(no workflow yet, not found, invalid) all become a tool error result, which the model reads and
the person sees. Any other exception is a bug or an outage and propagates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from flowlane.errors import FlowlaneError, ValidationFailed
from flowlane.nodes.llm.chat import ToolCall, ToolResult, ToolSpec, Usage

TurnEventType = Literal["tool_call", "tool_result", "text", "complete"]

# What a tool result may weigh in the model's context (a long execution record would crowd out
# the conversation); the event the person sees keeps the whole result.
MAX_TOOL_RESULT_CHARS = 8_000
MAX_LIST_LIMIT = 20
DEFAULT_LIST_LIMIT = 5


@dataclass(frozen=True)
class TurnEvent:
    """One step of a turn, in the order it happened.

    tool_call: {"id", "name", "arguments"} (plus "invalid_arguments", the model's raw text, when
    its arguments were not a JSON object); tool_result: {"id", "name", "result" | "error",
    "is_error"} with error = {"code", "message", "details"}; text: {"content"}; complete:
    {"message" (the whole answer text), "tool_calls": n, "provider", "model", "usage"}.
    """

    type: TurnEventType
    data: dict[str, Any]


@dataclass(frozen=True)
class HistoryEntry:
    role: Literal["user", "assistant"]
    content: str


class AgentTools(Protocol):
    """The agent's tools, bound to one caller and one session. Each returns a JSON-able dict;
    a failure raises flowlane.errors.FlowlaneError (its .code/.message/.details) — the turn reports
    it to the model as a tool error and goes on; any other exception propagates."""

    def search_catalogue(self, query: str) -> dict[str, Any]: ...

    def draft_workflow(self, description: str) -> dict[str, Any]: ...

    def refine_workflow(self, feedback: str) -> dict[str, Any]: ...

    def validate_workflow(self) -> dict[str, Any]: ...

    def dry_run_workflow(self, trigger_data: Any) -> dict[str, Any]: ...

    def execute_workflow(self, trigger_data: Any) -> dict[str, Any]: ...

    def list_executions(self, limit: int) -> dict[str, Any]: ...

    def get_execution(self, execution_id: str) -> dict[str, Any]: ...

    def current_workflow(self) -> dict[str, Any] | None: ...


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_TRIGGER_DATA = {
    "type": "object",
    "description": "The data the workflow's trigger receives (what a webhook would post); "
    "{} when the user gave none",
}

TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "search_catalogue",
        "Search the catalogue of node types (triggers, actions, AI steps, flow control) by "
        "what a step should do or the service it uses. Use it to answer what Flowlane supports.",
        _object(
            {"query": {"type": "string", "description": "A few words, e.g. 'post to slack'"}},
            ("query",),
        ),
    ),
    ToolSpec(
        "draft_workflow",
        "Draft a new workflow for this session from a description of the automation. It "
        "replaces the session's workflow; use refine_workflow to change an existing one.",
        _object(
            {
                "description": {
                    "type": "string",
                    "description": "The whole automation in the user's words, with every detail "
                    "they gave (trigger, schedule, services, conditions)",
                }
            },
            ("description",),
        ),
    ),
    ToolSpec(
        "refine_workflow",
        "Change the session's existing workflow as the feedback says.",
        _object(
            {"feedback": {"type": "string", "description": "The change, in the user's words"}},
            ("feedback",),
        ),
    ),
    ToolSpec(
        "validate_workflow",
        "Check the session's workflow for errors and warnings without running it.",
        _object({}),
    ),
    ToolSpec(
        "dry_run_workflow",
        "Test the session's workflow with sample trigger data: a simulated run in which no "
        "message, email or request reaches a real service.",
        _object({"trigger_data": _TRIGGER_DATA}),
    ),
    ToolSpec(
        "execute_workflow",
        "Run the session's workflow for real (it acts on real services). Only when the user "
        "asks to run it.",
        _object({"trigger_data": _TRIGGER_DATA}),
    ),
    ToolSpec(
        "list_executions",
        "List the latest runs of the session's workflow, newest first.",
        _object(
            {
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIST_LIMIT,
                    "description": f"How many runs (default {DEFAULT_LIST_LIMIT})",
                }
            }
        ),
    ),
    ToolSpec(
        "get_execution",
        "Read one run of the workflow: its status, output, error and the steps that ran.",
        _object(
            {
                "execution_id": {
                    "type": "string",
                    "description": "An execution id from list_executions, execute_workflow or "
                    "the user, never made up",
                }
            },
            ("execution_id",),
        ),
    ),
)

TOOL_NAMES: tuple[str, ...] = tuple(spec.name for spec in TOOL_SPECS)


# -- arguments -----------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", [{"loc": [field], "msg": message}])


def _text(arguments: dict[str, Any], field: str) -> str:
    value = arguments.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "a non-empty string is required")
    return value.strip()


def _trigger_data(arguments: dict[str, Any]) -> Any:
    # Any JSON value is passed on: the schema says object, but a list is a valid trigger payload
    # and the workflow, not this layer, decides what it accepts.
    value = arguments.get("trigger_data")
    return {} if value is None else value


def _limit(arguments: dict[str, Any]) -> int:
    value = arguments.get("limit", DEFAULT_LIST_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIST_LIMIT:
        raise _invalid("limit", f"an integer from 1 to {MAX_LIST_LIMIT} is required")
    return value


_Invoke = Callable[[AgentTools, dict[str, Any]], dict[str, Any]]

_INVOKERS: dict[str, _Invoke] = {
    "search_catalogue": lambda t, a: t.search_catalogue(_text(a, "query")),
    "draft_workflow": lambda t, a: t.draft_workflow(_text(a, "description")),
    "refine_workflow": lambda t, a: t.refine_workflow(_text(a, "feedback")),
    "validate_workflow": lambda t, a: t.validate_workflow(),
    "dry_run_workflow": lambda t, a: t.dry_run_workflow(_trigger_data(a)),
    "execute_workflow": lambda t, a: t.execute_workflow(_trigger_data(a)),
    "list_executions": lambda t, a: t.list_executions(_limit(a)),
    "get_execution": lambda t, a: t.get_execution(_text(a, "execution_id")),
}


# -- running a call ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolOutcome:
    """One call and what it gave: `result` on success, else `error` ({code, message, details})."""

    call: ToolCall
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def is_error(self) -> bool:
        return self.error is not None

    def result_event(self) -> TurnEvent:
        data: dict[str, Any] = {"id": self.call.id, "name": self.call.name}
        if self.error is not None:
            data["error"] = self.error
        else:
            data["result"] = self.result
        data["is_error"] = self.is_error
        return TurnEvent("tool_result", data)

    def for_model(self) -> ToolResult:
        body = {"error": self.error} if self.error is not None else self.result
        return ToolResult(self.call.id, self.call.name, compact_json(body), self.is_error)


def call_event(call: ToolCall) -> TurnEvent:
    """Announced before the tool runs, so a stream shows what is happening while it happens."""
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    if call.invalid_arguments is not None:
        data["invalid_arguments"] = call.invalid_arguments
    return TurnEvent("tool_call", data)


def complete_event(
    message: str, tool_calls: int, provider: str, model: str, usage: Usage
) -> TurnEvent:
    return TurnEvent(
        "complete",
        {
            "message": message,
            "tool_calls": tool_calls,
            "provider": provider,
            "model": model,
            "usage": usage.to_dict(),
        },
    )


def compact_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_TOOL_RESULT_CHARS:
        cut = len(text) - MAX_TOOL_RESULT_CHARS
        text = f"{text[:MAX_TOOL_RESULT_CHARS]}…[truncated: {cut} more characters]"
    return text


def _error_body(exc: FlowlaneError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "details": exc.details}


def run_tool_call(tools: AgentTools, call: ToolCall) -> ToolOutcome:
    """Run one call; a FlowlaneError (including a bad call) becomes the outcome's error."""
    try:
        invoke = _INVOKERS.get(call.name)
        if invoke is None:
            raise ValidationFailed(
                f"there is no tool named {call.name!r}; the tools are: {', '.join(TOOL_NAMES)}"
            )
        if call.invalid_arguments is not None:
            raise ValidationFailed(
                "the arguments are not a JSON object", [{"loc": [], "msg": "not a JSON object"}]
            )
        result = invoke(tools, call.arguments)
    except FlowlaneError as exc:
        return ToolOutcome(call, error=_error_body(exc))
    return ToolOutcome(call, result=result)
