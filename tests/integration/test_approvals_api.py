"""Approvals on the embedded runtime (CONTRACT.md section 5, `GET|POST /approvals`).

A real state machine waits on a `.waitForTaskToken` Lambda task, as a compiled APPROVAL node
does; the task's function (registered on the runtime) records the token as a pending approval,
as the node runner does. Deciding over the API sends the port back and the machine goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from flowlane.config import LocalSettings, StoreSettings
from flowlane.models.execution import (
    ApprovalStatus,
    ExecutionStatus,
    NodeRun,
    NodeRunStatus,
    TriggerInfo,
)
from flowlane.runtime.embedded import EmbeddedRuntime, default_functions_dir
from flowlane.runtime.lambdas import HandlerRegistry
from flowlane.runtime.services import Services
from flowlane.store.approvals import ApprovalItem, approval_id_for
from flowlane.store.executions import ExecutionItem, new_execution_id

ROLE = "arn:aws:iam::123456789012:role/flowlane-embedded-lambda"
APPROVAL_FUNCTION = "flowlane-test-approval"


def record_approval(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """What the node runner does for an APPROVAL node: a WAITING run, a pending approval, and
    the execution WAITING."""
    services = Services()  # as a deployed function builds them, from the environment
    owner, execution_id = event["owner"], event["execution_id"]
    services.executions.put_run(
        owner,
        execution_id,
        NodeRun(
            node_id="ask",
            status=NodeRunStatus.WAITING,
            input={"amount": 42},
            attempts=1,
            started_at="2026-11-21T10:00:01.000Z",
        ),
        attempt=1,
        control={"task_token": event["task_token"]},
    )
    services.approvals.put_pending(
        owner,
        ApprovalItem.pending(
            execution_id=execution_id,
            workflow_id=event["workflow_id"],
            node_id="ask",
            iteration=[],
            task_token=event["task_token"],
            message="Pay 42?",
            timeout_seconds=event.get("timeout", 300),
        ),
    )
    services.executions.set_status(owner, execution_id, ExecutionStatus.WAITING)
    return {}


@pytest.fixture
def runtime() -> Iterator[EmbeddedRuntime]:
    """The project's functions plus the approval task's; no status poller (the events have
    their own tests), so what these tests see is the API's doing only."""
    registry = HandlerRegistry.discover(default_functions_dir(), "flowlane-")
    registry.register(APPROVAL_FUNCTION, record_approval)
    with EmbeddedRuntime(
        state_dir=None,
        store=StoreSettings(),
        local=LocalSettings(),
        registry=registry,
        poll_interval=3600,
    ) as rt:
        yield rt


def definition(rt: EmbeddedRuntime, task_timeout: int = 300) -> dict[str, Any]:
    return {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": rt.function_arn(APPROVAL_FUNCTION),
                    "Payload": {
                        "owner.$": "$.owner",
                        "execution_id.$": "$.execution_id",
                        "workflow_id.$": "$.workflow_id",
                        "task_token.$": "$$.Task.Token",
                    },
                },
                "ResultPath": "$.ask",
                "TimeoutSeconds": task_timeout,
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


class Started:
    def __init__(self, execution_id: str, arn: str, approval_id: str) -> None:
        self.execution_id = execution_id
        self.arn = arn
        self.approval_id = approval_id


@pytest.fixture
def start(runtime: EmbeddedRuntime, services: Services) -> Callable[..., Started]:
    def run(owner: str = "alice", task_timeout: int = 300) -> Started:
        execution_id = new_execution_id()
        services.executions.create(
            owner,
            ExecutionItem(
                execution_id=execution_id,
                workflow_id="wf-pay",
                revision=1,
                trigger=TriggerInfo(node_id="start"),
                started_at="2026-11-21T10:00:00.000Z",
            ),
        )
        sfn = runtime.clients.stepfunctions
        machine = sfn.create_state_machine(
            name=f"approve-{time.time_ns()}",
            definition=json.dumps(definition(runtime, task_timeout)),
            roleArn=ROLE,
        )
        arn = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            name=execution_id,
            input=json.dumps(
                {"owner": owner, "execution_id": execution_id, "workflow_id": "wf-pay"}
            ),
        )["executionArn"]
        services.executions.update(
            owner,
            services.executions.get(owner, execution_id).model_copy(
                update={"sfn_execution_arn": arn}
            ),
        )
        approval_id = approval_id_for(execution_id, "ask", [])
        wait_until(lambda: services.approvals.pending_for_execution(owner, execution_id))
        return Started(execution_id, arn, approval_id)

    return run


