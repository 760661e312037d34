"""The agent worker: long generations handed over asynchronously (DESIGN.md decision 6), on the
embedded runtime's Lambda (the worker's own handler, on a thread), and resumed from their
checkpoints when a delivery is repeated after the worker died."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowlane.agent import offline
from flowlane.agent.service import AgentService
from flowlane.api.app import create_app
from flowlane.config import AgentSettings
from flowlane.runtime.services import Services
from tests.sse import events_of

REQUEST = "when someone submits our contact form, summarise it with AI and post it to #sales"


@pytest.fixture
def worker_client(services: Services) -> Iterator[TestClient]:
    """No inline dispatch: jobs go through Lambda's asynchronous invoke to the worker."""
    services.agent = AgentSettings(provider="offline", stream_budget_seconds=20)
    with TestClient(create_app(None, services), raise_server_exceptions=False) as client:
        yield client


def test_a_chat_generation_runs_in_the_worker_and_streams_to_the_end(
    worker_client: TestClient, alice: dict[str, str]
) -> None:
    created = worker_client.post("/api/v1/session", json={"action": "create"}, headers=alice)
    session_id = created.json()["session_id"]

    chat = worker_client.get(
        "/api/v1/chat/stream",
        params={"session_id": session_id, "user_message": REQUEST},
        headers=alice,
    )
    assert chat.status_code == 200, chat.text

    # The stream waits for the worker, then follows it until `complete`.
    seen: list[dict[str, Any]] = []
    last: str | None = None
    for _ in range(10):  # reconnects, as EventSource does, until the generation ends
        headers = {**alice, "Last-Event-ID": last} if last is not None else alice
        stream = worker_client.get(
            "/api/v1/workflow_generation", params={"session_id": session_id}, headers=headers
        )
        batch = events_of(stream.text)
        seen.extend(e for e in batch if e["data"]["type"] != "waiting")
        last = str(batch[-1]["id"])
        if seen and seen[-1]["data"]["type"] in ("complete", "error"):
            break
    types = [e["data"]["type"] for e in seen]
    assert types[0] == "start"
    assert types[-1] == "complete", seen
    session = worker_client.get(f"/api/v1/session/{session_id}", headers=alice).json()
    assert session["status"] == "complete"
    workflow = worker_client.get(f"/api/v1/workflows/{session['workflow_id']}", headers=alice)
    assert workflow.status_code == 200


def test_a_repeated_delivery_resumes_from_the_checkpoint(
    services: Services, alice: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a generation whose worker dies after drafting, during the checks.
    services.agent = AgentSettings(provider="offline")
    jobs: list[dict[str, Any]] = []
    services.agent_dispatch = jobs.append
    agent = AgentService(services, dispatch=jobs.append)
    session = agent.create_session("alice", _create())
    agent.chat("alice", session.session_id, REQUEST)
    drafts: list[str] = []
    real_plan = offline.plan

    def counting_plan(description: str, **kwargs: Any) -> Any:
        drafts.append(description)
        return real_plan(description, **kwargs)

    monkeypatch.setattr(offline, "plan", counting_plan)
    import flowlane.agent.checks as checks

    real_check = checks.check

    def dying_check(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the worker's container went away")

    monkeypatch.setattr(checks, "check", dying_check)
    with pytest.raises(RuntimeError):
        agent.run_job(jobs[0])
    assert len(drafts) == 1

    # When Lambda delivers the same job again.
    monkeypatch.setattr(checks, "check", real_check)
    agent.run_job(jobs[0])

    # Then it carries on from the stored draft: no second draft, one workflow saved.
    assert len(drafts) == 1
    read = agent.session("alice", session.session_id)
    assert read.status.value == "complete"
    assert read.workflow_id is not None
    assert services.workflows.list("alice", active_only=False).total_count == 1

    # And a third delivery after it finished does nothing twice.
    agent.run_job(jobs[0])
    assert len(drafts) == 1
    assert services.workflows.list("alice", active_only=False).total_count == 1


def test_deleting_a_session_removes_its_checkpoints(services: Services) -> None:
    services.agent = AgentSettings(provider="offline")
    agent = AgentService(services, dispatch=lambda job: AgentService(services).run_job(job))
    session = agent.create_session("alice", _create())
    agent.chat("alice", session.session_id, REQUEST)
    threads = services.sessions.get("alice", session.session_id).threads
    assert len(threads) == 1
    partition = f"USER#alice#THREAD#{threads[0]}"
    assert list(services.table.query("pk", partition))

    agent.delete_session("alice", session.session_id)

    assert list(services.table.query("pk", partition)) == []


def _create() -> Any:
    from flowlane.models.agent import SessionCreate

    return SessionCreate()
