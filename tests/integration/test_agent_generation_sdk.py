"""Generation through the real openai and anthropic SDKs, against a local server that speaks
their APIs (tests/fakes/llm_server.py): a draft with an error, a repair round, a valid result."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowlane.api.app import create_app
from flowlane.config import AgentSettings, EngineSettings, IntegrationSettings
from flowlane.runtime.node_services import RuntimeNodeServices
from flowlane.runtime.services import Services
from tests.fakes.llm_server import FakeLLM, Reply
from tests.sse import events_of

VALID_DRAFT: dict[str, Any] = {
    "name": "Summarise form submissions to Slack",
    "description": "When the contact form is submitted, summarise it and post it to #sales",
    "timezone": "UTC",
    "nodes": [
        {
            "id": "form-submitted",
            "name": "Contact form submitted",
            "type": "TRIGGER",
            "subtype": "WEBHOOK",
            "parameters": {"path": "contact-form", "method": "POST"},
        },
        {
            "id": "is-urgent",
            "name": "Urgent?",
            "type": "FLOW",
            "subtype": "IF",
            "parameters": {
                "conditions": [
                    {"left": "{{ input.body.message }}", "op": "contains", "right": "urgent"}
                ],
                "combinator": "and",
            },
        },
        {
            "id": "summarise",
            "name": "Summarise",
            "type": "AI_AGENT",
            "subtype": "CHAT",
            "parameters": {"prompt": "Summarise: {{ $string(input.body) }}", "max_tokens": 200},
        },
        {
            "id": "post-to-slack",
            "name": "Post to #sales",
            "type": "EXTERNAL_ACTION",
            "subtype": "SLACK",
            "parameters": {
                "operation": "post_message",
                "channel": "#sales",
                "text": "{{ input.text }}",
            },
            "credentials": {"slack": "slack-bot"},
        },
    ],
    "edges": [
        {"source": "form-submitted", "target": "is-urgent"},
        {"source": "is-urgent", "target": "summarise", "port": "true"},
        {"source": "summarise", "target": "post-to-slack"},
    ],
    "missing_info": ["the Slack channel (assumed #sales)"],
}


def broken_draft() -> dict[str, Any]:
    """The same draft with a port IF does not have: a mistake models make."""
    draft = copy.deepcopy(VALID_DRAFT)
    draft["edges"][1]["port"] = "yes"
    return draft


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def client_for(services: Services, provider: str, llm: FakeLLM) -> TestClient:
    services.agent = AgentSettings(provider=provider)  # type: ignore[arg-type]
    services.node_services = RuntimeNodeServices(
        services,
        engine=EngineSettings(allow_private_network=True),
        integrations=IntegrationSettings(
            openai_api_key="sk-test",
            openai_base_url=llm.openai_base_url,
            anthropic_api_key="sk-ant-test",
            anthropic_base_url=llm.anthropic_base_url,
        ),
    )
    return TestClient(create_app(None, services), raise_server_exceptions=False)


def tool_result_fed_back(provider: str, request: dict[str, Any]) -> str:
    last = request["messages"][-1]
    if provider == "openai":
        assert last["role"] == "tool"
        return str(last["content"])
    block = last["content"][0]
    assert block["type"] == "tool_result"
    assert block["is_error"] is True
    content = block["content"]
    return content if isinstance(content, str) else " ".join(c["text"] for c in content)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_draft_with_an_error_is_repaired_in_one_round(
    services: Services, alice: dict[str, str], llm: FakeLLM, provider: str
) -> None:
    # Given a model whose first draft uses a port IF does not have, and whose second is right.
    llm.script(
        Reply.tool_call("submit_workflow", broken_draft(), call_id="call_a"),
        Reply.tool_call("submit_workflow", VALID_DRAFT, call_id="call_b"),
    )

    with client_for(services, provider, llm) as client:
        response = client.post(
            "/api/v1/workflows/generate",
            json={"description": VALID_DRAFT["description"]},
            headers=alice,
        )

    # Then the workflow is saved after one repair round: 1 draft + 1 repair = 2 calls.
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True, body["errors"]
    assert (body["provider"], body["model_calls"], body["repair_rounds"]) == (provider, 2, 1)
    assert "the Slack channel (assumed #sales)" in body["missing_info"]
    nodes = {n["id"] for n in body["workflow"]["nodes"]}
    assert nodes == {n["id"] for n in VALID_DRAFT["nodes"]}
    assert llm.pending == 0

    first, second = (r.json for r in llm.requests)
    # The draft is one structured output: the submit tool, forced.
    if provider == "openai":
        assert first["tools"][0]["function"]["name"] == "submit_workflow"
        assert first["tool_choice"] == {"type": "function", "function": {"name": "submit_workflow"}}
    else:
        assert first["tools"][0]["name"] == "submit_workflow"
        assert first["tool_choice"] == {"type": "tool", "name": "submit_workflow"}
    # The node catalogue the search step found is in the prompt.
    system = first["messages"][0]["content"] if provider == "openai" else first["system"]
    assert "EXTERNAL_ACTION.SLACK" in system
    # The repair round feeds the validation error back as the tool's result.
    feedback = tool_result_fed_back(provider, second)
    assert "UNKNOWN_PORT" in feedback
    assert "is-urgent" in feedback


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_model_that_never_gets_it_right_fails_after_three_repairs(
    services: Services, alice: dict[str, str], llm: FakeLLM, provider: str
) -> None:
    llm.script(*(Reply.tool_call("submit_workflow", broken_draft()) for _ in range(4)))

    with client_for(services, provider, llm) as client:
        response = client.post(
            "/api/v1/workflows/generate", json={"description": "form to slack"}, headers=alice
        )
        listed = client.get("/api/v1/workflows", headers=alice)

    body = response.json()
    assert body["success"] is False
    assert body["model_calls"] == 4
    assert body["repair_rounds"] == 3
    assert any("UNKNOWN_PORT" in e for e in body["errors"])
    assert body["workflow"] is None
    assert body["draft"]["name"] == VALID_DRAFT["name"]
    assert listed.json()["total_count"] == 0  # nothing half-made was saved


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_submission_that_is_not_a_draft_is_sent_back(
    services: Services, alice: dict[str, str], llm: FakeLLM, provider: str
) -> None:
    not_a_draft = {"name": "x", "nodes": [{"id": "a"}]}
    llm.script(
        Reply.tool_call("submit_workflow", not_a_draft),
        Reply.tool_call("submit_workflow", VALID_DRAFT),
    )
    with client_for(services, provider, llm) as client:
        response = client.post(
            "/api/v1/workflows/generate", json={"description": "form to slack"}, headers=alice
        )

    assert response.json()["success"] is True
    feedback = tool_result_fed_back(provider, llm.requests[1].json)
    assert "nodes.0.type" in feedback


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_provider_error_is_a_502(
    services: Services, alice: dict[str, str], llm: FakeLLM, provider: str
) -> None:
    llm.script(Reply.error(500), Reply.error(500))  # the SDK retries once
    with client_for(services, provider, llm) as client:
        response = client.post(
            "/api/v1/workflows/generate", json={"description": "form to slack"}, headers=alice
        )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "UPSTREAM_ERROR"


def test_refine_through_a_model_keeps_the_rest(
    services: Services, alice: dict[str, str], llm: FakeLLM
) -> None:
    changed = copy.deepcopy(VALID_DRAFT)
    changed["nodes"][3]["parameters"]["channel"] = "#leads"
    llm.script(
        Reply.tool_call("submit_workflow", VALID_DRAFT),
        Reply.tool_call("submit_workflow", changed),
    )
    with client_for(services, "openai", llm) as client:
        made = client.post(
            "/api/v1/workflows/generate", json={"description": "form to slack"}, headers=alice
        ).json()["workflow"]
        response = client.post(
            f"/api/v1/workflows/{made['id']}/refine",
            json={"feedback": "post to #leads"},
            headers=alice,
        )

    body = response.json()
    assert body["success"] is True, body["errors"]
    assert body["changes"] == ['changed \'post-to-slack\' channel from "#sales" to "#leads"']
    # The model saw the current workflow and the feedback.
    prompt = llm.requests[1].json["messages"][-1]["content"]
    assert "post to #leads" in prompt
    assert "post-to-slack" in prompt


def test_the_generation_stream_shows_the_repair_round(
    services: Services, alice: dict[str, str], llm: FakeLLM
) -> None:
    # Given a session, and a model whose first draft needs one repair.
    llm.script(
        Reply.tool_call("submit_workflow", broken_draft()),
        Reply.tool_call("submit_workflow", VALID_DRAFT),
    )
    with client_for(services, "anthropic", llm) as client:
        session_id = client.post("/api/v1/session", json={}, headers=alice).json()["session_id"]
        generated = client.post(
            "/api/v1/workflows/generate",
            json={"description": "form to slack", "session_id": session_id},
            headers=alice,
        ).json()
        stream = client.get(
            "/api/v1/workflow_generation", params={"session_id": session_id}, headers=alice
        )
        session = client.get(f"/api/v1/session/{session_id}", headers=alice).json()

    # Then the stream tells the whole progression, in order, with ids.
    events = events_of(stream.text)
    assert [e["data"]["type"] for e in events] == [
        "start",
        "draft",
        "debugging",
        "draft",
        "complete",
    ]
    debugging = events[2]["data"]["data"]
    assert debugging["round"] == 1
    assert any("UNKNOWN_PORT" in error for error in debugging["errors"])
    assert events[-1]["data"]["workflow_id"] == generated["workflow"]["id"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert (session["status"], session["workflow_id"]) == ("complete", generated["workflow"]["id"])


def test_a_provider_failure_mid_turn_is_the_query_streams_last_event(
    services: Services, alice: dict[str, str], llm: FakeLLM
) -> None:
    llm.script(Reply.error(500), Reply.error(500))  # the SDK retries once
    with client_for(services, "openai", llm) as client:
        session_id = client.post("/api/v1/session", json={}, headers=alice).json()["session_id"]
        response = client.post(
            "/api/v1/query/stream",
            json={"session_id": session_id, "message": "every day at 9 post to #ops"},
            headers=alice,
        )

    assert response.status_code == 200  # the stream had started
    last = events_of(response.text)[-1]["data"]
    assert last["type"] == "error"
    assert last["data"]["code"] == "UPSTREAM_ERROR"
