"""One conversational turn of an agent session (`POST /query`, `/query/stream`, CONTRACT.md
section 5): the agent answers and may act on the session's workflow through tools.

`run_turn` yields the turn as it happens: `tool_call` and `tool_result` for every tool use, then
one `text`, then `complete`. Two engines:
- With a real provider, the tool loop: the model sees the system prompt, the history, the message
  and `TOOL_SPECS`; every tool call it makes runs and its result goes back, until it answers
  without a tool call or `max_steps` model calls have been made.
- With none (or the offline provider), the offline turn of `conversation_offline`: the message is
  routed by intent to at most one tool (two for an execution lookup), and the reply is a plain
  summary. It never pretends to be a model: provider and model are "offline", usage is zero.

Vocabulary (events, `AgentTools`, `TOOL_SPECS`, running a call) is in `conversation_tools`;
offline replies are in `conversation_replies`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from flowlane.agent.conversation_offline import offline_turn, route
from flowlane.agent.conversation_tools import (
    MAX_TOOL_RESULT_CHARS,
    TOOL_NAMES,
    TOOL_SPECS,
    AgentTools,
    HistoryEntry,
    ToolOutcome,
    TurnEvent,
    TurnEventType,
    call_event,
    complete_event,
    run_tool_call,
)
from flowlane.errors import UpstreamError, ValidationFailed
from flowlane.nodes.base import NodeError
from flowlane.nodes.llm.chat import ChatMessage, ChatProvider, ChatRequest, ChatResponse, Usage
from flowlane.nodes.llm.offline import OfflineProvider

__all__ = [
    "MAX_TOOL_RESULT_CHARS",
    "TOOL_NAMES",
    "TOOL_SPECS",
    "AgentTools",
    "HistoryEntry",
    "TurnEvent",
    "TurnEventType",
    "route",
    "run_turn",
    "system_prompt",
]

# How much of the session's workflow the system prompt shows the model.
MAX_WORKFLOW_CHARS = 2_000

SYSTEM_PROMPT = """\
You are the assistant of Flowlane, a platform that turns automations described in plain words \
into workflows: a trigger (manual, webhook or schedule) and typed steps (actions such as Slack, \
email, GitHub or HTTP requests; AI steps; conditions, loops, waits and approvals) that run \
serverless on AWS.

You work on this session's workflow through tools: search_catalogue (which node types exist), \
draft_workflow (a new workflow from a description), refine_workflow (change the existing one), \
validate_workflow, dry_run_workflow (a test run in which nothing reaches a real service), \
execute_workflow (a real run), list_executions and get_execution (how runs went).

Rules:
- Be brief: a few sentences in plain words; no JSON unless the user asks for it.
- Draft before refine: with no workflow yet, call draft_workflow with the user's whole \
description; change an existing workflow with refine_workflow.
- Never invent ids (workflow, execution or node ids): use only ids a tool returned or the user \
gave.
- Run the workflow for real (execute_workflow) only when the user asks for it; to try it, \
dry_run_workflow.
- When a tool fails, say what went wrong and what the user can do about it.
- If the draft needs information (missing_info), ask the user for it."""


def run_turn(
    message: str,
    *,
    history: Sequence[HistoryEntry],
    tools: AgentTools,
    provider: ChatProvider | None,
    model: str | None,
    max_steps: int = 6,
) -> Iterator[TurnEvent]:
    """The turn's events, as they happen. Raises ValidationFailed for a blank message and
    UpstreamError when the model's provider fails; a FlowlaneError from a tool is a tool error
    result, not a failure of the turn."""
    if not message.strip():
        raise ValidationFailed("message is empty", [{"loc": ["message"], "msg": "empty"}])
    if provider is None or isinstance(provider, OfflineProvider):
        yield from offline_turn(message, tools)
        return
    if not model:
        # A programming error of the caller (it resolves the provider's default model).
        raise ValueError("a model is required with a provider")
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    request = ChatRequest(
        model=model,
        system=system_prompt(tools.current_workflow()),
        messages=(*history_messages(history), ChatMessage("user", message)),
        tools=TOOL_SPECS,
    )
    yield from _tool_loop(provider, request, tools, max_steps)


def system_prompt(workflow: dict[str, Any] | None) -> str:
    """The rules, and what the session's workflow is now (so the model knows draft vs refine)."""
    if workflow is None:
        state = "The session has no workflow yet."
    else:
        shown = json.dumps(workflow, ensure_ascii=False, separators=(",", ":"))
        if len(shown) > MAX_WORKFLOW_CHARS:
            shown = shown[:MAX_WORKFLOW_CHARS] + "…"
        state = f"The session's workflow now: {shown}"
    return f"{SYSTEM_PROMPT}\n\n{state}"


def history_messages(history: Sequence[HistoryEntry]) -> list[ChatMessage]:
    """The earlier turns as chat messages. Blank entries are skipped (Anthropic refuses empty
    text) and so are leading assistant turns (it wants the conversation to open with the user)."""
    messages: list[ChatMessage] = []
    for entry in history:
        if not entry.content.strip() or (not messages and entry.role == "assistant"):
            continue
        messages.append(ChatMessage(entry.role, entry.content))
    return messages


def _chat(provider: ChatProvider, request: ChatRequest) -> ChatResponse:
    try:
        return provider.chat(request)
    except NodeError as exc:
        # The providers speak the node runner's error; a query speaks the API's.
        raise UpstreamError(
            exc.message, {"provider": provider.name, "code": exc.code, **exc.details}
        ) from exc


def _tool_loop(
    provider: ChatProvider, request: ChatRequest, tools: AgentTools, max_steps: int
) -> Iterator[TurnEvent]:
    messages = list(request.messages)
    usage = Usage()
    ran = 0
    for _step in range(max_steps):
        response = _chat(provider, replace(request, messages=tuple(messages)))
        usage = usage + response.usage
        if not response.tool_calls:
            text = response.text.strip() or "(The model gave no answer.)"
            yield TurnEvent("text", {"content": text})
            yield complete_event(text, ran, provider.name, response.model, usage)
            return
        if _step == max_steps - 1:
            # Nothing would read these calls' results, and a tool may act on real services:
            # they are not run.
            break
        messages.append(ChatMessage("assistant", response.text, response.tool_calls))
        outcomes: list[ToolOutcome] = []
        for call in response.tool_calls:
            yield call_event(call)
            outcome = run_tool_call(tools, call)
            yield outcome.result_event()
            outcomes.append(outcome)
        ran += len(outcomes)
        messages.append(ChatMessage("tool", tool_results=tuple(o.for_model() for o in outcomes)))
    text = _stopped_text(max_steps, response)
    yield TurnEvent("text", {"content": text})
    yield complete_event(text, ran, provider.name, response.model, usage)


def _stopped_text(max_steps: int, last: ChatResponse) -> str:
    wanted = ", ".join(dict.fromkeys(call.name for call in last.tool_calls))
    said = f"{last.text.strip()} " if last.text.strip() else ""
    return (
        f"{said}I stopped after {max_steps} model calls without finishing (next I would have "
        f"called {wanted}). The steps above show what was done; ask me to continue."
    )
