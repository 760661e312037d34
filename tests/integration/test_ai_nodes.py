"""AI_AGENT/CHAT through the real OpenAI and Anthropic SDKs, against a local fake of both APIs
(tests/fakes/llm_server.py), with memory on the real store (moto) and the offline provider."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.models.workflow import NodeData
from flowlane.nodes.ai_agent import (
    JSON_INSTRUCTION,
    MAX_REMEMBERED_CHARS,
    ChatAgent,
    ChatParameters,
)
from flowlane.nodes.base import NodeContext, NodeError
from flowlane.nodes.memory import ConversationMemory, ConversationParameters
from flowlane.runtime.node_services import RuntimeNodeServices
from flowlane.runtime.services import Services
from tests.conftest import REPO_ROOT
from tests.fakes.llm_server import FakeLLM, RecordedRequest, Reply

OPENAI_KEY = "sk-test-openai"
ANTHROPIC_KEY = "sk-ant-test"
WORKFLOW_ID = "wf-ai"
PROVIDERS = ["openai", "anthropic"]
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
    "required": ["city"],
}
WEATHER_TOOL = NodeData(
    id="weather",
    name="Weather lookup",
    type="TOOL",
    subtype="HTTP_TOOL",
    parameters={
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "method": "GET",
        "url": "https://weather.example.com/now",
        "input_schema": WEATHER_SCHEMA,
    },
)


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def node_services_for(
    services: Services, llm: FakeLLM | None = None, **overrides: Any
) -> RuntimeNodeServices:
    """Node services whose LLM settings are exactly these (never the developer's environment)."""
    settings: dict[str, Any] = {
        "openai_api_key": None,
        "openai_base_url": None,
        "anthropic_api_key": None,
        "anthropic_base_url": None,
        "openai_model": "gpt-test",
        "anthropic_model": "claude-test",
        "default_llm_provider": "auto",
        "llm_timeout_seconds": 10,
    }
    if llm is not None:
        settings.update(
            openai_api_key=OPENAI_KEY,
            openai_base_url=llm.openai_base_url,
            anthropic_api_key=ANTHROPIC_KEY,
            anthropic_base_url=llm.anthropic_base_url,
        )
    settings.update(overrides)
    return RuntimeNodeServices(
        services,
        engine=EngineSettings(allow_private_network=True),
        integrations=IntegrationSettings(**settings),
    )


class ToolRecorder:
    """A fake `ctx.run_tool`: records each call, answers with `result` or raises `error`."""

    def __init__(self, result: Any = None, error: NodeError | None = None) -> None:
        self.result = result
        self.error = error
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, node: NodeData, arguments: Any) -> Any:
        self.calls.append((node.id, arguments))
        if self.error is not None:
            raise self.error
        return self.result


def run_agent(
    node_services: Any,
    parameters: dict[str, Any],
    *,
    node_input: Any = None,
    attachments: dict[str, list[NodeData]] | None = None,
    run_tool: ToolRecorder | None = None,
    credentials: dict[str, str] | None = None,
    owner: str = "alice",
) -> dict[str, Any]:
    node = NodeData(
        id="agent",
        type="AI_AGENT",
        subtype="CHAT",
        parameters=parameters,
        credentials=credentials or {},
    )
    ctx = NodeContext(
        node=node,
        input=node_input,
        scope={"input": node_input, "nodes": {}, "workflow": {"id": WORKFLOW_ID}},
        services=node_services,
        owner=owner,
        workflow_id=WORKFLOW_ID,
        execution_id="ex-1",
        attachments=attachments or {},
        run_tool=run_tool,
    )
    result = ChatAgent().run(ctx, ChatParameters.model_validate(parameters))
    assert result.port == "main"
    output: dict[str, Any] = result.output
    return output