def describe(runtime: EmbeddedRuntime, arn: str) -> dict[str, Any]:
    result: dict[str, Any] = runtime.clients.stepfunctions.describe_execution(executionArn=arn)
    return result


def finished(runtime: EmbeddedRuntime, arn: str) -> dict[str, Any]:
    wait_until(lambda: describe(runtime, arn)["status"] != "RUNNING")
    return describe(runtime, arn)


# -- reading ---------------------------------------------------------------------------------


def test_a_pending_approval_is_listed_and_read_without_its_token(
    client: TestClient, services: Services, alice: dict[str, str], start: Callable[..., Started]
) -> None:
    run = start()

    listed = client.get("/api/v1/approvals", params={"status": "pending"}, headers=alice)
    one = client.get(f"/api/v1/approvals/{run.approval_id}", headers=alice)

    assert listed.status_code == 200
    body = listed.json()
    assert body["total_count"] == 1
    assert body["has_more"] is False
    approval = body["approvals"][0]
    assert approval["approval_id"] == run.approval_id
    assert approval["execution_id"] == run.execution_id
    assert approval["status"] == "pending"
    assert approval["message"] == "Pay 42?"
    assert approval["node_id"] == "ask"
    assert approval["iteration"] == []
    assert approval["sent"] is False
    assert "task_token" not in approval
    assert one.json() == approval
    assert "token" not in one.text.replace("task_token", "")
    assert services.executions.get("alice", run.execution_id).status is ExecutionStatus.WAITING


def test_another_users_approval_is_not_found(
    client: TestClient, bob: dict[str, str], start: Callable[..., Started]
) -> None:
    run = start()

    read = client.get(f"/api/v1/approvals/{run.approval_id}", headers=bob)
    decided = client.post(
        f"/api/v1/approvals/{run.approval_id}", json={"decision": "approve"}, headers=bob
    )
    listed = client.get("/api/v1/approvals", headers=bob)

    assert read.status_code == 404
    assert decided.status_code == 404
    assert decided.json()["error"]["code"] == "NOT_FOUND"
    assert listed.json()["approvals"] == []


