"""The conversational turn's tool loop through the real OpenAI and Anthropic SDKs, against a local
fake of both APIs (tests/fakes/llm_server.py): what goes over the wire, and what comes back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from flowlane.agent.conversation import TOOL_SPECS, HistoryEntry, TurnEvent, run_turn
from flowlane.config import IntegrationSettings
from flowlane.errors import NotFound, UpstreamError
from flowlane.nodes.llm import ChatProvider, ProviderName, open_provider
from tests.fakes.llm_server import FakeLLM, RecordedRequest, Reply

PROVIDERS: list[ProviderName] = ["openai", "anthropic"]
MODELS = {"openai": "gpt-test", "anthropic": "claude-test"}
DESCRIPTION = "Every weekday at 9am, post new GitHub issues to Slack"
DRAFT = {
    "workflow_id": "wf-1",
    "name": "Weekday GitHub digest",
    "nodes": [{"id": "schedule", "type": "TRIGGER", "subtype": "SCHEDULE", "name": "Weekdays"}],
    "missing_info": ["the Slack channel"],
    "suggestions": [],
    "valid": True,
    "errors": [],
}


class RecordingTools:
    """AgentTools that record calls; draft_workflow answers DRAFT, get_execution fails."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def search_catalogue(self, query: str) -> dict[str, Any]:
        self.calls.append(("search_catalogue", query))
        return {"templates": []}

    def draft_workflow(self, description: str) -> dict[str, Any]:
        self.calls.append(("draft_workflow", description))
        return DRAFT

    def refine_workflow(self, feedback: str) -> dict[str, Any]:
        self.calls.append(("refine_workflow", feedback))
        return {"workflow_id": "wf-1", "changes": [], "valid": True, "errors": []}

    def validate_workflow(self) -> dict[str, Any]:
        self.calls.append(("validate_workflow", None))
        return {"valid": True, "errors": [], "warnings": []}

    def dry_run_workflow(self, trigger_data: Any) -> dict[str, Any]:
        self.calls.append(("dry_run_workflow", trigger_data))
        return {"status": "SUCCEEDED", "output": None, "error": None, "node_runs": []}

    def execute_workflow(self, trigger_data: Any) -> dict[str, Any]:
        self.calls.append(("execute_workflow", trigger_data))
        return {"execution_id": "20261121T140359065-255a741c", "status": "running"}

    def list_executions(self, limit: int) -> dict[str, Any]:
        self.calls.append(("list_executions", limit))
        return {"executions": []}

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        self.calls.append(("get_execution", execution_id))
        raise NotFound(f"execution {execution_id} not found")

    def current_workflow(self) -> dict[str, Any] | None:
        return None


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def provider_for(name: ProviderName, llm: FakeLLM) -> ChatProvider:
    settings = IntegrationSettings(
        openai_api_key=None,
        openai_base_url=llm.openai_base_url,
        anthropic_api_key=None,
        anthropic_base_url=llm.anthropic_base_url,
        default_llm_provider="auto",
        llm_timeout_seconds=10,
    )
    return open_provider(name, settings, f"test-key-{name}")


def turn(
    name: ProviderName,
    llm: FakeLLM,
    tools: RecordingTools,
    message: str = "Draft me a GitHub digest",
    **kwargs: Any,
) -> list[TurnEvent]:
    provider = provider_for(name, llm)
    options: dict[str, Any] = {"history": (), "model": MODELS[name], **kwargs}
    try:
        return list(run_turn(message, tools=tools, provider=provider, **options))
    finally:
        provider.close()


def types(events: list[TurnEvent]) -> list[str]:
    return [event.type for event in events]


def fed_back(name: ProviderName, request: RecordedRequest) -> dict[str, Any]:
    """The one tool result the request carries, as {id, content, is_error} in either format."""
    last = request.json["messages"][-1]
    if name == "openai":
        assert last["role"] == "tool"
        return {"id": last["tool_call_id"], "content": last["content"], "is_error": None}
    assert last["role"] == "user"
    [block] = last["content"]
    assert block["type"] == "tool_result"
    return {"id": block["tool_use_id"], "content": block["content"], "is_error": block["is_error"]}


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_model_drafts_then_answers(llm: FakeLLM, name: ProviderName) -> None:
    llm.script(
        Reply.tool_call("draft_workflow", {"description": DESCRIPTION}),
        Reply.with_text("I drafted *Weekday GitHub digest*. Which Slack channel?"),
    )
    tools = RecordingTools()

    events = turn(name, llm, tools)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    assert events[0].data == {
        "id": "call_1",
        "name": "draft_workflow",
        "arguments": {"description": DESCRIPTION},
    }
    assert events[1].data == {
        "id": "call_1",
        "name": "draft_workflow",
        "result": DRAFT,
        "is_error": False,
    }
    assert tools.calls == [("draft_workflow", DESCRIPTION)]
    answer = "I drafted *Weekday GitHub digest*. Which Slack channel?"
    assert events[2].data == {"content": answer}
    assert events[3].data == {
        "message": answer,
        "tool_calls": 1,
        "provider": name,
        "model": MODELS[name],
        "usage": {"input_tokens": 22, "output_tokens": 14},
    }
    first, second = llm.requests
    assert len(first.json["tools"]) == len(second.json["tools"]) == len(TOOL_SPECS)
    result = fed_back(name, second)
    assert result["id"] == "call_1"
    assert json.loads(result["content"]) == DRAFT
    assert result["is_error"] in (None, False)


