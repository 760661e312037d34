"""Executions over the full app and their store, on the embedded runtime (CONTRACT.md section 5,
"Executions"): listing with filters and cursors, reading with node runs, cancelling for real on
Step Functions, and the repository's conditional status writes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowlane.errors import Conflict, NotFound
from flowlane.models.execution import (
    ExecutionStatus,
    NodeRun,
    NodeRunError,
    NodeRunStatus,
    TriggerInfo,
)
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.services import Services
from flowlane.store.approvals import ApprovalItem
from flowlane.store.executions import (
    IDEMPOTENCY_TTL_SECONDS,
    ExecutionItem,
    idempotency_sk,
    new_execution_id,
)

ROLE = "arn:aws:iam::123456789012:role/flowlane-embedded-lambda"
MakeWorkflow = Callable[..., dict[str, Any]]


def execution(
    workflow_id: str,
    n: int,
    *,
    execution_id: str | None = None,
    **fields: Any,
) -> ExecutionItem:
    """An execution started `n` minutes after a fixed time, with a time-sortable id."""
    return ExecutionItem.model_validate(
        {
            "execution_id": execution_id or f"20261121T10{n:02d}00000-{n:08x}",
            "workflow_id": workflow_id,
            "revision": 1,
            "trigger": {"node_id": "start", "type": "manual"},
            "input": {"n": n},
            "started_at": f"2026-11-21T10:{n:02d}:00.000Z",
            **fields,
        }
    )


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


def ids(response: Any) -> list[str]:
    return [e["execution_id"] for e in response.json()["executions"]]


# -- listing ---------------------------------------------------------------------------------


@pytest.fixture
def seven(services: Services, make_workflow: MakeWorkflow, alice: dict[str, str]) -> list[str]:
    """Seven executions of alice's workflow, the 2nd and 5th failed; newest first."""
    workflow = make_workflow(alice)
    created = []
    for n in range(1, 8):
        item = execution(workflow["id"], n)
        services.executions.create("alice", item)
        if n in (2, 5):
            services.executions.finish(
                "alice",
                item.execution_id,
                status=ExecutionStatus.FAILED,
                error=NodeRunError(code="BOOM", message="boom", node_id="a"),
                ended_at=f"2026-11-21T10:{n:02d}:30.000Z",
            )
        created.append(item.execution_id)
    return created[::-1]


