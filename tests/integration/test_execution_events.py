"""Ends that bypass the state machine's own recording (CONTRACT.md section 4, "nothing is
lost"): Step Functions status-change events close the execution record, the embedded runtime's
poller delivers them as EventBridge would, and `flowlane dev` closes what a stop interrupted."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowlane.config import LocalSettings, StoreSettings
from flowlane.models.execution import (
    ApprovalStatus,
    ExecutionStatus,
    NodeRun,
    NodeRunStatus,
    TriggerInfo,
)
from flowlane.models.workflow import WorkflowCreate
from flowlane.runtime import node_runner
from flowlane.runtime.embedded import EmbeddedRuntime, status_change_event
from flowlane.runtime.execution_control import apply_status_change
from flowlane.runtime.services import Services
from flowlane.store.approvals import ApprovalItem
from flowlane.store.executions import ExecutionItem, new_execution_id
from tests.conftest import workflow_body

ROLE = "arn:aws:iam::123456789012:role/flowlane-embedded-lambda"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:flowlane-wf"


def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


def open_execution(
    services: Services, *, owner: str = "alice", workflow_id: str = "wf", revision: int = 1
) -> ExecutionItem:
    """A RUNNING execution with a finished run, a running run and a pending approval."""
    item = ExecutionItem(
        execution_id=new_execution_id(),
        workflow_id=workflow_id,
        revision=revision,
        trigger=TriggerInfo(node_id="start"),
        started_at="2026-11-21T10:00:00.000Z",
        state_machine_arn=MACHINE,
    )
    services.executions.create(owner, item)
    for node_id, status in [("start", NodeRunStatus.SUCCEEDED), ("work", NodeRunStatus.RUNNING)]:
        services.executions.put_run(
            owner, item.execution_id, NodeRun(node_id=node_id, status=status), attempt=1
        )
    services.approvals.put_pending(
        owner,
        ApprovalItem.pending(
            execution_id=item.execution_id,
            workflow_id=workflow_id,
            node_id="ask",
            iteration=[],
            task_token="tok",
        ),
    )
    return item


def event(
    item: ExecutionItem, status: str, *, owner: str = "alice", **detail: Any
) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {
            "executionArn": f"{MACHINE.replace(':stateMachine:', ':execution:')}:"
            f"{item.execution_id}",
            "stateMachineArn": MACHINE,
            "name": item.execution_id,
            "status": status,
            "input": json.dumps({"owner": owner, "execution_id": item.execution_id}),
            "startDate": 1_795_000_000_000,
            "stopDate": 1_795_000_060_000,
            **detail,
        },
    }


def runs(services: Services, item: ExecutionItem) -> dict[str, str]:
    return {
        s.run.node_id: s.run.status.value
        for s in services.executions.list_runs("alice", item.execution_id)
    }


def pending(services: Services, item: ExecutionItem) -> list[str]:
    return [a.node_id for a in services.approvals.pending_for_execution("alice", item.execution_id)]


# -- apply_status_change ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sfn_status", "status", "code"),
    [
        ("ABORTED", ExecutionStatus.CANCELLED, None),
        ("TIMED_OUT", ExecutionStatus.TIMED_OUT, "TIMEOUT"),
        ("FAILED", ExecutionStatus.FAILED, "EXECUTION_FAILED"),
    ],
)
def test_an_end_outside_the_machine_closes_the_record_runs_and_approvals(
    services: Services, sfn_status: str, status: ExecutionStatus, code: str | None
) -> None:
    item = open_execution(services)

    applied = apply_status_change(
        services,
        event(item, sfn_status, error="States.Runtime", cause="the path $.x was not found"),
    )

    stored = services.executions.get("alice", item.execution_id)
    assert applied is True
    assert stored.status is status
    assert stored.ended_at == "2026-11-18T11:07:40.000Z"  # the event's stopDate
    assert (stored.error.code if stored.error else None) == code
    assert runs(services, item) == {"start": "SUCCEEDED", "work": "CANCELLED"}
    assert pending(services, item) == []
    approval = services.approvals.list("alice").approvals[0]
    assert approval.status is ApprovalStatus.CANCELLED


def test_a_failure_names_the_error_and_its_cause(services: Services) -> None:
    item = open_execution(services)

    apply_status_change(
        services, event(item, "FAILED", error="States.Runtime", cause="the path $.x was not found")
    )

    error = services.executions.get("alice", item.execution_id).error
    assert error is not None
    assert error.message == "States.Runtime: the path $.x was not found"


def test_a_timeout_names_the_workflows_timeout(services: Services) -> None:
    workflow = services.workflows.create(
        "alice",
        WorkflowCreate.model_validate(workflow_body(settings={"timeout": 120})),
    )
    services.workflows.snapshot("alice", workflow)
    item = open_execution(services, workflow_id=workflow.id, revision=workflow.revision)

    apply_status_change(services, event(item, "TIMED_OUT"))

    error = services.executions.get("alice", item.execution_id).error
    assert error is not None
    assert error.message == "the workflow ran past its timeout of 120 s"


def test_the_same_event_twice_changes_nothing_more(services: Services) -> None:
    item = open_execution(services)
    first = apply_status_change(services, event(item, "FAILED", error="E"))
    before = services.executions.get("alice", item.execution_id)

    second = apply_status_change(services, event(item, "FAILED", error="E", stopDate=1))
    later_abort = apply_status_change(services, event(item, "ABORTED"))

    assert (first, second, later_abort) == (True, False, False)
    assert services.executions.get("alice", item.execution_id) == before


def test_an_ended_execution_is_not_reopened_or_changed(services: Services) -> None:
    item = open_execution(services)
    services.executions.finish(
        "alice", item.execution_id, status=ExecutionStatus.SUCCEEDED, output=5, ended_at="t"
    )

    assert apply_status_change(services, event(item, "FAILED")) is False
    assert apply_status_change(services, event(item, "SUCCEEDED")) is False

    stored = services.executions.get("alice", item.execution_id)
    assert (stored.status, stored.output) == (ExecutionStatus.SUCCEEDED, 5)


@pytest.mark.parametrize(
    "change",
    [
        {"input": json.dumps({"owner": "alice", "execution_id": "never-started"})},
        {"input": json.dumps({"owner": "carol", "execution_id": "x"})},
        {"input": json.dumps({"n": 5})},  # not one of ours
        {"input": "not json"},
        {"input": json.dumps([1, 2])},
    ],
)
def test_unknown_executions_are_ignored(services: Services, change: dict[str, Any]) -> None:
    item = open_execution(services)
    unknown = event(item, "FAILED")
    unknown["detail"].update(change)

    assert apply_status_change(services, unknown) is False
    assert services.executions.get("alice", item.execution_id).status is ExecutionStatus.RUNNING


def test_an_event_without_detail_or_about_another_run_is_ignored(services: Services) -> None:
    item = open_execution(services)
    services.executions.update(
        "alice", item.model_copy(update={"sfn_execution_arn": "arn:aws:states:::execution:m:new"})
    )

    assert apply_status_change(services, {"detail-type": "x"}) is False
    assert apply_status_change(services, event(item, "FAILED")) is False
    assert apply_status_change(services, event(item, "RUNNING")) is False
    assert services.executions.get("alice", item.execution_id).status is ExecutionStatus.RUNNING


def test_success_while_still_running_lets_the_runner_finish_the_record(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    def finish_execution(_services: Services, owner: str, execution_id: str) -> None:
        calls.append((owner, execution_id))

    monkeypatch.setattr(node_runner, "finish_execution", finish_execution, raising=False)
    item = open_execution(services)

    assert apply_status_change(services, event(item, "SUCCEEDED")) is True
    assert calls == [("alice", item.execution_id)]


def test_the_function_applies_the_event(runtime: EmbeddedRuntime, services: Services) -> None:
    item = open_execution(services)

    response = runtime.clients.client("lambda").invoke(
        FunctionName="flowlane-execution-events", Payload=json.dumps(event(item, "ABORTED"))
    )

    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"applied": True}
    assert services.executions.get("alice", item.execution_id).status is ExecutionStatus.CANCELLED


# -- the embedded status poller --------------------------------------------------------------


def start_machine(
    runtime: EmbeddedRuntime, item: ExecutionItem, states: dict[str, Any], **top: Any
) -> str:
    sfn = runtime.clients.stepfunctions
    machine = sfn.create_state_machine(
        name=f"m-{time.time_ns()}",
        definition=json.dumps({"StartAt": next(iter(states)), "States": states, **top}),
        roleArn=ROLE,
    )
    return str(
        sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            name=item.execution_id,
            input=json.dumps({"owner": "alice", "execution_id": item.execution_id}),
        )["executionArn"]
    )


def status_of(services: Services, item: ExecutionItem) -> ExecutionStatus:
    return services.executions.get("alice", item.execution_id).status


def test_the_poller_reports_a_machine_that_timed_out(
    runtime: EmbeddedRuntime, services: Services
) -> None:
    item = open_execution(services)
    start_machine(
        runtime, item, {"Sleep": {"Type": "Wait", "Seconds": 60, "End": True}}, TimeoutSeconds=1
    )

    wait_until(lambda: status_of(services, item) is not ExecutionStatus.RUNNING)

    stored = services.executions.get("alice", item.execution_id)
    assert stored.status is ExecutionStatus.TIMED_OUT
    assert stored.error is not None
    assert stored.error.code == "TIMEOUT"
    assert runs(services, item)["work"] == "CANCELLED"


def test_the_poller_reports_a_machine_stopped_outside_the_api(
    runtime: EmbeddedRuntime, services: Services
) -> None:
    item = open_execution(services)
    arn = start_machine(runtime, item, {"Sleep": {"Type": "Wait", "Seconds": 60, "End": True}})
    time.sleep(0.3)
    assert status_of(services, item) is ExecutionStatus.RUNNING

    runtime.clients.stepfunctions.stop_execution(executionArn=arn)

    wait_until(lambda: status_of(services, item) is ExecutionStatus.CANCELLED)
    assert pending(services, item) == []


def test_the_poller_reports_a_failure_no_catch_handled(
    runtime: EmbeddedRuntime, services: Services
) -> None:
    item = open_execution(services)
    start_machine(
        runtime, item, {"Boom": {"Type": "Fail", "Error": "Custom.Boom", "Cause": "it broke"}}
    )

    wait_until(lambda: status_of(services, item) is ExecutionStatus.FAILED)

    error = services.executions.get("alice", item.execution_id).error
    assert error is not None
    assert (error.code, error.message) == ("EXECUTION_FAILED", "Custom.Boom: it broke")


def test_the_event_the_poller_builds_has_eventbridges_shape(runtime: EmbeddedRuntime) -> None:
    from datetime import UTC, datetime

    described = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e",
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        "name": "e",
        "status": "ABORTED",
        "startDate": datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        "stopDate": datetime(2026, 11, 21, 10, 1, tzinfo=UTC),
        "input": "{}",
    }

    built = status_change_event(described, region="us-east-1", account="123456789012")

    assert built["detail-type"] == "Step Functions Execution Status Change"
    assert built["source"] == "aws.states"
    assert built["resources"] == [described["executionArn"]]
    assert built["detail"]["startDate"] == 1_795_255_200_000
    assert built["detail"]["stopDate"] == 1_795_255_260_000
    assert built["detail"]["status"] == "ABORTED"
    assert built["detail"]["input"] == "{}"


# -- interrupted executions ------------------------------------------------------------------


def test_executions_a_stop_interrupted_are_closed_at_the_next_start(tmp_path: Path) -> None:
    def start() -> EmbeddedRuntime:
        local = LocalSettings(state_dir=tmp_path)
        return EmbeddedRuntime(state_dir=tmp_path, store=StoreSettings(), local=local).start()

    rt = start()
    services = Services(aws=rt.aws, store=rt.store, clients=rt.clients)
    running = open_execution(services)
    waiting = open_execution(services)
    services.executions.set_status("alice", waiting.execution_id, ExecutionStatus.WAITING)
    done = open_execution(services, owner="bob")
    services.executions.finish(
        "bob", done.execution_id, status=ExecutionStatus.SUCCEEDED, output=1, ended_at="t"
    )
    rt.stop()

    rt = start()
    try:
        services = Services(aws=rt.aws, store=rt.store, clients=rt.clients)
        assert sorted(rt.interrupted) == sorted(
            [f"alice/{running.execution_id}", f"alice/{waiting.execution_id}"]
        )
        for item in (running, waiting):
            stored = services.executions.get("alice", item.execution_id)
            assert stored.status is ExecutionStatus.FAILED
            assert stored.error is not None
            assert stored.error.code == "INTERRUPTED"
            assert "flowlane dev stopped" in stored.error.message
            assert runs(services, item) == {"start": "SUCCEEDED", "work": "CANCELLED"}
            assert pending(services, item) == []
        assert services.executions.get("bob", done.execution_id).status is (
            ExecutionStatus.SUCCEEDED
        )
    finally:
        rt.stop()

    rt = start()  # closed once: nothing is left to close
    try:
        assert rt.interrupted == []
    finally:
        rt.stop()