@pytest.mark.parametrize("name", PROVIDERS)
def test_tools_and_the_system_prompt_go_out_in_each_apis_format(
    llm: FakeLLM, name: ProviderName
) -> None:
    llm.script(Reply.with_text("Hello."))
    history = [HistoryEntry("user", "Hi"), HistoryEntry("assistant", "Hello! What to automate?")]

    turn(name, llm, RecordingTools(), "What can you do?", history=history)

    [request] = llm.requests
    body = request.json
    assert body["model"] == MODELS[name]
    if name == "openai":
        assert body["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": spec.input_schema,
                },
            }
            for spec in TOOL_SPECS
        ]
        system, *turns = body["messages"]
        assert system["role"] == "system"
        prompt = system["content"]
        sent = [(m["role"], m["content"]) for m in turns]
    else:
        assert body["tools"] == [
            {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}
            for spec in TOOL_SPECS
        ]
        prompt = body["system"]
        sent = [(m["role"], m["content"][0]["text"]) for m in body["messages"]]
    assert "Flowlane" in prompt
    assert "Never invent ids" in prompt
    assert "The session has no workflow yet." in prompt
    assert sent == [
        ("user", "Hi"),
        ("assistant", "Hello! What to automate?"),
        ("user", "What can you do?"),
    ]


@pytest.mark.parametrize("name", PROVIDERS)
def test_invalid_arguments_go_back_as_a_tool_error(llm: FakeLLM, name: ProviderName) -> None:
    llm.script(
        Reply.tool_call("draft_workflow", {"summary": DESCRIPTION}),
        Reply.with_text("Let me try again."),
    )
    tools = RecordingTools()

    events = turn(name, llm, tools)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    assert tools.calls == []
    assert events[1].data["is_error"] is True
    assert events[1].data["error"]["code"] == "VALIDATION_ERROR"
    result = fed_back(name, llm.requests[1])
    assert json.loads(result["content"])["error"]["message"].startswith("description:")
    assert result["is_error"] in (None, True)


def test_arguments_that_are_not_json_go_back_as_a_tool_error(llm: FakeLLM) -> None:
    # Only OpenAI sends arguments as text, which a model can get wrong.
    llm.script(
        Reply.tool_call("draft_workflow", '{"description": "unterminated'),
        Reply.with_text("Sorry."),
    )
    tools = RecordingTools()

    events = turn("openai", llm, tools)

    assert events[0].data["invalid_arguments"] == '{"description": "unterminated'
    assert events[1].data["error"]["message"] == "the arguments are not a JSON object"
    assert tools.calls == []
    second = llm.requests[1].json["messages"]
    # The model's own text is echoed back on its turn, then the error answers it.
    assert second[-2]["tool_calls"][0]["function"]["arguments"] == '{"description": "unterminated'
    assert json.loads(second[-1]["content"])["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_unknown_tool_goes_back_as_a_tool_error(llm: FakeLLM, name: ProviderName) -> None:
    llm.script(Reply.tool_call("delete_everything", {}), Reply.with_text("I can't do that."))
    tools = RecordingTools()

    events = turn(name, llm, tools)

    assert events[1].data["is_error"] is True
    assert "no tool named 'delete_everything'" in events[1].data["error"]["message"]
    assert tools.calls == []
    result = fed_back(name, llm.requests[1])
    assert "draft_workflow" in json.loads(result["content"])["error"]["message"]
    assert events[-1].data["message"] == "I can't do that."


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_failing_tool_goes_back_as_a_tool_error(llm: FakeLLM, name: ProviderName) -> None:
    llm.script(
        Reply.tool_call("get_execution", {"execution_id": "20261121T140359065-255a741c"}),
        Reply.with_text("That run does not exist."),
    )

    events = turn(name, llm, RecordingTools(), "How did 20261121T140359065-255a741c go?")

    assert events[1].data["error"]["code"] == "NOT_FOUND"
    result = fed_back(name, llm.requests[1])
    assert json.loads(result["content"]) == {"error": events[1].data["error"]}
    assert result["is_error"] in (None, True)


@pytest.mark.parametrize("name", PROVIDERS)
def test_max_steps_stops_the_turn(llm: FakeLLM, name: ProviderName) -> None:
    llm.script(
        Reply.tool_call("validate_workflow", {}, call_id="call_1"),
        Reply.tool_call("validate_workflow", {}, call_id="call_2"),
    )
    tools = RecordingTools()

    events = turn(name, llm, tools, "Check it", max_steps=2)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    assert len(llm.requests) == 2
    assert llm.pending == 0
    # The second call was asked for on the last allowed step: nothing would read its result.
    assert tools.calls == [("validate_workflow", None)]
    assert "I stopped after 2 model calls" in events[2].data["content"]
    assert events[3].data["tool_calls"] == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_provider_error_is_an_upstream_error(llm: FakeLLM, name: ProviderName) -> None:
    # The SDK retries once (SDK_MAX_RETRIES): both attempts fail.
    llm.script(Reply.error(500, "model overloaded"), Reply.error(500, "model overloaded"))

    with pytest.raises(UpstreamError) as caught:
        turn(name, llm, RecordingTools())

    assert caught.value.message == f"{name} answered 500: model overloaded"
    assert caught.value.details["provider"] == name
    assert caught.value.details["status"] == 500
    assert caught.value.status == 502
    assert len(llm.requests) == 2
