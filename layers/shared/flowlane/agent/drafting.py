"""Drafters: who writes the draft. A model through the official SDKs (OpenAI or Anthropic, as
one structured output through a forced `submit_workflow` tool call), or the offline planner.

A model drafts the whole workflow in ONE call (n8n found one-shot drafting faster, cheaper and
more accurate than node-by-node tool calls). A repair round continues the same conversation:
the errors come back as the tool's result and the model submits the whole draft again, so it
sees what it wrote and what was wrong with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from flowlane.agent.draft import Draft, draft_schema
from flowlane.agent.mend import mend
from flowlane.errors import UpstreamError
from flowlane.models.common import error_items
from flowlane.nodes.base import NodeError
from flowlane.nodes.llm import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from flowlane.config import IntegrationSettings

SUBMIT_TOOL = "submit_workflow"
# A whole workflow as JSON: generous, since a cut-off tool call cannot be parsed.
DRAFT_MAX_TOKENS = 8_000


@dataclass
class DraftRequest:
    """What a drafter is told: the request and what the understand/search steps found."""

    description: str
    context: dict[str, Any] = field(default_factory=dict)
    preferences: dict[str, Any] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)  # missing info and defaults from understand
    catalogue: str = ""  # the catalogue digest of the templates that matched


class DraftUnreadable(Exception):
    """The model's submission is not a draft; the reasons go back to it as a repair round."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class Drafter(Protocol):
    provider: str
    model: str
    calls: int
    usage: Usage

    def draft(self, request: DraftRequest) -> Draft: ...

    def repair(self, request: DraftRequest, previous: Draft | None, errors: list[str]) -> Draft: ...

    def refine(self, current: Draft, feedback: str, request: DraftRequest) -> Draft: ...

    def close(self) -> None: ...


class OfflineDrafter:
    """The offline planner: deterministic, no network, no key."""

    provider = "offline"
    model = "flowlane-offline-planner"

    def __init__(self) -> None:
        self.calls = 0  # model calls: none, ever
        self.usage = Usage()

    def draft(self, request: DraftRequest) -> Draft:
        from flowlane.agent.offline import plan

        return plan(
            request.description,
            context=as_strings(request.context),
            preferences=as_strings(request.preferences),
        )

    def repair(self, request: DraftRequest, previous: Draft | None, errors: list[str]) -> Draft:
        if previous is None:
            return self.draft(request)
        return mend(previous)

    def refine(self, current: Draft, feedback: str, request: DraftRequest) -> Draft:
        from flowlane.agent.offline import refine

        return refine(current, feedback)

    def close(self) -> None:
        pass


def as_strings(values: dict[str, Any]) -> dict[str, str]:
    """Context and preferences as the offline planner reads them: text, JSON for the rest."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


SYSTEM_PROMPT = """You design workflows for Flowlane, a serverless workflow platform.
A workflow is a graph of typed nodes that starts at exactly one TRIGGER node. You answer by
calling the tool `submit_workflow` once with the WHOLE workflow as a draft:
- nodes: id (short kebab-case, says what the node does), name, type, subtype, parameters,
  credentials (names of stored credentials, e.g. {"slack": "slack-bot"}, never secrets);
- edges: source, target, port (the source's output: main; true/false after IF; a case name or
  default after SWITCH; each/done after LOOP; approved/rejected/timeout after APPROVAL), kind
  (main; ai_tool or ai_memory to attach a TOOL or MEMORY node to an AI_AGENT);
- missing_info: what the request did not say that the workflow needs (a channel, a URL, a repo);
  use a sensible placeholder in the node and list it here. Never leave out a step the request
  asks for: a service with no node of its own becomes ACTION/HTTP_REQUEST plus a missing_info
  entry.