def test_approve_sends_the_port_and_the_machine_goes_on(
    client: TestClient,
    runtime: EmbeddedRuntime,
    services: Services,
    alice: dict[str, str],
    start: Callable[..., Started],
) -> None:
    run = start()

    response = client.post(
        f"/api/v1/approvals/{run.approval_id}",
        json={"decision": "approve", "comment": "fine"},
        headers=alice,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["approval"]["status"] == "approved"
    assert body["approval"]["decision"] == "approved"
    assert body["approval"]["decided_by"] == "alice"
    assert body["approval"]["comment"] == "fine"
    assert body["approval"]["sent"] is True
    ended = finished(runtime, run.arn)
    assert ended["status"] == "SUCCEEDED"
    assert json.loads(ended["output"])["ask"] == {
        "node_id": "ask",
        "status": "SUCCEEDED",
        "port": "approved",
    }
    stored = services.executions.get_run("alice", run.execution_id, "ask", [])
    assert stored is not None
    assert stored.run.status is NodeRunStatus.SUCCEEDED
    assert stored.run.port == "approved"
    assert stored.run.input == {"amount": 42}
    assert stored.run.started_at == "2026-11-21T10:00:01.000Z"
    assert stored.run.attempts == 1
    assert stored.attempt == 1
    assert stored.run.output["decision"] == "approved"
    assert stored.run.output["comment"] == "fine"
    assert stored.run.output["decided_by"] == "alice"
    assert "task_token" not in stored.control
    assert services.executions.get("alice", run.execution_id).status is ExecutionStatus.RUNNING


def test_reject_takes_the_rejected_port(
    client: TestClient,
    runtime: EmbeddedRuntime,
    alice: dict[str, str],
    start: Callable[..., Started],
) -> None:
    run = start()

    response = client.post(
        f"/api/v1/approvals/{run.approval_id}", json={"decision": "rejected"}, headers=alice
    )

    assert response.status_code == 200
    assert response.json()["approval"]["status"] == "rejected"
    ended = finished(runtime, run.arn)
    assert json.loads(ended["output"])["ask"]["port"] == "rejected"


def test_a_second_decision_is_a_conflict(
    client: TestClient, alice: dict[str, str], start: Callable[..., Started]
) -> None:
    run = start()
    url = f"/api/v1/approvals/{run.approval_id}"
    assert client.post(url, json={"decision": "approve"}, headers=alice).status_code == 200

    same = client.post(url, json={"decision": "approve"}, headers=alice)
    other = client.post(url, json={"decision": "reject"}, headers=alice)

    assert same.status_code == 409
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "CONFLICT"


def test_a_decision_must_be_approve_or_reject(
    client: TestClient, alice: dict[str, str], start: Callable[..., Started]
) -> None:
    run = start()

    response = client.post(
        f"/api/v1/approvals/{run.approval_id}", json={"decision": "maybe"}, headers=alice
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["loc"] == ["body", "decision"]


def test_deciding_for_an_ended_execution_is_a_conflict(
    client: TestClient, services: Services, alice: dict[str, str], start: Callable[..., Started]
) -> None:
    run = start()
    services.executions.finish(
        "alice", run.execution_id, status=ExecutionStatus.FAILED, ended_at="t"
    )

    response = client.post(
        f"/api/v1/approvals/{run.approval_id}", json={"decision": "approve"}, headers=alice
    )

    assert response.status_code == 409
    assert services.approvals.get("alice", run.approval_id).status is ApprovalStatus.PENDING


def test_a_decision_after_the_task_timed_out_is_a_conflict(
    client: TestClient,
    runtime: EmbeddedRuntime,
    services: Services,
    alice: dict[str, str],
    start: Callable[..., Started],
) -> None:
    run = start(task_timeout=1)
    assert finished(runtime, run.arn)["status"] == "FAILED"  # States.Timeout, nothing caught it

    response = client.post(
        f"/api/v1/approvals/{run.approval_id}", json={"decision": "approve"}, headers=alice
    )

    assert response.status_code == 409
    assert "timed out" in response.json()["error"]["message"]
    assert services.approvals.get("alice", run.approval_id).status is ApprovalStatus.TIMED_OUT
    stored = services.executions.get_run("alice", run.execution_id, "ask", [])
    assert stored is not None
    assert stored.run.status is NodeRunStatus.WAITING  # as the runner left it


class FlakyStepFunctions:
    """The real client, except that SendTaskSuccess fails `failures` times first."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real = real
        self.failures = failures

    def send_task_success(self, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "try later"}},
                "SendTaskSuccess",
            )
        return self.real.send_task_success(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_an_upstream_failure_keeps_the_decision_and_the_same_post_retries(
    client: TestClient,
    runtime: EmbeddedRuntime,
    services: Services,
    alice: dict[str, str],
    start: Callable[..., Started],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = start()
    flaky = FlakyStepFunctions(runtime.clients.stepfunctions, failures=1)
    monkeypatch.setattr(Services, "stepfunctions", property(lambda _self: flaky))
    url = f"/api/v1/approvals/{run.approval_id}"

    first = client.post(url, json={"decision": "approve"}, headers=alice)
    between = client.get(url, headers=alice).json()
    changed_mind = client.post(url, json={"decision": "reject"}, headers=alice)
    retried = client.post(url, json={"decision": "approve"}, headers=alice)

    assert first.status_code == 502
    assert first.json()["error"]["code"] == "UPSTREAM_ERROR"
    assert (between["status"], between["sent"]) == ("approved", False)
    assert changed_mind.status_code == 409
    assert retried.status_code == 200, retried.text
    assert retried.json()["approval"]["sent"] is True
    assert json.loads(finished(runtime, run.arn)["output"])["ask"]["port"] == "approved"


def test_the_list_filters_by_status_and_pages_newest_first(
    client: TestClient, services: Services, alice: dict[str, str]
) -> None:
    from datetime import UTC, datetime, timedelta

    base = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    for n in range(5):
        services.approvals.put_pending(
            "alice",
            ApprovalItem.pending(
                execution_id=f"ex-{n}",
                workflow_id="wf",
                node_id="ask",
                iteration=[n],
                task_token=f"t{n}",
                created_at=base + timedelta(minutes=n),
            ),
        )
    services.approvals.decide(
        "alice",
        approval_id_for("ex-1", "ask", [1]),
        decision="rejected",
        comment=None,
        decided_by="alice",
    )

    first = client.get("/api/v1/approvals", params={"limit": 3}, headers=alice).json()
    rest = client.get(
        "/api/v1/approvals", params={"limit": 3, "cursor": first["next_cursor"]}, headers=alice
    ).json()
    pending = client.get("/api/v1/approvals", params={"status": "PENDING"}, headers=alice).json()
    rejected = client.get("/api/v1/approvals?status=rejected", headers=alice).json()
    bad_status = client.get("/api/v1/approvals?status=later", headers=alice)
    bad_cursor = client.get("/api/v1/approvals?cursor=zzz", headers=alice)

    executions = [a["execution_id"] for a in first["approvals"] + rest["approvals"]]
    assert executions == ["ex-4", "ex-3", "ex-2", "ex-1", "ex-0"]
    assert (first["total_count"], first["has_more"], rest["has_more"]) == (5, True, False)
    assert [a["execution_id"] for a in pending["approvals"]] == ["ex-4", "ex-3", "ex-2", "ex-0"]
    assert [a["execution_id"] for a in rejected["approvals"]] == ["ex-1"]
    assert bad_status.status_code == 400
    assert bad_cursor.status_code == 400


class TestRepository:
    def _pending(self, services: Services, **fields: Any) -> ApprovalItem:
        return services.approvals.put_pending(
            "alice",
            ApprovalItem.pending(
                execution_id=fields.get("execution_id", "ex-1"),
                workflow_id="wf",
                node_id=fields.get("node_id", "ask"),
                iteration=fields.get("iteration", []),
                task_token=fields.get("task_token", "tok-1"),
                timeout_seconds=120,
                created_at=fields.get("created_at"),
            ),
        )

    def test_put_pending_is_idempotent_and_ids_are_deterministic(self, services: Services) -> None:
        first = self._pending(services)
        again = self._pending(services, task_token="tok-2")

        assert again == first
        assert again.task_token == "tok-1"
        assert first.approval_id == approval_id_for("ex-1", "ask", [])
        assert first.approval_id.startswith("apr-")
        assert len(first.approval_id) == 4 + 24
        assert approval_id_for("ex-1", "ask", [0]) != first.approval_id
        assert approval_id_for("ex-2", "ask", []) != first.approval_id

    def test_expires_at_is_created_at_plus_the_timeout(self, services: Services) -> None:
        from datetime import UTC, datetime

        item = self._pending(services, created_at=datetime(2026, 11, 21, 10, 0, tzinfo=UTC))

        assert item.created_at == "2026-11-21T10:00:00.000Z"
        assert item.expires_at == "2026-11-21T10:02:00.000Z"

    def test_time_out_and_cancel_only_touch_pending_approvals(self, services: Services) -> None:
        a = self._pending(services, node_id="a")
        b = self._pending(services, node_id="b")
        c = self._pending(services, node_id="c")
        services.approvals.decide(
            "alice", c.approval_id, decision="approved", comment=None, decided_by="alice"
        )
        services.approvals.mark_sent("alice", c.approval_id)

        assert services.approvals.time_out("alice", a.approval_id) is True
        assert services.approvals.time_out("alice", a.approval_id) is False
        assert services.approvals.time_out("alice", c.approval_id) is False
        assert [p.node_id for p in services.approvals.pending_for_execution("alice", "ex-1")] == [
            "b"
        ]
        assert services.approvals.cancel_for_execution("alice", "ex-1") == 1
        assert services.approvals.get("alice", b.approval_id).status is ApprovalStatus.CANCELLED
        assert services.approvals.get("alice", c.approval_id).status is ApprovalStatus.APPROVED
        assert services.approvals.pending_for_execution("alice", "ex-1") == []
