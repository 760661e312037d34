"""Executing saved workflows as Step Functions state machines on the embedded runtime
(CONTRACT.md section 5, "Executions"): the compiled machine runs for real on moto and invokes
the node runner per node; the API answers 202 at once and the record fills in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowlane.engine.compiler import asl
from flowlane.runtime.services import Services
from tests.differential import test_nodes
from tests.workflows import connections, manual, node, set_node

FINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}


def create(
    client: TestClient, headers: dict[str, str], nodes: list[Any], *edges: Any, **extra: Any
) -> str:
    body = {"name": "run me", "nodes": nodes, "connections": connections(*edges), **extra}
    response = client.post("/api/v1/workflows", json=body, headers=headers)
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["workflow"]["id"]
    return workflow_id


def execute(
    client: TestClient, headers: dict[str, str], workflow_id: str, data: Any = None, **kw: Any
) -> str:
    response = client.post(
        f"/api/v1/workflows/{workflow_id}/execute",
        json={"trigger_data": data if data is not None else {}},
        headers={**headers, **kw.pop("extra_headers", {})},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "running"
    assert body["success"] is True
    execution_id: str = body["execution_id"]
    return execution_id


def wait_for(
    client: TestClient,
    headers: dict[str, str],
    execution_id: str,
    until: Callable[[dict[str, Any]], bool] = lambda r: r["status"] in FINAL,
    timeout: float = 30.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/v1/executions/{execution_id}", headers=headers)
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        if until(record) or time.monotonic() > deadline:
            return record
        time.sleep(0.05)


def runs(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["node_id"] + "".join(f"[{i}]" for i in r["iteration"]): r for r in record["node_runs"]
    }


def if_node(node_id: str, left: str, right: Any) -> dict[str, Any]:
    condition = {"left": left, "op": "equals", "right": right}
    return node(node_id, "FLOW", "IF", parameters={"conditions": [condition]})


def test_a_workflow_runs_as_a_state_machine_and_its_record_fills_in(
    client: TestClient, alice: dict[str, str], services: Services
) -> None:
    workflow_id = create(
        client,
        alice,
        [
            manual(),
            set_node("double", {"n": "{{ input.n * 2 }}"}),
            if_node("big", "{{ input.n > 10 }}", True),
            set_node("yes", {"verdict": "big", "n": "{{ input.n }}"}),
            set_node("no", {"verdict": "small"}),
        ],
        ("start", "main", "double"),
        ("double", "main", "big"),
        ("big", "true", "yes"),
        ("big", "false", "no"),
    )
    execution_id = execute(client, alice, workflow_id, {"n": 21})
    record = wait_for(client, alice, execution_id)

    assert record["status"] == "SUCCEEDED", record
    assert record["output"] == {"verdict": "big", "n": 42}
    ran = runs(record)
    assert set(ran) == {"start", "double", "big", "yes"}  # the branch not taken is absent
    assert ran["big"]["port"] == "true"
    assert ran["double"]["input"] == {"n": 21}
    assert ran["double"]["attempts"] == 1
    assert all(r["started_at"] and r["ended_at"] for r in record["node_runs"])
    assert record["started_at"] <= record["ended_at"]
    # The Step Functions execution is named after the record and succeeded too.
    stored = services.executions.get("alice", execution_id)
    described = services.clients.stepfunctions.describe_execution(
        executionArn=stored.sfn_execution_arn
    )
    assert described["name"] == execution_id
    assert described["status"] == "SUCCEEDED"


def test_the_gateway_form_and_idempotency_keys(client: TestClient, alice: dict[str, str]) -> None:
    workflow_id = create(client, alice, [manual(), set_node("a", {"x": 1})], ("start", "main", "a"))
    first = client.post(
        "/api/v1/workflow/execute",
        json={"workflow_id": workflow_id, "trigger_data": {"k": 1}},
        headers={**alice, "Idempotency-Key": "order-42"},
    )
    again = client.post(
        "/api/v1/workflow/execute",
        json={"workflow_id": workflow_id, "trigger_data": {"k": 1}},
        headers={**alice, "Idempotency-Key": "order-42"},
    )
    other = client.post(
        f"/api/v1/workflows/{workflow_id}/execute",
        json={"trigger_data": {"k": 1}},
        headers={**alice, "Idempotency-Key": "order-43"},
    )
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["execution_id"] == again.json()["execution_id"]
    assert other.json()["execution_id"] != first.json()["execution_id"]
    listed = client.get(f"/api/v1/workflows/{workflow_id}/executions", headers=alice).json()
    assert len(listed["executions"]) == 2


def test_bad_executions_are_refused_in_the_envelope(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    broken = create(
        client,
        alice,
        [manual(), set_node("a", {"x": "{{ input. }}"})],
        ("start", "main", "a"),
    )
    response = client.post(f"/api/v1/workflows/{broken}/execute", json={}, headers=alice)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["errors"]
    fine = create(client, alice, [manual(), set_node("a", {})], ("start", "main", "a"))
    for path, headers in (
        (f"/api/v1/workflows/{fine}/execute", bob),
        ("/api/v1/workflows/nope/execute", alice),
    ):
        refused = client.post(path, json={}, headers=headers)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "NOT_FOUND"
    unknown = client.get("/api/v1/executions/20261121T000000000-00000000", headers=alice)
    assert unknown.status_code == 404


def test_a_workflow_too_large_is_refused_with_its_figures(
    client: TestClient, alice: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowlane.engine import compiler
    from flowlane.runtime import launcher

    def tight(workflow: Any, target: Any, **kwargs: Any) -> Any:
        return compiler.compile_workflow(workflow, target, split_bytes=1_500)

    monkeypatch.setattr(launcher, "compile_workflow", tight)
    # A route cannot be cut into parts: an IF whose branches alone exceed the budget.
    condition = {"left": "{{ input.go }}", "op": "is_true"}
    nodes = [manual(), node("d", "FLOW", "IF", parameters={"conditions": [condition]})]
    edges: list[tuple[str, str, str]] = [("start", "main", "d")]
    for port in ("true", "false"):
        previous = "d"
        for i in range(4):
            nodes.append(set_node(f"{port}{i}", {}))
            edges.append((previous, port if previous == "d" else "main", f"{port}{i}"))
            previous = f"{port}{i}"
    workflow_id = create(client, alice, nodes, *edges)
    response = client.post(f"/api/v1/workflows/{workflow_id}/execute", json={}, headers=alice)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "WORKFLOW_TOO_LARGE"
    assert error["details"]["definition_bytes"] > error["details"]["definition_budget"] == 1_500


def test_the_asl_route_answers_the_definition_and_its_cost(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create(
        client,
        alice,
        [manual(), set_node("a", {}), set_node("b", {})],
        ("start", "main", "a"),
        ("a", "main", "b"),
    )
    response = client.get(f"/api/v1/workflows/{workflow_id}/asl", headers=alice)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["definition"]["StartAt"] == "a"
    assert body["stats"]["states"] >= 2
    assert body["stats"]["estimated_transitions"] == 2
    assert body["stats"]["bytes"] > 0


def test_failures_follow_on_error_error_ports_and_retries(
    client: TestClient, alice: dict[str, str]
) -> None:
    with test_nodes():
        workflow_id = create(
            client,
            alice,
            [
                manual(),
                node(
                    "flaky",
                    "ACTION",
                    "TEST_FLAKY_ATTEMPT",
                    parameters={"fail_times": 1},
                    retry_policy={"max_tries": 2, "wait_between_tries": 1},
                ),
                node("fetch", "ACTION", "TEST_FAIL", parameters={"code": "UPSTREAM_ERROR"}),
                set_node("fallback", {"used": "{{ input.error.code }}"}),
                set_node("never", {}),
            ],
            ("start", "main", "flaky"),
            ("flaky", "main", "fetch"),
            ("fetch", "main", "never"),
            ("fetch", "error", "fallback"),
        )
        record = wait_for(client, alice, execute(client, alice, workflow_id))
        assert record["status"] == "SUCCEEDED", record
        ran = runs(record)
        assert ran["flaky"]["status"] == "SUCCEEDED"
        assert ran["flaky"]["attempts"] == 2
        assert ran["fetch"]["status"] == "FAILED"
        assert ran["fetch"]["port"] == "error"
        assert "never" not in ran
        assert record["output"] == {"used": "UPSTREAM_ERROR"}

        stopping = create(
            client,
            alice,
            [
                manual(),
                node(
                    "fetch",
                    "ACTION",
                    "TEST_FAIL",
                    parameters={"code": "VALIDATION_ERROR"},
                    on_error="stop",
                ),
                set_node("after", {}),
            ],
            ("start", "main", "fetch"),
            ("fetch", "main", "after"),
        )
        failed = wait_for(client, alice, execute(client, alice, stopping))
    assert failed["status"] == "FAILED"
    assert failed["error"]["node_id"] == "fetch"
    assert failed["error"]["code"] == "VALIDATION_ERROR"
    assert "after" not in runs(failed)


def test_a_wait_waits_and_a_cancel_stops_the_machine(
    client: TestClient, alice: dict[str, str], services: Services
) -> None:
    short = create(
        client,
        alice,
        [
            manual(),
            node("pause", "FLOW", "WAIT", parameters={"seconds": 1}),
            set_node("after", {"ok": True}),
        ],
        ("start", "main", "pause"),
        ("pause", "main", "after"),
    )
    began = time.monotonic()
    record = wait_for(client, alice, execute(client, alice, short))
    assert record["status"] == "SUCCEEDED"
    assert record["output"] == {"ok": True}
    assert time.monotonic() - began >= 1.0

    long = create(
        client,
        alice,
        [
            manual(),
            node("pause", "FLOW", "WAIT", parameters={"seconds": 600}),
            set_node("after", {}),
        ],
        ("start", "main", "pause"),
        ("pause", "main", "after"),
    )
    execution_id = execute(client, alice, long)
    waiting = wait_for(client, alice, execution_id, until=lambda r: "pause" in runs(r))
    assert runs(waiting)["pause"]["status"] == "RUNNING"
    cancelled = client.post(f"/api/v1/executions/{execution_id}/cancel", headers=alice)
    assert cancelled.status_code == 200, cancelled.text
    record = wait_for(client, alice, execution_id)
    assert record["status"] == "CANCELLED"
    assert runs(record)["pause"]["status"] == "CANCELLED"
    stored = services.executions.get("alice", execution_id)
    described = services.clients.stepfunctions.describe_execution(
        executionArn=stored.sfn_execution_arn
    )
    assert described["status"] == "ABORTED"
    again = client.post(f"/api/v1/executions/{execution_id}/cancel", headers=alice)
    assert again.status_code == 409


APPROVAL_FLOW = (
    [
        manual(),
        node(
            "ask", "HUMAN_IN_THE_LOOP", "APPROVAL", parameters={"message": "Ship {{ input.item }}?"}
        ),
        set_node("ship", {"shipped": "{{ trigger.item }}"}),
        set_node("drop", {"dropped": True}),
        set_node("late", {"late": True}),
    ],
    ("start", "main", "ask"),
    ("ask", "approved", "ship"),
    ("ask", "rejected", "drop"),
    ("ask", "timeout", "late"),
)


def test_an_approval_pauses_the_execution_and_the_api_resumes_it(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    workflow_id = create(client, alice, *APPROVAL_FLOW)
    execution_id = execute(client, alice, workflow_id, {"item": "boots"})
    waiting = wait_for(client, alice, execution_id, until=lambda r: r["status"] == "WAITING")
    assert waiting["status"] == "WAITING"
    assert runs(waiting)["ask"]["status"] == "WAITING"

    pending = client.get("/api/v1/approvals?status=pending", headers=alice).json()["approvals"]
    mine = [a for a in pending if a["execution_id"] == execution_id]
    assert len(mine) == 1
    approval = mine[0]
    assert approval["message"] == "Ship boots?"
    assert "task_token" not in approval
    assert client.get("/api/v1/approvals?status=pending", headers=bob).json()["approvals"] == []
    assert (
        client.post(
            f"/api/v1/approvals/{approval['approval_id']}",
            json={"decision": "approve"},
            headers=bob,
        ).status_code
        == 404
    )

    decided = client.post(
        f"/api/v1/approvals/{approval['approval_id']}",
        json={"decision": "approve", "comment": "go"},
        headers=alice,
    )
    assert decided.status_code == 200, decided.text
    record = wait_for(client, alice, execution_id)
    assert record["status"] == "SUCCEEDED", record
    assert record["output"] == {"shipped": "boots"}
    ask = runs(record)["ask"]
    assert ask["port"] == "approved"
    assert ask["output"]["decision"] == "approved"
    assert ask["output"]["comment"] == "go"
    twice = client.post(
        f"/api/v1/approvals/{approval['approval_id']}", json={"decision": "reject"}, headers=alice
    )
    assert twice.status_code == 409


def test_a_rejection_takes_the_rejected_port(client: TestClient, alice: dict[str, str]) -> None:
    workflow_id = create(client, alice, *APPROVAL_FLOW)
    execution_id = execute(client, alice, workflow_id, {"item": "hat"})
    wait_for(client, alice, execution_id, until=lambda r: r["status"] == "WAITING")
    approval = client.get("/api/v1/approvals?status=pending", headers=alice).json()["approvals"][0]
    client.post(
        f"/api/v1/approvals/{approval['approval_id']}", json={"decision": "reject"}, headers=alice
    )
    record = wait_for(client, alice, execution_id)
    assert record["output"] == {"dropped": True}
    assert runs(record)["ask"]["port"] == "rejected"


def test_an_approval_nobody_decides_takes_the_timeout_port(
    client: TestClient, alice: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Approvals wait at least a minute; the compiled Task's timeout is shortened for the test.
    monkeypatch.setattr(asl, "_approval_timeout", lambda node: 1)
    workflow_id = create(client, alice, *APPROVAL_FLOW)
    execution_id = execute(client, alice, workflow_id, {"item": "scarf"})
    record = wait_for(client, alice, execution_id)
    assert record["status"] == "SUCCEEDED", record
    assert record["output"] == {"late": True}
    ask = runs(record)["ask"]
    assert ask["port"] == "timeout"
    assert ask["output"]["decision"] == "timeout"
    approvals = client.get("/api/v1/approvals", headers=alice).json()["approvals"]
    assert [a["status"] for a in approvals if a["execution_id"] == execution_id] == ["timed_out"]


def test_a_workflow_split_into_parts_runs_them_in_turn(
    client: TestClient, alice: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowlane.engine import compiler
    from flowlane.runtime import launcher

    def tight(workflow: Any, target: Any, **kwargs: Any) -> Any:
        return compiler.compile_workflow(workflow, target, split_bytes=4_000, **kwargs)

    monkeypatch.setattr(launcher, "compile_workflow", tight)
    nodes = [manual(), *(set_node(f"n{i}", {"i": f"{{{{ input.i + {i} }}}}"}) for i in range(12))]
    edges = [("start", "main", "n0"), *((f"n{i}", "main", f"n{i + 1}") for i in range(11))]
    workflow_id = create(client, alice, nodes, *edges)
    asl = client.get(f"/api/v1/workflows/{workflow_id}/asl", headers=alice).json()
    assert asl["stats"]["machines"] > 2
    record = wait_for(client, alice, execute(client, alice, workflow_id, {"i": 0}))
    assert record["status"] == "SUCCEEDED", record
    assert len(record["node_runs"]) == 13
    assert record["output"] == {"i": sum(range(12))}