def test_list_pages_newest_first_with_a_cursor(
    client: TestClient, alice: dict[str, str], seven: list[str]
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = []
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/api/v1/executions", params=params, headers=alice)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append((body["page"], body["page_size"], body["has_more"], body["total_count"]))
        seen += ids(response)
        cursor = body.get("next_cursor")
        if not body["has_more"]:
            assert cursor is None
            break

    assert seen == seven
    assert pages == [(1, 3, True, 7), (2, 3, True, 7), (3, 3, False, 7)]
    summary = client.get("/api/v1/executions", params={"limit": 1}, headers=alice).json()
    assert summary["executions"][0] == {
        "execution_id": seven[0],
        "workflow_id": summary["executions"][0]["workflow_id"],
        "status": "RUNNING",
        "trigger": {"node_id": "start", "type": "manual"},
        "started_at": "2026-11-21T10:07:00.000Z",
        "ended_at": None,
        "mode": "live",
    }


def test_a_page_that_ends_exactly_at_the_last_item_has_no_more(
    client: TestClient, alice: dict[str, str], seven: list[str]
) -> None:
    body = client.get("/api/v1/executions", params={"limit": 7}, headers=alice).json()

    assert body["has_more"] is False
    assert body.get("next_cursor") is None
    assert len(body["executions"]) == 7


def test_the_status_filter_reads_on_until_the_page_is_full(
    client: TestClient, alice: dict[str, str], seven: list[str]
) -> None:
    failed = [seven[2], seven[5]]  # the 5th and the 2nd, newest first

    first = client.get("/api/v1/executions", params={"status": "failed", "limit": 1}, headers=alice)
    second = client.get(
        "/api/v1/executions",
        params={"status": "FAILED", "limit": 1, "cursor": first.json()["next_cursor"]},
        headers=alice,
    )

    assert ids(first) == failed[:1]
    assert first.json()["total_count"] == 2
    assert first.json()["has_more"] is True
    assert ids(second) == failed[1:]
    assert second.json()["has_more"] is False
    assert second.json()["page"] == 2
    assert second.json()["executions"][0]["ended_at"] == "2026-11-21T10:02:30.000Z"


def test_an_unknown_status_is_a_validation_error(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/api/v1/executions", params={"status": "DONE"}, headers=alice)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"]["errors"][0]["loc"] == ["query", "status"]


@pytest.mark.parametrize("limit", [0, 501])
def test_limit_is_bounded(client: TestClient, alice: dict[str, str], limit: int) -> None:
    response = client.get("/api/v1/executions", params={"limit": limit}, headers=alice)

    assert response.status_code == 400


def test_a_workflows_executions_by_query_and_by_route(
    client: TestClient,
    services: Services,
    alice: dict[str, str],
    make_workflow: MakeWorkflow,
    seven: list[str],
) -> None:
    other = make_workflow(alice, name="other")
    services.executions.create("alice", execution(other["id"], 30))
    wid = services.executions.get("alice", seven[0]).workflow_id

    by_query = client.get(
        "/api/v1/executions", params={"workflow_id": wid, "limit": 4}, headers=alice
    )
    by_route = client.get(f"/api/v1/workflows/{wid}/executions?limit=4", headers=alice)
    rest = client.get(
        f"/api/v1/workflows/{wid}/executions",
        params={"limit": 4, "cursor": by_route.json()["next_cursor"]},
        headers=alice,
    )
    other_only = client.get(f"/api/v1/workflows/{other['id']}/executions", headers=alice)

    assert ids(by_query) == seven[:4] == ids(by_route)
    assert by_route.json()["total_count"] == 7
    assert ids(rest) == seven[4:]
    assert ids(other_only) == ["20261121T103000000-0000001e"]


def test_another_users_workflow_executions_are_not_found(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], seven: list[str]
) -> None:
    workflow = client.get("/api/v1/executions?limit=1", headers=alice).json()["executions"][0]

    response = client.get(f"/api/v1/workflows/{workflow['workflow_id']}/executions", headers=bob)
    listed = client.get("/api/v1/executions", headers=bob)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert listed.json()["executions"] == []
    assert listed.json()["total_count"] == 0


def test_executions_stay_listed_after_their_workflow_is_deleted(
    client: TestClient, alice: dict[str, str], seven: list[str]
) -> None:
    workflow_id = client.get("/api/v1/executions?limit=1", headers=alice).json()["executions"][0][
        "workflow_id"
    ]
    assert client.delete(f"/api/v1/workflows/{workflow_id}", headers=alice).status_code == 200

    response = client.get(f"/api/v1/workflows/{workflow_id}/executions", headers=alice)

    assert response.status_code == 200
    assert ids(response) == seven


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", "eyJ4IjoxfQ", "W10", "e30"],  # garbage, {"x":1}, [], {}
)
def test_a_cursor_we_did_not_issue_is_a_validation_error(
    client: TestClient, alice: dict[str, str], seven: list[str], cursor: str
) -> None:
    response = client.get("/api/v1/executions", params={"cursor": cursor}, headers=alice)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"]["errors"][0]["loc"] == ["query", "cursor"]


def test_a_cursor_only_works_for_the_list_it_came_from(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], seven: list[str]
) -> None:
    page = client.get("/api/v1/executions", params={"limit": 2}, headers=alice).json()
    workflow_id = page["executions"][0]["workflow_id"]
    cursor = page["next_cursor"]

    as_bob = client.get("/api/v1/executions", params={"cursor": cursor}, headers=bob)
    other_list = client.get(
        "/api/v1/executions", params={"cursor": cursor, "workflow_id": workflow_id}, headers=alice
    )

    assert as_bob.status_code == 400
    assert other_list.status_code == 400


# -- reading ---------------------------------------------------------------------------------