def key_sent(request: RecordedRequest) -> str:
    """The API key the SDK sent (Anthropic SDKs use `x-api-key` or, since 2.x, a bearer token)."""
    headers = request.headers
    if "x-api-key" in headers:
        return headers["x-api-key"]
    return headers["authorization"].removeprefix("Bearer ")


def texts_sent(provider: str, request: RecordedRequest) -> list[tuple[str, str]]:
    """(role, text) of every message the SDK sent, system prompt included, in one shape."""
    body = request.json
    if provider == "openai":
        return [(m["role"], m.get("content") or "") for m in body["messages"]]
    turns = [("system", body["system"])] if "system" in body else []
    for message in body["messages"]:
        for block in message["content"]:
            if block["type"] == "text":
                turns.append((message["role"], block["text"]))
    return turns


# -- text, json, options -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_text_answer_through_the_sdk(services: Services, llm: FakeLLM, provider: str) -> None:
    llm.script(Reply.with_text("Hello, Ada!", model="answering-model"))

    output = run_agent(
        node_services_for(services, llm),
        {
            "provider": provider,
            "model": "test-model",
            "system_prompt": "Be brief.",
            "prompt": "Say hello to Ada.",
            "temperature": 0.2,
        },
    )

    assert output == {
        "text": "Hello, Ada!",
        "data": None,
        "provider": provider,
        "model": "answering-model",
        "usage": {"input_tokens": 11, "output_tokens": 7},
        "tool_calls": [],
    }
    [request] = llm.requests
    assert request.path == PATHS[provider]
    body = request.json
    assert body["model"] == "test-model"
    assert body["temperature"] == 0.2
    assert "tools" not in body
    assert texts_sent(provider, request) == [("system", "Be brief."), ("user", "Say hello to Ada.")]
    if provider == "openai":
        assert key_sent(request) == OPENAI_KEY
        assert body["max_completion_tokens"] == 1024
        assert "response_format" not in body
    else:
        assert key_sent(request) == ANTHROPIC_KEY
        assert body["max_tokens"] == 1024


