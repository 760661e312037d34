"""The EMF metrics the platform alarms watch, printed by the real handlers as on Lambda:
`NodeRunnerFaults` (functions/node_runner) for what went wrong in the runner itself, never a
node's own outcome, and `ExecutionsFailed` (functions/execution_events) for every workflow
execution that failed or timed out, children of split workflows aside."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from flowlane.errors import NotFound
from flowlane.models.execution import ExecutionStatus, TriggerInfo
from flowlane.models.workflow import NodeType, WorkflowCreate
from flowlane.nodes import registry
from flowlane.observability import metrics
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.node_runner import NodeFailed, NodeRetry
from flowlane.runtime.services import Services
from flowlane.store.executions import ExecutionItem, new_execution_id
from tests.integration.test_execution_events import event, open_execution
from tests.integration.test_runtime_handlers import cold_start, context
from tests.unit.test_interpreter import Flaky, flaky
from tests.workflows import connections, manual, set_node

OWNER = "alice"
# What the CDK app's alarms query (cdk/flowlane_cdk/observability.py).
NAMESPACE = "Flowlane"
DIMENSIONS = {"service": "flowlane"}


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Metrics enabled whatever an earlier test left in os.environ (`flowlane dev` and
    `flowlane run` set POWERTOOLS_METRICS_DISABLED=true in-process), nothing pending."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def node_runner_fn(runtime: EmbeddedRuntime, metrics_on: None) -> ModuleType:
    return cold_start("node_runner")


@pytest.fixture
def events_fn(runtime: EmbeddedRuntime, metrics_on: None) -> ModuleType:
    return cold_start("execution_events")


@pytest.fixture
def flaky_node() -> Iterator[None]:
    registry.catalogue()
    registry._nodes[(NodeType.ACTION, "TEST_FLAKY")] = Flaky()
    Flaky.calls.clear()
    yield
    registry._nodes.pop((NodeType.ACTION, "TEST_FLAKY"), None)


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF documents printed on stdout since the last call."""
    return [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]


def values(blobs: list[dict[str, Any]], name: str) -> list[float]:
    """Every value of metric `name`, checking each is published where the alarms look."""
    found: list[float] = []
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            if name not in [m["Name"] for m in directive["Metrics"]]:
                continue
            assert directive["Namespace"] == NAMESPACE
            # An alarm matches the exact dimension set: {"service": "flowlane"}, nothing more.
            assert directive["Dimensions"] == [sorted(DIMENSIONS)]
            assert {d: blob[d] for d in DIMENSIONS} == DIMENSIONS
            value = blob[name]
            found.extend(value if isinstance(value, list) else [value])
    return found


def start_execution(services: Services, nodes: list[dict[str, Any]], *edges: Any) -> str:
    workflow = services.workflows.create(
        OWNER,
        WorkflowCreate.model_validate(
            {"name": "metrics", "nodes": nodes, "connections": connections(*edges)}
        ),
    )
    services.workflows.snapshot(OWNER, workflow)
    execution_id = new_execution_id()
    services.executions.create(
        OWNER,
        ExecutionItem(
            execution_id=execution_id,
            workflow_id=workflow.id,
            revision=workflow.revision,
            trigger=TriggerInfo(node_id="start", type="manual"),
            input={"k": 1},
            started_at="2026-11-21T00:00:00Z",
        ),
    )
    return execution_id


def invoke(fn: ModuleType, name: str, payload: dict[str, Any]) -> Any:
    return fn.handler(payload, context(name))