def test_get_answers_the_execution_with_its_node_runs(
    client: TestClient, services: Services, alice: dict[str, str], bob: dict[str, str]
) -> None:
    item = execution("wf-1", 1, session_id="sess-1")
    services.executions.create("alice", item)
    for node_id, iteration, status in [
        ("start", [], NodeRunStatus.SUCCEEDED),
        ("body", [0], NodeRunStatus.SUCCEEDED),
        ("body", [1], NodeRunStatus.FAILED),
    ]:
        services.executions.put_run(
            "alice",
            item.execution_id,
            NodeRun(
                node_id=node_id,
                status=status,
                input={"i": iteration},
                output={"o": iteration},
                attempts=1,
                port="main",
                iteration=iteration,
                started_at=f"2026-11-21T10:01:0{len(iteration) + sum(iteration)}.000Z",
            ),
            attempt=1,
        )

    response = client.get(f"/api/v1/executions/{item.execution_id}", headers=alice)

    assert response.status_code == 200
    body = response.json()
    assert body["execution_id"] == item.execution_id
    assert body["status"] == "RUNNING"
    assert body["input"] == {"n": 1}
    assert body["revision"] == 1
    assert body["session_id"] == "sess-1"
    assert "sfn_execution_arn" not in body
    runs = [(r["node_id"], r["iteration"], r["status"]) for r in body["node_runs"]]
    assert runs == [
        ("start", [], "SUCCEEDED"),
        ("body", [0], "SUCCEEDED"),
        ("body", [1], "FAILED"),
    ]
    assert body["node_runs"][2]["input"] == {"i": [1]}
    assert client.get(f"/api/v1/executions/{item.execution_id}", headers=bob).status_code == 404
    missing = client.get("/api/v1/executions/nope", headers=alice)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


# -- cancelling ------------------------------------------------------------------------------


def _start_waiting_machine(runtime: EmbeddedRuntime, item: ExecutionItem) -> str:
    sfn = runtime.clients.stepfunctions
    machine = sfn.create_state_machine(
        name=f"wait-{time.time_ns()}",
        definition=json.dumps(
            {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 60, "End": True}}}
        ),
        roleArn=ROLE,
    )
    started = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        name=item.execution_id,
        input=json.dumps({"owner": "alice", "execution_id": item.execution_id}),
    )
    return str(started["executionArn"])


def _sfn_status(runtime: EmbeddedRuntime, arn: str) -> str:
    return str(runtime.clients.stepfunctions.describe_execution(executionArn=arn)["status"])


def test_cancel_stops_step_functions_and_closes_runs_and_approvals(
    client: TestClient,
    runtime: EmbeddedRuntime,
    services: Services,
    alice: dict[str, str],
    bob: dict[str, str],
) -> None:
    item = execution("wf-1", 1, execution_id=new_execution_id())
    services.executions.create("alice", item)
    arn = _start_waiting_machine(runtime, item)
    services.executions.update("alice", item.model_copy(update={"sfn_execution_arn": arn}))
    services.executions.put_run(
        "alice",
        item.execution_id,
        NodeRun(node_id="start", status=NodeRunStatus.SUCCEEDED, attempts=1),
        attempt=1,
    )
    services.executions.put_run(
        "alice",
        item.execution_id,
        NodeRun(node_id="ask", status=NodeRunStatus.WAITING, attempts=1),
        attempt=1,
    )
    approval = services.approvals.put_pending(
        "alice",
        ApprovalItem.pending(
            execution_id=item.execution_id,
            workflow_id="wf-1",
            node_id="ask",
            iteration=[],
            task_token="token",
        ),
    )

    url = f"/api/v1/executions/{item.execution_id}/cancel"
    assert client.post(url, headers=bob).status_code == 404
    response = client.post(url, headers=alice)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "execution_id": item.execution_id,
        "status": "CANCELLED",
        "success": True,
        "message": "execution cancelled",
    }
    record = client.get(f"/api/v1/executions/{item.execution_id}", headers=alice).json()
    assert record["status"] == "CANCELLED"
    assert record["ended_at"] is not None
    assert {r["node_id"]: r["status"] for r in record["node_runs"]} == {
        "start": "SUCCEEDED",
        "ask": "CANCELLED",
    }
    assert services.approvals.get("alice", approval.approval_id).status.value == "cancelled"
    wait_until(lambda: _sfn_status(runtime, arn) == "ABORTED")

    again = client.post(url, headers=alice)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"
    assert again.json()["error"]["details"]["status"] == "CANCELLED"


