"""The agent's routes on the embedded runtime, offline (no LLM key): sessions, generate, refine,
the chat and generation streams (with Last-Event-ID resume), and queries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowlane.agent.service import AgentService
from flowlane.api.app import create_app
from flowlane.config import AgentSettings
from flowlane.engine.graph import WorkflowGraph
from flowlane.engine.validation import validate_workflow
from flowlane.models.workflow import WorkflowData
from flowlane.runtime.services import Services
from flowlane.store.sessions import SessionRepository
from tests.sse import events_of

FLAGSHIP = (
    "every weekday at 9 fetch our open GitHub issues, summarise them with AI and post to "
    "Slack; if there are more than 10, ask my manager to approve first"
)


@pytest.fixture
def inline_services(services: Services) -> Services:
    """Worker jobs run inline, in the request: the streams then have everything at once."""
    services.agent = AgentSettings(provider="offline", stream_budget_seconds=2.0)
    services.agent_dispatch = lambda job: AgentService(services).run_job(job)
    return services


@pytest.fixture
def agent_client(inline_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(None, inline_services), raise_server_exceptions=False) as client:
        yield client


def assert_connected(workflow: WorkflowData) -> None:
    report = validate_workflow(workflow)
    assert report.errors == [], report.errors
    assert not [w for w in report.warnings if w.code == "UNREACHABLE_NODE"]
    graph = WorkflowGraph(workflow.nodes, workflow.connections)
    assert graph  # built without error: every edge names a node


def new_session(client: TestClient, headers: dict[str, str], **body: Any) -> str:
    response = client.post("/api/v1/session", json=body or {"action": "create"}, headers=headers)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


# -- sessions ----------------------------------------------------------------------------------


def test_a_session_is_created_read_and_deleted(
    agent_client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    created = agent_client.post("/api/v1/session", json={"action": "create"}, headers=alice)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["session_id"].startswith("ses_")
    assert body["created_at"].endswith("Z")
    assert body["expires_at"] > body["created_at"]

    read = agent_client.get(f"/api/v1/session/{body['session_id']}", headers=alice)
    assert read.status_code == 200
    assert read.json()["status"] == "idle"
    assert read.json()["messages"] == []
    # Another user's session does not exist for them.
    assert agent_client.get(f"/api/v1/session/{body['session_id']}", headers=bob).status_code == 404

    deleted = agent_client.delete(f"/api/v1/session/{body['session_id']}", headers=alice)
    assert deleted.status_code == 200
    gone = agent_client.get(f"/api/v1/session/{body['session_id']}", headers=alice)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "NOT_FOUND"


def test_an_edit_session_needs_a_workflow_the_caller_owns(
    agent_client: TestClient,
    alice: dict[str, str],
    bob: dict[str, str],
    make_workflow: Any,
) -> None:
    missing = agent_client.post("/api/v1/session", json={"action": "edit"}, headers=alice)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "VALIDATION_ERROR"

    workflow = make_workflow(alice)
    theirs = agent_client.post(
        "/api/v1/session", json={"action": "edit", "workflow_id": workflow["id"]}, headers=bob
    )
    assert theirs.status_code == 404
    mine = agent_client.post(
        "/api/v1/session", json={"action": "edit", "workflow_id": workflow["id"]}, headers=alice
    )
    assert mine.status_code == 201
    assert mine.json()["workflow_id"] == workflow["id"]


def test_an_expired_session_is_gone_although_its_item_remains(
    agent_client: TestClient, inline_services: Services, alice: dict[str, str]
) -> None:
    # Given sessions that live 60 s on a clock the test moves.
    now = [1_800_000_000.0]
    inline_services.sessions = SessionRepository(
        inline_services.table, ttl_seconds=60, clock=lambda: now[0]
    )
    session_id = new_session(agent_client, alice)
    now[0] += 30
    # Each use extends its life.
    assert agent_client.get(f"/api/v1/session/{session_id}", headers=alice).status_code == 200
    agent_client.post(
        "/api/v1/query", json={"session_id": session_id, "message": "hello"}, headers=alice
    )
    now[0] += 59
    assert agent_client.get(f"/api/v1/session/{session_id}", headers=alice).status_code == 200

    # When it goes unused past its TTL (moto never deletes the item; reads must not see it).
    now[0] += 61
    response = agent_client.get(f"/api/v1/session/{session_id}", headers=alice)

    # Then it is a 404 everywhere.
    assert response.status_code == 404
    assert "expire" in response.json()["error"]["message"]
    query = agent_client.post(
        "/api/v1/query", json={"session_id": session_id, "message": "hi"}, headers=alice
    )
    assert query.status_code == 404


# -- generate and refine -----------------------------------------------------------------------


def test_generate_turns_the_flagship_request_into_a_saved_connected_workflow(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    response = agent_client.post(
        "/api/v1/workflows/generate", json={"description": FLAGSHIP}, headers=alice
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True, body["errors"]
    assert body["provider"] == "offline"
    assert body["model_calls"] == 0
    assert 0 < body["confidence_score"] <= 1
    workflow = WorkflowData.model_validate(body["workflow"])
    assert_connected(workflow)
    kinds = {(n.type.value, n.subtype) for n in workflow.nodes}
    for kind in [
        ("TRIGGER", "SCHEDULE"),
        ("EXTERNAL_ACTION", "GITHUB"),
        ("AI_AGENT", "CHAT"),
        ("EXTERNAL_ACTION", "SLACK"),
        ("FLOW", "IF"),
        ("HUMAN_IN_THE_LOOP", "APPROVAL"),
    ]:
        assert kind in kinds
    schedule = next(n for n in workflow.nodes if n.subtype == "SCHEDULE")
    assert schedule.parameters["expression"] == "cron(0 9 ? * MON-FRI *)"
    # Saved as the caller's workflow.
    stored = agent_client.get(f"/api/v1/workflows/{workflow.id}", headers=alice)
    assert stored.status_code == 200
    assert stored.json()["workflow"]["nodes"] == body["workflow"]["nodes"]


def test_generate_refuses_a_blank_description(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    response = agent_client.post(
        "/api/v1/workflows/generate", json={"description": "   "}, headers=alice
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["errors"][0]["loc"] == ["body", "description"]


def test_generate_names_what_it_does_not_know(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    response = agent_client.post(
        "/api/v1/workflows/generate",
        json={"description": "when a row is added to our Airtable base, add a card in Trello"},
        headers=alice,
    )
    body = response.json()
    assert body["success"] is True, body["errors"]
    assert body["missing_info"], "an unknown service must be named, never silently dropped"
    subtypes = [n["subtype"] for n in body["workflow"]["nodes"]]
    assert "HTTP_REQUEST" in subtypes


def test_refine_changes_what_it_is_asked_and_keeps_the_rest(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    generated = agent_client.post(
        "/api/v1/workflows/generate", json={"description": FLAGSHIP}, headers=alice
    ).json()["workflow"]
    slack = next(n for n in generated["nodes"] if n["subtype"] == "SLACK")

    response = agent_client.post(
        f"/api/v1/workflows/{generated['id']}/refine",
        json={"feedback": "post it to #eng-alerts instead"},
        headers=alice,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True, body["errors"]
    updated = body["updated_workflow"]
    assert updated["revision"] == generated["revision"] + 1
    new_slack = next(n for n in updated["nodes"] if n["id"] == slack["id"])
    assert new_slack["parameters"]["channel"] == "#eng-alerts"
    assert any("channel" in change for change in body["changes"])
    # Everything else is as it was.
    others = {n["id"]: n for n in generated["nodes"] if n["id"] != slack["id"]}
    assert {n["id"]: n for n in updated["nodes"] if n["id"] != slack["id"]} == others
    assert updated["connections"] == generated["connections"]


def test_refine_of_another_users_workflow_is_a_404(
    agent_client: TestClient, alice: dict[str, str], bob: dict[str, str], make_workflow: Any
) -> None:
    workflow = make_workflow(alice)
    response = agent_client.post(
        f"/api/v1/workflows/{workflow['id']}/refine", json={"feedback": "run at 8"}, headers=bob
    )
    assert response.status_code == 404


# -- the chat and generation streams -----------------------------------------------------------


def test_a_chat_message_starts_a_generation_the_stream_shows_and_replays(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)

    chat = agent_client.get(
        "/api/v1/chat/stream",
        params={"session_id": session_id, "user_message": FLAGSHIP},
        headers=alice,
    )
    assert chat.status_code == 200, chat.text
    assert chat.headers["content-type"].startswith("text/event-stream")
    chat_events = [e["data"] for e in events_of(chat.text)]
    assert chat_events[-1]["type"] == "done"
    assert all(e["type"] == "message" and e["content"] for e in chat_events[:-1])

    stream = agent_client.get(
        "/api/v1/workflow_generation", params={"session_id": session_id}, headers=alice
    )
    assert stream.status_code == 200
    events = events_of(stream.text)
    types = [e["data"]["type"] for e in events]
    assert types[0] == "start"
    assert types[-1] == "complete"
    assert "draft" in types
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    workflow_id = events[-1]["data"]["workflow_id"]
    assert workflow_id

    # A client that reconnects after the first event gets exactly what it missed.
    resumed = agent_client.get(
        "/api/v1/workflow_generation",
        params={"session_id": session_id},
        headers={**alice, "Last-Event-ID": str(ids[0])},
    )
    assert [e["id"] for e in events_of(resumed.text)] == ids[1:]

    session = agent_client.get(f"/api/v1/session/{session_id}", headers=alice).json()
    assert session["workflow_id"] == workflow_id
    assert session["status"] == "complete"
    assert [m["role"] for m in session["messages"]] == ["user", "assistant", "assistant"]


def test_a_second_message_refines_the_sessions_workflow(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)
    agent_client.get(
        "/api/v1/chat/stream",
        params={"session_id": session_id, "user_message": FLAGSHIP},
        headers=alice,
    )
    first = agent_client.get(f"/api/v1/session/{session_id}", headers=alice).json()

    agent_client.get(
        "/api/v1/chat/stream",
        params={"session_id": session_id, "user_message": "run it at 8am instead"},
        headers=alice,
    )
    stream = agent_client.get(
        "/api/v1/workflow_generation", params={"session_id": session_id}, headers=alice
    )

    events = [e["data"] for e in events_of(stream.text)]
    # Without Last-Event-ID the stream starts at the latest generation.
    assert events[0]["type"] == "start"
    assert events[0]["data"]["mode"] == "refine"
    assert events[-1]["type"] == "complete"
    workflow = agent_client.get(f"/api/v1/workflows/{first['workflow_id']}", headers=alice)
    schedule = next(n for n in workflow.json()["workflow"]["nodes"] if n["subtype"] == "SCHEDULE")
    assert schedule["parameters"]["expression"] == "cron(0 8 ? * MON-FRI *)"
    assert workflow.json()["workflow"]["revision"] == 2


def test_an_idle_session_stream_says_waiting_and_ends_at_its_budget(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)
    started = time.monotonic()
    stream = agent_client.get(
        "/api/v1/workflow_generation", params={"session_id": session_id}, headers=alice
    )
    events = events_of(stream.text)
    assert [e["data"]["type"] for e in events] == ["waiting"]
    assert events[0]["id"] == 0
    assert time.monotonic() - started >= 1.5  # held open for its budget (2 s here)


def test_stream_errors_are_ordinary_error_responses(
    agent_client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)
    assert (
        agent_client.get(
            "/api/v1/workflow_generation", params={"session_id": session_id}, headers=bob
        ).status_code
        == 404
    )
    bad = agent_client.get(
        "/api/v1/workflow_generation",
        params={"session_id": session_id},
        headers={**alice, "Last-Event-ID": "yesterday"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["details"]["errors"][0]["loc"] == ["header", "Last-Event-ID"]
    blank = agent_client.get(
        "/api/v1/chat/stream",
        params={"session_id": session_id, "user_message": "  "},
        headers=alice,
    )
    assert blank.status_code == 400


def test_a_message_while_a_generation_runs_is_a_409(
    services: Services, alice: dict[str, str]
) -> None:
    # Given a worker that has not picked the job up yet.
    services.agent = AgentSettings(provider="offline")
    jobs: list[dict[str, Any]] = []
    services.agent_dispatch = jobs.append
    with TestClient(create_app(None, services), raise_server_exceptions=False) as client:
        session_id = new_session(client, alice)
        params = {"session_id": session_id, "user_message": FLAGSHIP}
        first = client.get("/api/v1/chat/stream", params=params, headers=alice)
        second = client.get("/api/v1/chat/stream", params=params, headers=alice)

    assert first.status_code == 200
    assert second.status_code == 409
    assert len(jobs) == 1


# -- queries -----------------------------------------------------------------------------------


def test_a_query_drafts_then_runs_the_sessions_workflow(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)

    drafted = agent_client.post(
        "/api/v1/query",
        json={
            "session_id": session_id,
            "message": "when a webhook is called, summarise the body with AI and email it to "
            "ops@example.com",
        },
        headers=alice,
    )
    assert drafted.status_code == 200, drafted.text
    body = drafted.json()
    assert body["status"] == "success"
    assert body["message"]
    assert [c["name"] for c in body["tool_calls"]] == ["draft_workflow"]
    workflow_id = agent_client.get(f"/api/v1/session/{session_id}", headers=alice).json()[
        "workflow_id"
    ]
    assert workflow_id

    ran = agent_client.post(
        "/api/v1/query", json={"session_id": session_id, "message": "test it"}, headers=alice
    )
    assert [c["name"] for c in ran.json()["tool_calls"]] == ["dry_run_workflow"]
    assert "SUCCEEDED" in ran.json()["message"]


def test_query_stream_shows_tool_calls_and_results_in_order(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)
    response = agent_client.post(
        "/api/v1/query/stream",
        json={"session_id": session_id, "message": FLAGSHIP},
        headers=alice,
    )
    assert response.status_code == 200
    chunks = [e["data"] for e in events_of(response.text)]
    assert [c["type"] for c in chunks] == ["tool_call", "tool_result", "text", "complete"]
    assert chunks[0]["data"]["name"] == "draft_workflow"
    assert chunks[1]["data"]["result"]["valid"] is True


def test_query_async_answers_through_a_task(
    agent_client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)
    accepted = agent_client.post(
        "/api/v1/query/async",
        json={"session_id": session_id, "message": "which integrations do you support?"},
        headers=alice,
    )
    assert accepted.status_code == 202, accepted.text
    task_id = accepted.json()["task_id"]
    assert accepted.json()["session_id"] == session_id

    task = agent_client.get(f"/api/v1/task/{task_id}", headers=alice).json()
    assert task["status"] == "succeeded"
    assert task["result"]["message"]
    assert agent_client.get(f"/api/v1/task/{task_id}", headers=bob).status_code == 404


def test_query_to_an_unknown_session_is_a_404(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    response = agent_client.post(
        "/api/v1/query", json={"session_id": "ses_nope", "message": "hi"}, headers=alice
    )
    assert response.status_code == 404


def test_a_generation_whose_worker_is_gone_does_not_block_the_session(
    services: Services, alice: dict[str, str]
) -> None:
    # Given a generation that started and then went silent (its worker died for good).
    now = [1_800_000_000.0]
    services.agent = AgentSettings(provider="offline")
    services.sessions = SessionRepository(services.table, ttl_seconds=86_400, clock=lambda: now[0])
    jobs: list[dict[str, Any]] = []
    services.agent_dispatch = jobs.append
    with TestClient(create_app(None, services), raise_server_exceptions=False) as client:
        session_id = new_session(client, alice)
        params = {"session_id": session_id, "user_message": FLAGSHIP}
        assert client.get("/api/v1/chat/stream", params=params, headers=alice).status_code == 200
        now[0] += 600
        busy = client.get("/api/v1/chat/stream", params=params, headers=alice)
        # When nothing has been written for longer than a worker can run.
        now[0] += 301
        retried = client.get("/api/v1/chat/stream", params=params, headers=alice)

    # Then the next message starts a new generation.
    assert busy.status_code == 409
    assert retried.status_code == 200
    assert len(jobs) == 2


def test_the_after_parameter_resumes_like_last_event_id(
    agent_client: TestClient, alice: dict[str, str]
) -> None:
    session_id = new_session(agent_client, alice)
    agent_client.get(
        "/api/v1/chat/stream",
        params={"session_id": session_id, "user_message": FLAGSHIP},
        headers=alice,
    )
    full = events_of(
        agent_client.get(
            "/api/v1/workflow_generation", params={"session_id": session_id}, headers=alice
        ).text
    )
    resumed = agent_client.get(
        "/api/v1/workflow_generation",
        params={"session_id": session_id, "after": str(full[1]["id"])},
        headers=alice,
    )
    assert [e["id"] for e in events_of(resumed.text)] == [e["id"] for e in full[2:]]