def assert_faults_are_captured(fn: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    """The control for "no fault counted": a fault right after is seen in the same capture."""
    with pytest.raises(NotFound):
        invoke(fn, "flowlane-node-runner", {"owner": OWNER, "execution_id": "never-started"})
    assert values(emitted(capsys), "NodeRunnerFaults") == [1]


# -- functions/node_runner ---------------------------------------------------------------------


def test_a_runner_fault_is_counted_and_still_raised(
    node_runner_fn: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = {"owner": OWNER, "execution_id": "never-started", "node_id": "start"}

    with pytest.raises(NotFound):
        invoke(node_runner_fn, "flowlane-node-runner", payload)

    assert values(emitted(capsys), "NodeRunnerFaults") == [1]


def test_an_event_the_runner_cannot_read_is_a_fault(
    node_runner_fn: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValidationError, match="owner"):
        invoke(node_runner_fn, "flowlane-node-runner", {"execution_id": "x"})

    assert values(emitted(capsys), "NodeRunnerFaults") == [1]


def test_a_node_that_stops_the_execution_is_not_a_fault(
    node_runner_fn: ModuleType,
    services: Services,
    flaky_node: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id = start_execution(
        services,
        [manual(), flaky("s", fail_times=1, on_error="stop")],
        ("start", "main", "s"),
    )
    call = {"owner": OWNER, "execution_id": execution_id}
    invoke(node_runner_fn, "flowlane-node-runner", {**call, "node_id": "start"})

    with pytest.raises(NodeFailed):
        invoke(node_runner_fn, "flowlane-node-runner", {**call, "node_id": "s"})

    assert values(emitted(capsys), "NodeRunnerFaults") == []
    assert_faults_are_captured(node_runner_fn, capsys)


def test_a_node_retry_is_not_a_fault(
    node_runner_fn: ModuleType,
    services: Services,
    flaky_node: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy = {"max_tries": 2, "wait_between_tries": 1}
    execution_id = start_execution(
        services, [manual(), flaky("f", fail_times=1, retry_policy=policy)], ("start", "main", "f")
    )
    call = {"owner": OWNER, "execution_id": execution_id}
    invoke(node_runner_fn, "flowlane-node-runner", {**call, "node_id": "start"})

    with pytest.raises(NodeRetry):
        invoke(node_runner_fn, "flowlane-node-runner", {**call, "node_id": "f", "attempt": 0})
    answer = invoke(node_runner_fn, "flowlane-node-runner", {**call, "node_id": "f", "attempt": 1})

    assert answer["status"] == "SUCCEEDED"
    assert values(emitted(capsys), "NodeRunnerFaults") == []
    assert_faults_are_captured(node_runner_fn, capsys)


def test_a_fault_after_successful_runs_is_counted_once(
    node_runner_fn: ModuleType, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = start_execution(
        services, [manual(), set_node("a", {"n": 1})], ("start", "main", "a")
    )
    call = {"owner": OWNER, "execution_id": execution_id}
    for node_id in ("start", "a"):
        assert invoke(node_runner_fn, "flowlane-node-runner", {**call, "node_id": node_id})[
            "status"
        ] == ("SUCCEEDED")
    assert values(emitted(capsys), "NodeRunnerFaults") == []

    with pytest.raises(ValueError, match="not in workflow"):
        invoke(node_runner_fn, "flowlane-node-runner", {**call, "node_id": "missing"})

    assert values(emitted(capsys), "NodeRunnerFaults") == [1]


# -- functions/execution_events --------------------------------------------------------------------


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT"])
def test_a_failed_or_timed_out_execution_is_counted(
    events_fn: ModuleType, services: Services, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    item = open_execution(services)

    answer = invoke(events_fn, "flowlane-execution-events", event(item, status, error="E"))

    assert answer == {"applied": True}
    blobs = emitted(capsys)
    assert values(blobs, "ExecutionsFailed") == [1]
    assert values(blobs, "ExecutionsClosedByEvents") == [1]


def test_a_failure_the_machine_recorded_itself_is_counted_too(
    events_fn: ModuleType, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    item = open_execution(services)
    services.executions.finish(
        OWNER, item.execution_id, status=ExecutionStatus.FAILED, ended_at="2026-11-21T10:01:00Z"
    )

    answer = invoke(events_fn, "flowlane-execution-events", event(item, "FAILED"))

    assert answer == {"applied": False}
    blobs = emitted(capsys)
    assert values(blobs, "ExecutionsFailed") == [1]
    assert values(blobs, "ExecutionsClosedByEvents") == [0]


@pytest.mark.parametrize("status", ["SUCCEEDED", "ABORTED", "RUNNING"])
def test_other_ends_are_not_counted_as_failures(
    events_fn: ModuleType, services: Services, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    # An execution the machine has already closed (as it does on success).
    item = open_execution(services)
    services.executions.finish(
        OWNER, item.execution_id, status=ExecutionStatus.SUCCEEDED, ended_at="2026-11-21T10:01:00Z"
    )

    invoke(events_fn, "flowlane-execution-events", event(item, status))

    blobs = emitted(capsys)
    assert values(blobs, "ExecutionsFailed") == []
    assert values(blobs, "ExecutionsClosedByEvents") == [0]  # the invocation did publish


@pytest.mark.parametrize("suffix", ["-part1", "-part12"])
def test_a_failed_part_of_a_split_workflow_is_not_counted(
    events_fn: ModuleType, services: Services, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    item = open_execution(services)
    child = event(item, "FAILED", name=f"{item.execution_id}{suffix}")

    invoke(events_fn, "flowlane-execution-events", child)

    blobs = emitted(capsys)
    assert values(blobs, "ExecutionsFailed") == []
    assert len(values(blobs, "ExecutionsClosedByEvents")) == 1


def test_each_failed_execution_is_counted_in_its_own_invocation(
    events_fn: ModuleType, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = open_execution(services), open_execution(services)

    invoke(events_fn, "flowlane-execution-events", event(first, "FAILED"))
    invoke(events_fn, "flowlane-execution-events", event(second, "TIMED_OUT"))
    invoke(events_fn, "flowlane-execution-events", event(first, "SUCCEEDED"))

    assert values(emitted(capsys), "ExecutionsFailed") == [1, 1]


def test_an_event_without_detail_is_not_counted(
    events_fn: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(events_fn, "flowlane-execution-events", {"detail-type": "x"}) == {
        "applied": False
    }

    assert values(emitted(capsys), "ExecutionsFailed") == []