def test_cancel_before_step_functions_started_it_closes_the_record(
    client: TestClient, services: Services, alice: dict[str, str]
) -> None:
    item = execution("wf-1", 1)
    services.executions.create("alice", item)

    response = client.post(f"/api/v1/executions/{item.execution_id}/cancel", headers=alice)

    assert response.status_code == 200
    assert services.executions.get("alice", item.execution_id).status is ExecutionStatus.CANCELLED


def test_cancel_when_step_functions_no_longer_has_it_still_closes_the_record(
    client: TestClient, services: Services, alice: dict[str, str]
) -> None:
    item = execution(
        "wf-1",
        1,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:gone",
    )
    services.executions.create("alice", item)

    response = client.post(f"/api/v1/executions/{item.execution_id}/cancel", headers=alice)

    assert response.status_code == 200
    assert services.executions.get("alice", item.execution_id).status is ExecutionStatus.CANCELLED


def test_cancel_of_an_ended_execution_is_a_conflict(
    client: TestClient, services: Services, alice: dict[str, str]
) -> None:
    item = execution("wf-1", 1)
    services.executions.create("alice", item)
    services.executions.finish(
        "alice", item.execution_id, status=ExecutionStatus.SUCCEEDED, output=1, ended_at="t"
    )

    response = client.post(f"/api/v1/executions/{item.execution_id}/cancel", headers=alice)

    assert response.status_code == 409
    assert "SUCCEEDED" in response.json()["error"]["message"]


# -- the store -------------------------------------------------------------------------------


def test_new_execution_ids_sort_by_time_and_are_step_functions_names() -> None:
    first = new_execution_id()
    time.sleep(0.002)
    second = new_execution_id()

    assert re.fullmatch(r"\d{8}T\d{9}-[0-9a-f]{8}", first)
    assert first < second