Every node must be reachable from the trigger. Parameters follow the node templates below.
Expressions are JSONata inside {{ }}: `{{ input.body.title }}`, `{{ nodes.`fetch-issues`.body }}`,
`{{ $count(input) }}`; `input` is the previous node's output. Schedules use EventBridge Scheduler
syntax: cron(min hour day-of-month month day-of-week year) with ? in one of the day fields,
rate(6 hours), at(2026-01-01T09:00:00); put the IANA time zone in the trigger's `timezone` and in
the draft's `timezone`. Conditions are {"conditions": [{"left": ..., "op": ..., "right": ...}],
"combinator": "and"}; ops: equals, not_equals, gt, gte, lt, lte, contains, not_contains,
starts_with, ends_with, matches, exists, not_exists, is_empty, is_not_empty, is_true, is_false."""


class ModelDrafter:
    """A chat model behind the provider-neutral interface (the official SDKs)."""

    def __init__(self, provider: ChatProvider, model: str) -> None:
        self._provider = provider
        self.provider = provider.name
        self.model = model
        self.calls = 0
        self.usage = Usage()
        # The conversation of this drafting: a repair continues it.
        self._messages: list[ChatMessage] = []
        self._last_call: ToolCall | None = None
        self._system = SYSTEM_PROMPT

    def draft(self, request: DraftRequest) -> Draft:
        self._system = _system_prompt(request)
        self._messages = [ChatMessage(role="user", content=_request_text(request))]
        return self._submit()

    def repair(self, request: DraftRequest, previous: Draft | None, errors: list[str]) -> Draft:
        if self._last_call is None:
            return self.draft(request)
        feedback = (
            "The workflow you submitted has these problems. Fix them and call submit_workflow "
            "again with the whole corrected workflow:\n- " + "\n- ".join(errors)
        )
        self._messages.append(
            ChatMessage(
                role="tool",
                tool_results=(
                    ToolResult(self._last_call.id, SUBMIT_TOOL, feedback, is_error=True),
                ),
            )
        )
        return self._submit()

    def refine(self, current: Draft, feedback: str, request: DraftRequest) -> Draft:
        self._system = _system_prompt(request)
        text = (
            "Here is the current workflow as a draft:\n"
            + current.model_dump_json(exclude_defaults=True)
            + "\n\nChange it as follows, and change nothing else (keep every other node, id, "
            "parameter and edge exactly as it is): "
            + feedback
            + "\nCall submit_workflow with the whole updated workflow."
        )
        self._messages = [ChatMessage(role="user", content=text)]
        return self._submit()

    def _submit(self) -> Draft:
        request = ChatRequest(
            model=self.model,
            messages=tuple(self._messages),
            system=self._system,
            tools=(ToolSpec(SUBMIT_TOOL, "Submit the whole workflow draft.", draft_schema()),),
            force_tool=SUBMIT_TOOL,
            max_tokens=DRAFT_MAX_TOKENS,
            temperature=0.0,
        )
        self.calls += 1
        try:
            response = self._provider.chat(request)
        except NodeError as exc:
            raise UpstreamError(exc.message, {"provider": self.provider, **exc.details}) from exc
        self.usage = self.usage + response.usage
        call = next((c for c in response.tool_calls if c.name == SUBMIT_TOOL), None)
        self._messages.append(
            ChatMessage(role="assistant", content=response.text, tool_calls=response.tool_calls[:1])
        )
        self._last_call = call
        if call is None:
            raise DraftUnreadable(
                ["no workflow was submitted: call the submit_workflow tool with the draft"]
            )
        if call.invalid_arguments is not None:
            raise DraftUnreadable(["the submit_workflow arguments were not a JSON object"])
        try:
            return Draft.model_validate(call.arguments)
        except ValidationError as exc:
            raise DraftUnreadable(
                [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error_items(exc.errors())]
            ) from None

    def close(self) -> None:
        self._provider.close()


def _system_prompt(request: DraftRequest) -> str:
    if not request.catalogue:
        return SYSTEM_PROMPT
    return f"{SYSTEM_PROMPT}\n\nNode templates that match the request:\n{request.catalogue}"


def _request_text(request: DraftRequest) -> str:
    parts = [f"Build this automation: {request.description}"]
    if request.context:
        parts.append(f"Context: {json.dumps(request.context, ensure_ascii=False)}")
    if request.preferences:
        parts.append(f"User preferences: {json.dumps(request.preferences, ensure_ascii=False)}")
    if request.hints:
        parts.append("Notes from reading the request:\n- " + "\n- ".join(request.hints))
    return "\n".join(parts)


def chat_model(
    choice: str, integrations: IntegrationSettings
) -> tuple[ChatProvider, str] | tuple[None, None]:
    """The provider (and its model) the agent talks to: `choice` is the agent's provider
    setting (auto, openai, anthropic, offline); keys, models and base URLs are the integration
    settings'. (None, None) means offline."""
    from flowlane.nodes.llm import choose_provider, default_model, open_provider

    def key(name: str) -> str | None:
        value = getattr(integrations, f"{name}_api_key", None)
        return value if isinstance(value, str) and value else None

    provider = choose_provider(choice, integrations, lambda name: key(name) is not None)
    if provider == "offline":
        return None, None
    return open_provider(provider, integrations, key(provider)), default_model(
        provider, integrations
    )


def open_drafter(choice: str, integrations: IntegrationSettings) -> Drafter:
    provider, model = chat_model(choice, integrations)
    if provider is None or model is None:
        return OfflineDrafter()
    return ModelDrafter(provider, model)