@pytest.mark.parametrize("provider", PROVIDERS)
def test_default_model_and_prompt_from_input(
    services: Services, llm: FakeLLM, provider: str
) -> None:
    llm.script(Reply.with_text("ok"))
    services_ = node_services_for(services, llm, openai_model="gpt-x", anthropic_model="claude-x")

    output = run_agent(services_, {"provider": provider}, node_input={"ticket": 42})

    expected = "gpt-x" if provider == "openai" else "claude-x"
    assert llm.requests[0].json["model"] == expected
    assert output["model"] == expected
    # Without a prompt the input is the prompt, as JSON.
    assert texts_sent(provider, llm.requests[0]) == [("user", '{"ticket": 42}')]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_json_output(services: Services, llm: FakeLLM, provider: str) -> None:
    llm.script(Reply.with_text('{"sentiment": "positive", "score": 0.9}'))

    output = run_agent(
        node_services_for(services, llm),
        {"provider": provider, "prompt": "Rate: I love it", "output_format": "json"},
    )

    assert output["data"] == {"sentiment": "positive", "score": 0.9}
    assert output["text"] == '{"sentiment": "positive", "score": 0.9}'
    body = llm.requests[0].json
    if provider == "openai":
        assert body["response_format"] == {"type": "json_object"}
    assert texts_sent(provider, llm.requests[0])[0] == ("system", JSON_INSTRUCTION)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_json_in_a_code_fence_is_accepted(services: Services, llm: FakeLLM, provider: str) -> None:
    llm.script(Reply.with_text('Here you go:\n```json\n{"a": [1, 2]}\n```'))

    output = run_agent(
        node_services_for(services, llm),
        {"provider": provider, "prompt": "list", "output_format": "json"},
    )

    assert output["data"] == {"a": [1, 2]}
    assert len(llm.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_invalid_json_is_repaired_once(services: Services, llm: FakeLLM, provider: str) -> None:
    llm.script(Reply.with_text("The sentiment is positive."), Reply.with_text('{"ok": true}'))

    output = run_agent(
        node_services_for(services, llm),
        {"provider": provider, "prompt": "Rate it", "output_format": "json"},
    )

    assert output["data"] == {"ok": True}
    assert output["usage"] == {"input_tokens": 22, "output_tokens": 14}
    second = texts_sent(provider, llm.requests[1])
    assert second[-2] == ("assistant", "The sentiment is positive.")
    assert second[-1][0] == "user"
    assert "not valid JSON" in second[-1][1]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_json_still_invalid_after_repair_fails(
    services: Services, llm: FakeLLM, provider: str
) -> None:
    llm.script(Reply.with_text("positive"), Reply.with_text("still positive"))

    with pytest.raises(NodeError) as caught:
        run_agent(
            node_services_for(services, llm),
            {"provider": provider, "prompt": "Rate it", "output_format": "json"},
        )

    assert caught.value.code == "UPSTREAM_ERROR"
    assert caught.value.details["service"] == provider
    assert caught.value.details["text"] == "still positive"
    assert len(llm.requests) == 2


def test_anthropic_refuses_a_temperature_above_one(services: Services, llm: FakeLLM) -> None:
    with pytest.raises(NodeError) as caught:
        run_agent(
            node_services_for(services, llm),
            {"provider": "anthropic", "prompt": "hi", "temperature": 1.5},
        )

    assert caught.value.code == "VALIDATION_ERROR"
    assert llm.requests == []


# -- tools ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_round(services: Services, llm: FakeLLM, provider: str) -> None:
    weather = {"status_code": 200, "headers": {}, "body": {"temp_c": 21, "sky": "clear"}}
    tool = ToolRecorder(result=weather)
    llm.script(
        Reply.tool_call("get_weather", {"city": "Paris"}, call_id="call_42"),
        Reply.with_text("It is 21 degrees and clear in Paris."),
    )

    output = run_agent(
        node_services_for(services, llm),
        {"provider": provider, "prompt": "What is the weather in Paris?"},
        attachments={"ai_tool": [WEATHER_TOOL]},
        run_tool=tool,
    )

    assert tool.calls == [("weather", {"city": "Paris"})]
    assert output["text"] == "It is 21 degrees and clear in Paris."
    assert output["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "Paris"}, "result": weather}
    ]
    assert output["usage"] == {"input_tokens": 22, "output_tokens": 14}
    first, second = (r.json for r in llm.requests)
    result_text = json.dumps(weather)
    if provider == "openai":
        assert first["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get the current weather for a city",
                    "parameters": WEATHER_SCHEMA,
                },
            }
        ]
        assistant, tool_message = second["messages"][-2:]
        assert assistant["role"] == "assistant"
        assert assistant["tool_calls"][0]["id"] == "call_42"
        assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
        assert tool_message == {"role": "tool", "tool_call_id": "call_42", "content": result_text}
    else:
        assert first["tools"] == [
            {
                "name": "get_weather",
                "description": "Get the current weather for a city",
                "input_schema": WEATHER_SCHEMA,
            }
        ]
        assistant, results = second["messages"][-2:]
        assert assistant == {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_42",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        }
        assert results == {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_42",
                    "content": result_text,
                    "is_error": False,
                }
            ],
        }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failing_tool_is_reported_to_the_model(
    services: Services, llm: FakeLLM, provider: str
) -> None:
    tool = ToolRecorder(error=NodeError("UPSTREAM_ERROR", "weather service is down"))
    llm.script(
        Reply.tool_call("get_weather", {"city": "Oslo"}),
        Reply.with_text("Sorry, the weather service is down."),
    )

    output = run_agent(
        node_services_for(services, llm),
        {"provider": provider, "prompt": "Weather in Oslo?"},
        attachments={"ai_tool": [WEATHER_TOOL]},
        run_tool=tool,
    )

    assert output["text"] == "Sorry, the weather service is down."
    assert output["tool_calls"] == [
        {
            "name": "get_weather",
            "arguments": {"city": "Oslo"},
            "error": {"code": "UPSTREAM_ERROR", "message": "weather service is down"},
        }
    ]
    fed_back = llm.requests[1].json["messages"][-1]
    if provider == "openai":
        assert fed_back["content"] == "Error UPSTREAM_ERROR: weather service is down"
    else:
        assert fed_back["content"][0]["is_error"] is True
        assert fed_back["content"][0]["content"] == "Error UPSTREAM_ERROR: weather service is down"