class TestStatusWrites:
    def test_set_status_moves_between_running_and_waiting_only_while_open(
        self, services: Services
    ) -> None:
        repo = services.executions
        repo.create("alice", execution("wf", 1))
        eid = execution("wf", 1).execution_id

        assert repo.set_status("alice", eid, ExecutionStatus.WAITING) is True
        assert repo.get("alice", eid).status is ExecutionStatus.WAITING
        assert repo.set_status("alice", eid, ExecutionStatus.RUNNING) is True
        with pytest.raises(ValueError, match="RUNNING and WAITING"):
            repo.set_status("alice", eid, ExecutionStatus.SUCCEEDED)
        assert repo.finish("alice", eid, status=ExecutionStatus.FAILED, ended_at="t1") is True
        assert repo.set_status("alice", eid, ExecutionStatus.RUNNING) is False
        assert repo.get("alice", eid).status is ExecutionStatus.FAILED

    def test_finish_writes_once(self, services: Services) -> None:
        repo = services.executions
        item = execution("wf", 1)
        repo.create("alice", item)

        first = repo.finish(
            "alice", item.execution_id, status=ExecutionStatus.SUCCEEDED, output=1, ended_at="t1"
        )
        second = repo.finish(
            "alice", item.execution_id, status=ExecutionStatus.CANCELLED, ended_at="t2"
        )

        stored = repo.get("alice", item.execution_id)
        assert (first, second) == (True, False)
        assert (stored.status, stored.output, stored.ended_at) == (
            ExecutionStatus.SUCCEEDED,
            1,
            "t1",
        )
        with pytest.raises(ValueError, match="not a final status"):
            repo.finish("alice", item.execution_id, status=ExecutionStatus.RUNNING, ended_at="t")
        with pytest.raises(NotFound):
            repo.finish("alice", "nope", status=ExecutionStatus.FAILED, ended_at="t")

    def test_a_large_output_goes_to_s3_and_the_status_attribute_agrees(
        self, services: Services, runtime: EmbeddedRuntime
    ) -> None:
        repo = services.executions
        item = execution("wf", 1)
        repo.create("alice", item)
        big = {"text": "x" * 400_000}

        repo.finish(
            "alice", item.execution_id, status=ExecutionStatus.SUCCEEDED, output=big, ended_at="t"
        )

        raw = services.table.get({"pk": "USER#alice", "sk": f"EXECUTION#{item.execution_id}"})
        assert raw is not None
        assert "doc" not in raw
        assert raw["doc_ref"].startswith(f"executions/alice/{item.execution_id}/")
        assert raw["status"] == "SUCCEEDED"
        assert raw["ended_at"] == "t"
        assert repo.get("alice", item.execution_id).output == big
        objects = runtime.clients.s3.list_objects_v2(
            Bucket=runtime.store.payload_bucket, Prefix=f"executions/alice/{item.execution_id}/"
        )
        # The rewrite keeps only the document the item points at.
        assert [o["Key"] for o in objects["Contents"]] == [raw["doc_ref"]]

    def test_a_reader_racing_a_rewrite_reads_the_new_document(
        self, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given an execution whose document lives in S3.
        repo = services.executions
        item = execution("wf", 1)
        item.input = {"text": "x" * 400_000}
        repo.create("alice", item)
        payloads = repo.payloads
        real_get = payloads.get
        raced: list[str] = []

        def get_after_a_rewrite(key: str) -> bytes:
            # When another process finishes the execution between the reader's item read
            # and its S3 read (which removes the document the reader was pointed at).
            if not raced:
                raced.append(key)
                monkeypatch.setattr(payloads, "get", real_get)
                repo.finish(
                    "alice", item.execution_id, status=ExecutionStatus.SUCCEEDED, ended_at="t"
                )
            return real_get(key)

        monkeypatch.setattr(payloads, "get", get_after_a_rewrite)
        stored = repo.get("alice", item.execution_id)

        # Then the reader sees the rewritten execution instead of a 502.
        assert raced
        assert stored.status == ExecutionStatus.SUCCEEDED
        assert stored.input == item.input

    def test_update_adds_fields_but_never_reopens_an_ended_execution(
        self, services: Services
    ) -> None:
        repo = services.executions
        item = execution("wf", 1)
        repo.create("alice", item)
        repo.finish(
            "alice", item.execution_id, status=ExecutionStatus.SUCCEEDED, output=7, ended_at="t"
        )

        repo.update("alice", item.model_copy(update={"sfn_execution_arn": "arn:x"}))

        stored = repo.get("alice", item.execution_id)
        assert stored.sfn_execution_arn == "arn:x"
        assert (stored.status, stored.output) == (ExecutionStatus.SUCCEEDED, 7)

    def test_update_rewrites_an_open_execution(self, services: Services) -> None:
        repo = services.executions
        item = execution("wf", 1)
        repo.create("alice", item)

        repo.update("alice", item.model_copy(update={"state_machine_arn": "arn:m"}))

        assert repo.get("alice", item.execution_id).state_machine_arn == "arn:m"

    def test_mark_runs_cancelled_closes_only_open_runs(self, services: Services) -> None:
        repo = services.executions
        item = execution("wf", 1)
        repo.create("alice", item)
        for node_id, status in [
            ("a", NodeRunStatus.SUCCEEDED),
            ("b", NodeRunStatus.RUNNING),
            ("c", NodeRunStatus.WAITING),
            ("d", NodeRunStatus.FAILED),
        ]:
            repo.put_run(
                "alice",
                item.execution_id,
                NodeRun(node_id=node_id, status=status, input={"k": node_id}, attempts=1),
                attempt=1,
            )

        changed = repo.mark_runs_cancelled("alice", item.execution_id, "t-end")

        runs = {s.run.node_id: s.run for s in repo.list_runs("alice", item.execution_id)}
        assert changed == 2
        assert {k: r.status.value for k, r in runs.items()} == {
            "a": "SUCCEEDED",
            "b": "CANCELLED",
            "c": "CANCELLED",
            "d": "FAILED",
        }
        assert runs["b"].ended_at == "t-end"
        assert runs["c"].input == {"k": "c"}
        assert runs["a"].ended_at is None


class TestIdempotencyKeys:
    def test_the_first_claim_wins_and_release_frees_it(self, services: Services) -> None:
        repo = services.executions

        first = repo.claim_idempotency_key("alice", "wf", "key-1", "ex-a")
        second = repo.claim_idempotency_key("alice", "wf", "key-1", "ex-b")
        other_workflow = repo.claim_idempotency_key("alice", "wf-2", "key-1", "ex-c")
        other_user = repo.claim_idempotency_key("bob", "wf", "key-1", "ex-d")
        repo.release_idempotency_key("alice", "wf", "key-1")
        after_release = repo.claim_idempotency_key("alice", "wf", "key-1", "ex-e")

        assert (first, second, other_workflow, other_user, after_release) == (
            "ex-a",
            "ex-a",
            "ex-c",
            "ex-d",
            "ex-e",
        )

    def test_records_expire_after_a_day_and_an_expired_one_is_free(
        self, services: Services
    ) -> None:
        repo = services.executions
        repo.claim_idempotency_key("alice", "wf", "key-1", "ex-a")
        key = {"pk": "USER#alice", "sk": idempotency_sk("wf", "key-1")}
        stored = services.table.get(key)
        assert stored is not None
        assert stored["expires_at"] - stored["created_at"] == IDEMPOTENCY_TTL_SECONDS
        assert len(key["sk"]) == len("IDEMPOTENCY#wf#") + 64

        services.table.put({**stored, "expires_at": int(time.time()) - 1})

        assert repo.claim_idempotency_key("alice", "wf", "key-1", "ex-b") == "ex-b"


def test_delete_removes_the_execution_runs_approvals_and_values(
    services: Services, runtime: EmbeddedRuntime
) -> None:
    repo = services.executions
    item = execution("wf", 1, idempotency_key="key-1")
    repo.create("alice", item)
    repo.claim_idempotency_key("alice", "wf", "key-1", item.execution_id)
    repo.put_run(
        "alice",
        item.execution_id,
        NodeRun(node_id="big", status=NodeRunStatus.SUCCEEDED, output="y" * 400_000, attempts=1),
        attempt=1,
    )
    approval = services.approvals.put_pending(
        "alice",
        ApprovalItem.pending(
            execution_id=item.execution_id,
            workflow_id="wf",
            node_id="ask",
            iteration=[],
            task_token="t",
        ),
    )
    kept = execution("wf", 2)
    repo.create("alice", kept)

    repo.delete("alice", item.execution_id)

    with pytest.raises(NotFound):
        repo.get("alice", item.execution_id)
    assert repo.list_runs("alice", item.execution_id) == []
    with pytest.raises(NotFound):
        services.approvals.get("alice", approval.approval_id)
    assert services.table.get({"pk": "USER#alice", "sk": idempotency_sk("wf", "key-1")}) is None
    objects = runtime.clients.s3.list_objects_v2(
        Bucket=runtime.store.payload_bucket, Prefix=f"executions/alice/{item.execution_id}/"
    )
    assert objects.get("Contents", []) == []
    assert repo.get("alice", kept.execution_id).execution_id == kept.execution_id
    with pytest.raises(NotFound):
        repo.delete("alice", item.execution_id)


def test_create_twice_is_a_conflict(services: Services) -> None:
    services.executions.create("alice", execution("wf", 1))

    with pytest.raises(Conflict):
        services.executions.create("alice", execution("wf", 1))


def test_trigger_info_round_trips_through_the_list(services: Services) -> None:
    item = execution("wf", 1, trigger=TriggerInfo(node_id="hook", type="webhook"), mode="test")
    services.executions.create("alice", item)

    page = services.executions.list("alice")

    assert page.executions[0].trigger == TriggerInfo(node_id="hook", type="webhook")
    assert page.executions[0].mode == "test"
    assert page.page == 1