def test_unknown_tool_and_bad_arguments_go_back_to_the_model(
    services: Services, llm: FakeLLM
) -> None:
    tool = ToolRecorder(result="sunny")
    llm.script(
        Reply.tool_call("get_forecast", {"city": "Rome"}, call_id="c1"),
        Reply.tool_call("get_weather", "{not json", call_id="c2"),
        Reply.tool_call("get_weather", {"city": "Rome"}, call_id="c3"),
        Reply.with_text("Sunny in Rome."),
    )

    output = run_agent(
        node_services_for(services, llm),
        {"provider": "openai", "prompt": "Weather in Rome?"},
        attachments={"ai_tool": [WEATHER_TOOL]},
        run_tool=tool,
    )

    assert tool.calls == [("weather", {"city": "Rome"})]
    assert [c.get("error", {}).get("code") for c in output["tool_calls"]] == [
        "VALIDATION_ERROR",
        "VALIDATION_ERROR",
        None,
    ]
    assert output["tool_calls"][1]["arguments"] == "{not json"
    assert "no tool named 'get_forecast'" in llm.requests[1].json["messages"][-1]["content"]
    # The malformed arguments are echoed back as the model sent them.
    echoed = llm.requests[2].json["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert echoed == "{not json"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_too_many_tool_rounds_fail(services: Services, llm: FakeLLM, provider: str) -> None:
    tool = ToolRecorder(result={"temp_c": 1})
    llm.script(
        Reply.tool_call("get_weather", {"city": "A"}),
        Reply.tool_call("get_weather", {"city": "B"}),
    )

    with pytest.raises(NodeError) as caught:
        run_agent(
            node_services_for(services, llm),
            {"provider": provider, "prompt": "Loop forever", "max_iterations": 2},
            attachments={"ai_tool": [WEATHER_TOOL]},
            run_tool=tool,
        )

    assert caught.value.code == "AGENT_ITERATIONS_EXCEEDED"
    assert caught.value.details["max_iterations"] == 2
    assert caught.value.details["requested"] == ["get_weather"]
    # The tools of the last request are not run: nothing would read their result.
    assert tool.calls == [("weather", {"city": "A"})]
    assert len(llm.requests) == 2


def test_tool_names_are_sanitised_and_unique(services: Services, llm: FakeLLM) -> None:
    llm.script(Reply.with_text("ok"))
    unnamed = NodeData(id="fetch issues!", type="TOOL", subtype="HTTP_TOOL", parameters={})
    twin = NodeData(id="w2", type="TOOL", subtype="HTTP_TOOL", parameters=WEATHER_TOOL.parameters)
    disabled = WEATHER_TOOL.model_copy(update={"id": "off", "disabled": True})

    run_agent(
        node_services_for(services, llm),
        {"provider": "openai", "prompt": "hi"},
        attachments={"ai_tool": [WEATHER_TOOL, unnamed, twin, disabled]},
        run_tool=ToolRecorder(),
    )

    tools = llm.requests[0].json["tools"]
    assert [t["function"]["name"] for t in tools] == [
        "get_weather",
        "fetch_issues",
        "get_weather_2",
    ]
    assert tools[1]["function"]["description"] == "fetch issues!"
    assert tools[1]["function"]["parameters"] == {"type": "object", "properties": {}}


# -- provider errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_500_is_upstream_error(services: Services, llm: FakeLLM, provider: str) -> None:
    # The SDK retries a 5xx once (SDK_MAX_RETRIES): both attempts fail.
    llm.script(Reply.error(500, "overloaded"), Reply.error(500, "still overloaded"))

    with pytest.raises(NodeError) as caught:
        run_agent(node_services_for(services, llm), {"provider": provider, "prompt": "hi"})

    assert caught.value.code == "UPSTREAM_ERROR"
    assert caught.value.details == {"service": provider, "status": 500}
    assert "still overloaded" in caught.value.message
    assert len(llm.requests) == 2
    assert llm.pending == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_transient_500_is_retried_by_the_sdk(
    services: Services, llm: FakeLLM, provider: str
) -> None:
    llm.script(Reply.error(500, "blip"), Reply.with_text("fine"))

    output = run_agent(node_services_for(services, llm), {"provider": provider, "prompt": "hi"})

    assert output["text"] == "fine"
    assert len(llm.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_401_is_upstream_error_not_retried(
    services: Services, llm: FakeLLM, provider: str
) -> None:
    llm.script(Reply.error(401, "invalid x-api-key"))

    with pytest.raises(NodeError) as caught:
        run_agent(node_services_for(services, llm), {"provider": provider, "prompt": "hi"})

    assert caught.value.code == "UPSTREAM_ERROR"
    assert caught.value.details == {"service": provider, "status": 401}
    assert "invalid x-api-key" in caught.value.message
    assert len(llm.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_slow_provider_times_out(services: Services, llm: FakeLLM, provider: str) -> None:
    # Two slow answers: the first attempt and the SDK's one retry.
    llm.script(Reply.with_text("late", delay=5), Reply.with_text("late", delay=5))

    with pytest.raises(NodeError) as caught:
        run_agent(
            node_services_for(services, llm, llm_timeout_seconds=0.3),
            {"provider": provider, "prompt": "hi"},
        )

    assert caught.value.code == "TIMEOUT"
    assert caught.value.details["service"] == provider
    assert len(llm.requests) == 2


def test_unreachable_provider_is_upstream_error_without_status(services: Services) -> None:
    with FakeLLM() as gone:
        base_url = gone.openai_base_url
    # The server is stopped: nothing listens on its port any more.
    services_ = node_services_for(services, openai_api_key="k", openai_base_url=base_url)

    with pytest.raises(NodeError) as caught:
        run_agent(services_, {"provider": "openai", "prompt": "hi"})

    assert caught.value.code == "UPSTREAM_ERROR"
    assert caught.value.details == {"service": "openai"}


# -- provider choice and keys ----------------------------------------------------------------------


def test_auto_without_keys_is_offline(services: Services, llm: FakeLLM) -> None:
    output = run_agent(node_services_for(services), {"prompt": "Summarise: All good."})

    assert output["provider"] == "offline"
    assert output["text"].startswith("[offline]")
    assert llm.requests == []


def test_auto_prefers_openai_then_anthropic(services: Services, llm: FakeLLM) -> None:
    llm.script(Reply.with_text("a"), Reply.with_text("b"), Reply.with_text("c"))

    both = run_agent(node_services_for(services, llm), {"prompt": "hi"})
    only_anthropic = run_agent(
        node_services_for(services, llm, openai_api_key=None), {"prompt": "hi"}
    )
    default_anthropic = run_agent(
        node_services_for(services, llm, default_llm_provider="anthropic"), {"prompt": "hi"}
    )

    assert [both["provider"], only_anthropic["provider"], default_anthropic["provider"]] == [
        "openai",
        "anthropic",
        "anthropic",
    ]
    assert [r.path for r in llm.requests] == [
        PATHS["openai"],
        PATHS["anthropic"],
        PATHS["anthropic"],
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_explicit_provider_without_key_names_the_setting(services: Services, provider: str) -> None:
    with pytest.raises(NodeError) as caught:
        run_agent(node_services_for(services), {"provider": provider, "prompt": "hi"})

    assert caught.value.code == "CREDENTIAL_NOT_FOUND"
    assert f"FLOWLANE_{provider.upper()}_API_KEY" in caught.value.message
    assert caught.value.details["provider"] == provider


class StoredCredentials:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: list[str] = []

    def get(self, name: str) -> Any:
        self.asked.append(name)
        if name not in self.values:
            raise NodeError("CREDENTIAL_NOT_FOUND", f"no credential {name!r}")
        return self.values[name]


class WithCredentials:
    """Real node services, with the owner's credentials replaced by a dict."""

    def __init__(self, inner: RuntimeNodeServices, credentials: StoredCredentials) -> None:
        self._inner = inner
        self._credentials = credentials
        self.owners: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def credentials(self, owner: str) -> StoredCredentials:
        self.owners.append(owner)
        return self._credentials


@pytest.mark.parametrize(
    ("provider", "stored"),
    [("openai", {"api_key": "sk-from-credential"}), ("anthropic", "sk-from-credential")],
)
def test_node_credential_wins_over_the_setting(
    services: Services, llm: FakeLLM, provider: str, stored: Any
) -> None:
    llm.script(Reply.with_text("ok"))
    credentials = StoredCredentials({"my-llm-key": stored})
    services_ = WithCredentials(node_services_for(services, llm), credentials)

    run_agent(
        services_,
        {"provider": provider, "prompt": "hi"},
        credentials={provider: "my-llm-key"},
        owner="carol",
    )

    assert key_sent(llm.requests[0]) == "sk-from-credential"
    assert services_.owners == ["carol"]
    assert credentials.asked == ["my-llm-key"]


def test_a_node_credential_makes_auto_choose_its_provider(services: Services, llm: FakeLLM) -> None:
    llm.script(Reply.with_text("ok"))
    services_ = WithCredentials(
        node_services_for(services, anthropic_base_url=llm.anthropic_base_url),
        StoredCredentials({"claude": {"api_key": "sk-ant-node"}}),
    )

    output = run_agent(services_, {"prompt": "hi"}, credentials={"anthropic": "claude"})

    assert output["provider"] == "anthropic"
    assert key_sent(llm.requests[0]) == "sk-ant-node"


def test_a_credential_without_a_key_fails_clearly(services: Services, llm: FakeLLM) -> None:
    services_ = WithCredentials(
        node_services_for(services, llm), StoredCredentials({"odd": {"user": "x"}})
    )

    with pytest.raises(NodeError) as caught:
        run_agent(services_, {"provider": "openai", "prompt": "hi"}, credentials={"openai": "odd"})

    assert caught.value.code == "CREDENTIAL_NOT_FOUND"
    assert "'odd'" in caught.value.message
    assert llm.requests == []


def test_ai_model_attachment_overrides_provider_and_model(services: Services, llm: FakeLLM) -> None:
    llm.script(Reply.with_text("from claude"))
    model_node = NodeData(
        id="model",
        type="AI_AGENT",
        subtype="MODEL",
        parameters={"provider": "anthropic", "model": "claude-from-attachment"},
    )

    output = run_agent(
        node_services_for(services, llm),
        {"provider": "openai", "model": "gpt-ignored", "prompt": "hi"},
        attachments={"ai_model": [model_node]},
    )

    assert output["provider"] == "anthropic"
    assert llm.requests[0].path == PATHS["anthropic"]
    assert llm.requests[0].json["model"] == "claude-from-attachment"


# -- offline ---------------------------------------------------------------------------------------


ISSUES = {
    "repo": "acme/widgets",
    "issues": [
        {"title": "Login fails on Safari", "state": "open"},
        {"title": "Crash when saving a draft", "state": "open"},
        {"title": "Typo in footer", "state": "closed"},
    ],
}


def test_offline_is_deterministic_and_labelled(services: Services) -> None:
    params = {"provider": "offline", "prompt": "Summarise today's issues", "model": "gpt-4o"}

    first = run_agent(node_services_for(services), params, node_input=ISSUES)
    second = run_agent(node_services_for(services), params, node_input=ISSUES)

    assert first == second
    assert first["provider"] == "offline"
    assert first["model"] == "offline"  # never pretends to be the model it was asked for
    assert first["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert first["text"].startswith("[offline] Summary: ")
    assert "3 items" in first["text"]
    assert "Login fails on Safari" in first["text"]
    assert "acme/widgets" in first["text"]


def test_offline_summarises_text_prompts_by_their_first_sentences(services: Services) -> None:
    text = "The deploy finished at noon. All checks passed. Latency is stable. Nothing else."

    output = run_agent(
        node_services_for(services),
        {"provider": "offline", "prompt": f"Give me a brief recap: {text}"},
    )

    assert output["text"] == (
        "[offline] Summary: Give me a brief recap: The deploy finished at noon. All checks passed."
    )


def test_offline_json_output(services: Services) -> None:
    output = run_agent(
        node_services_for(services),
        {"provider": "offline", "prompt": "Classify these", "output_format": "json"},
        node_input=ISSUES,
    )

    assert output["data"]["offline"] is True
    assert output["data"]["input"] == ISSUES
    assert "3 items" in output["data"]["summary"]
    assert json.loads(output["text"]) == output["data"]


def test_offline_calls_the_tool_the_prompt_asks_for(services: Services) -> None:
    tool = ToolRecorder(result={"status_code": 200, "body": {"temp_c": 18}})
    node_input = {"city": "Lyon", "units": "metric", "unrelated": True}

    output = run_agent(
        node_services_for(services),
        {"provider": "offline", "prompt": "Get the weather for this city"},
        node_input=node_input,
        attachments={"ai_tool": [WEATHER_TOOL]},
        run_tool=tool,
    )

    assert tool.calls == [("weather", {"city": "Lyon", "units": "metric"})]
    assert output["tool_calls"][0]["result"] == {"status_code": 200, "body": {"temp_c": 18}}
    assert output["text"].startswith("[offline] get_weather returned:")
    assert "temp_c: 18" in output["text"]


def test_offline_does_not_call_a_tool_the_prompt_does_not_ask_for(services: Services) -> None:
    tool = ToolRecorder(result="x")

    output = run_agent(
        node_services_for(services),
        {"provider": "offline", "prompt": "Translate this sentence"},
        node_input={"city": "Lyon"},
        attachments={"ai_tool": [WEATHER_TOOL]},
        run_tool=tool,
    )

    assert tool.calls == []
    assert output["tool_calls"] == []
    assert output["text"].startswith("[offline] ")


# -- memory ----------------------------------------------------------------------------------------


def conversation_node(**parameters: Any) -> NodeData:
    return NodeData(id="history", type="MEMORY", subtype="CONVERSATION", parameters=parameters)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_memory_keeps_the_conversation_across_runs(
    services: Services, llm: FakeLLM, provider: str
) -> None:
    services_ = node_services_for(services, llm)
    memory = {"ai_memory": [conversation_node(conversation_id="chat-{{ input.user }}")]}
    llm.script(Reply.with_text("Nice to meet you, Ada."), Reply.with_text("Your name is Ada."))

    run_agent(
        services_,
        {"provider": provider, "prompt": "My name is Ada.", "system_prompt": "Be kind."},
        node_input={"user": "u1"},
        attachments=memory,
    )
    second = run_agent(
        services_,
        {"provider": provider, "prompt": "What is my name?", "system_prompt": "Be kind."},
        node_input={"user": "u1"},
        attachments=memory,
    )

    assert second["text"] == "Your name is Ada."
    assert texts_sent(provider, llm.requests[1]) == [
        ("system", "Be kind."),
        ("user", "My name is Ada."),
        ("assistant", "Nice to meet you, Ada."),
        ("user", "What is my name?"),
    ]
    # The conversation is an ordinary MEMORY/CONVERSATION a flow can read.
    read = ConversationMemory().run(
        NodeContext(
            node=conversation_node(conversation_id="chat-u1"),
            input=None,
            scope={},
            services=services_,
            owner="alice",
            workflow_id=WORKFLOW_ID,
            execution_id="ex-2",
        ),
        ConversationParameters(conversation_id="chat-u1"),
    )
    assert [m["content"] for m in read.output["messages"]] == [
        "My name is Ada.",
        "Nice to meet you, Ada.",
        "What is my name?",
        "Your name is Ada.",
    ]


def test_memory_history_is_bounded_and_per_owner(services: Services) -> None:
    services_ = node_services_for(services)
    memory = {"ai_memory": [conversation_node(conversation_id="c", max_messages=2)]}
    for n in range(3):
        run_agent(services_, {"prompt": f"message {n}"}, attachments=memory)

    store = services_.memory("alice", WORKFLOW_ID)
    assert len(store.read_messages("workflow", "c", 100)) == 6
    assert store.read_messages("workflow", "c", 2)[0]["content"] == "message 2"
    assert services_.memory("bob", WORKFLOW_ID).read_messages("workflow", "c", 100) == []


def test_a_failed_run_leaves_memory_untouched(services: Services, llm: FakeLLM) -> None:
    services_ = node_services_for(services, llm)
    llm.script(Reply.error(401, "bad key"))

    with pytest.raises(NodeError):
        run_agent(
            services_,
            {"provider": "openai", "prompt": "hi"},
            attachments={"ai_memory": [conversation_node(conversation_id="c")]},
        )

    assert services_.memory("alice", WORKFLOW_ID).read_messages("workflow", "c", 10) == []


def test_a_huge_prompt_is_remembered_cut_not_refused(services: Services) -> None:
    services_ = node_services_for(services)
    huge = "word " * 100_000  # 500 KB: more than a memory item can hold

    output = run_agent(
        services_,
        {"prompt": huge},
        attachments={"ai_memory": [conversation_node(conversation_id="c")]},
    )

    assert output["provider"] == "offline"
    user, answer = services_.memory("alice", WORKFLOW_ID).read_messages("workflow", "c", 10)
    assert user["content"].startswith("word word")
    assert user["content"].endswith(
        f"[truncated: {len(huge) - MAX_REMEMBERED_CHARS} more characters]"
    )
    assert answer["content"] == output["text"]


def test_key_value_memory_is_context_for_the_model(services: Services, llm: FakeLLM) -> None:
    services_ = node_services_for(services, llm)
    services_.memory("alice", WORKFLOW_ID).set("user", "preferences", {"units": "metric"})
    llm.script(Reply.with_text("ok"))
    prefs = NodeData(
        id="prefs",
        type="MEMORY",
        subtype="KEY_VALUE",
        parameters={"key": "preferences", "scope": "user"},
    )

    run_agent(
        services_,
        {"provider": "openai", "prompt": "hi", "system_prompt": "Be brief."},
        attachments={"ai_memory": [prefs]},
    )

    system = llm.requests[0].json["messages"][0]
    assert system == {
        "role": "system",
        "content": 'Be brief.\n\nRemembered preferences: {"units": "metric"}',
    }


# -- cold start ------------------------------------------------------------------------------------


def test_importing_the_ai_nodes_imports_no_llm_sdk() -> None:
    code = (
        "import sys\n"
        "import flowlane.nodes.ai_agent, flowlane.nodes.memory, flowlane.nodes.llm\n"
        "import flowlane.nodes.llm.openai_provider, flowlane.nodes.llm.anthropic_provider\n"
        "loaded = sorted(m for m in ('openai', 'anthropic') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.stdout.strip() == ""
