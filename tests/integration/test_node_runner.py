"""The node runner on the embedded runtime: reads inputs from the store, writes node runs,
answers with a small envelope, and runs a delivered attempt once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from flowlane.models.execution import TriggerInfo
from flowlane.models.workflow import NodeType, WorkflowCreate, WorkflowData
from flowlane.nodes import registry
from flowlane.runtime.node_runner import NodeFailed, NodeRetry, NodeRunInProgress, NodeRunner
from flowlane.runtime.services import Services
from flowlane.store.executions import ExecutionItem
from tests.conftest import REPO_ROOT
from tests.unit.test_interpreter import Flaky, flaky, if_node
from tests.workflows import connections, manual, node, set_node

OWNER = "alice"


@pytest.fixture(autouse=True)
def flaky_node() -> Iterator[None]:
    registry.catalogue()
    registry._nodes[(NodeType.ACTION, "TEST_FLAKY")] = Flaky()
    Flaky.calls.clear()
    yield
    registry._nodes.pop((NodeType.ACTION, "TEST_FLAKY"), None)


def start(
    services: Services,
    nodes: list[dict[str, Any]],
    *edges: Any,
    data: Any = None,
    execution_id: str = "ex-1",
) -> WorkflowData:
    created = services.workflows.create(
        OWNER,
        WorkflowCreate.model_validate(
            {"name": "runner", "nodes": nodes, "connections": connections(*edges)}
        ),
    )
    services.workflows.snapshot(OWNER, created)
    services.executions.create(
        OWNER,
        ExecutionItem(
            execution_id=execution_id,
            workflow_id=created.id,
            revision=created.revision,
            trigger=TriggerInfo(node_id=nodes[0]["id"], type="manual"),
            input=data,
            started_at="2026-11-21T00:00:00Z",
        ),
    )
    return created


def call(runner: NodeRunner, node_id: str, **extra: Any) -> dict[str, Any]:
    return runner.handle({"owner": OWNER, "execution_id": "ex-1", "node_id": node_id, **extra})


def runs(services: Services) -> dict[tuple[str, tuple[int, ...]], Any]:
    return {
        (s.run.node_id, tuple(s.run.iteration)): s.run
        for s in services.executions.list_runs(OWNER, "ex-1")
    }


def test_a_chain_runs_node_by_node_through_the_store(services: Services) -> None:
    start(
        services,
        [
            manual(),
            set_node("a", {"n": "{{ input.x + 1 }}"}),
            if_node("check", "{{ nodes.a.n }}", "gt", 1),
            set_node("yes", {"y": 1}),
            set_node("no", {"n": 0}),
        ],
        ("start", "main", "a"),
        ("a", "main", "check"),
        ("check", "true", "yes"),
        ("check", "false", "no"),
        data={"x": 1},
    )
    runner = NodeRunner(services)
    assert call(runner, "start") == {"node_id": "start", "status": "SUCCEEDED", "port": "main"}
    assert call(runner, "a")["status"] == "SUCCEEDED"
    assert call(runner, "check")["port"] == "true"
    assert call(runner, "yes")["status"] == "SUCCEEDED"
    # The branch not taken: the runner skips it and records nothing.
    assert call(runner, "no") == {"node_id": "no", "status": "SKIPPED", "port": None}
    stored = runs(services)
    assert set(stored) == {("start", ()), ("a", ()), ("check", ()), ("yes", ())}
    assert stored[("a", ())].input == {"x": 1}
    assert stored[("a", ())].output == {"n": 2}
    assert stored[("yes", ())].attempts == 1


def test_the_same_attempt_delivered_twice_runs_once(services: Services) -> None:
    start(services, [manual(), flaky("f")], ("start", "main", "f"), data={"k": 1})
    runner = NodeRunner(services)
    call(runner, "start")
    first = call(runner, "f")
    second = call(runner, "f")
    assert first == second
    assert Flaky.calls == {"f": 1}
    # The next attempt (a Step Functions retry) does run.
    call(runner, "f", attempt=1)
    assert Flaky.calls == {"f": 2}


def test_a_retryable_failure_with_tries_left_raises_for_step_functions(services: Services) -> None:
    policy = {"max_tries": 2, "wait_between_tries": 1}
    start(
        services, [manual(), flaky("f", fail_times=1, retry_policy=policy)], ("start", "main", "f")
    )
    runner = NodeRunner(services)
    call(runner, "start")
    with pytest.raises(NodeRetry):
        call(runner, "f", attempt=0)
    with pytest.raises(NodeRetry):  # a duplicate delivery of the failed attempt answers alike
        call(runner, "f", attempt=0)
    assert call(runner, "f", attempt=1)["status"] == "SUCCEEDED"
    assert runs(services)[("f", ())].attempts == 2


def test_failures_take_the_error_port_continue_or_stop(services: Services) -> None:
    start(
        services,
        [
            manual(),
            flaky("e", fail_times=1),
            flaky("c", fail_times=1, on_error="continue"),
            flaky("s", fail_times=1, on_error="stop"),
            set_node("h", {}),
        ],
        ("start", "main", "e"),
        ("start", "main", "c"),
        ("start", "main", "s"),
        ("e", "error", "h"),
    )
    runner = NodeRunner(services)
    call(runner, "start")
    assert call(runner, "e") == {"node_id": "e", "status": "FAILED", "port": "error"}
    assert call(runner, "c") == {"node_id": "c", "status": "FAILED", "port": "main"}
    with pytest.raises(NodeFailed) as stopped:
        call(runner, "s")
    assert json.loads(str(stopped.value))["node_id"] == "s"
    assert runs(services)[("e", ())].error.code == "UPSTREAM_ERROR"
    assert call(runner, "h")["status"] == "SUCCEEDED"


def test_a_loop_hands_out_iterations_and_collects_body_results(services: Services) -> None:
    start(
        services,
        [
            manual(),
            node("loop", "FLOW", "LOOP", parameters={"items": "{{ input }}"}),
            set_node("sq", {"v": "{{ item * item }}", "i": "{{ index }}"}),
            set_node("after", {"all": "{{ input }}"}),
        ],
        ("start", "main", "loop"),
        ("loop", "each", "sq"),
        ("sq", "main", "loop"),
        ("loop", "done", "after"),
        data=[2, 3],
    )
    runner = NodeRunner(services)
    call(runner, "start")
    opened = call(runner, "loop")
    assert opened == {
        "node_id": "loop",
        "status": "RUNNING",
        "port": "each",
        "iterations": [[0], [1]],
        "max_concurrency": 1,
    }
    for iteration in opened["iterations"]:
        assert call(runner, "sq", iteration=iteration)["status"] == "SUCCEEDED"
    assert call(runner, "loop", phase="done")["port"] == "done"
    call(runner, "after")
    stored = runs(services)
    assert stored[("sq", (1,))].output == {"v": 9, "i": 1}
    assert stored[("after", ())].output == {"all": [{"v": 4, "i": 0}, {"v": 9, "i": 1}]}


def test_large_values_go_to_s3_behind_a_reference(services: Services) -> None:
    start(
        services,
        [manual(), set_node("big", {"text": "{{ $pad('', 400000, 'x') }}"})],
        ("start", "main", "big"),
    )
    runner = NodeRunner(services)
    call(runner, "start")
    call(runner, "big")
    item = services.table.get({"pk": "USER#alice#EXECUTION#ex-1", "sk": "RUN#-#big"})
    assert item is not None
    assert "output_ref" in item
    assert "output" not in item
    assert len(runs(services)[("big", ())].output["text"]) == 400_000


def test_wait_returns_its_end_for_a_native_wait_and_closes_after_it(services: Services) -> None:
    start(
        services,
        [manual(), node("w", "FLOW", "WAIT", parameters={"seconds": 30})],
        ("start", "main", "w"),
        data={"k": 1},
    )
    runner = NodeRunner(services)
    call(runner, "start")
    opened = call(runner, "w")
    assert opened["status"] == "RUNNING"
    assert opened["wait_seconds"] in (30, 31)
    # While the Wait state runs the node is RUNNING, and nothing downstream sees it as done.
    assert runs(services)[("w", ())].status == "RUNNING"
    closed = call(runner, "w", phase="done")
    assert closed["status"] == "SUCCEEDED"
    assert closed["port"] == "main"
    assert runs(services)[("w", ())].output == {"k": 1}


def test_the_runner_imports_no_fastapi_and_no_llm_sdk() -> None:
    code = (
        "import sys; sys.path.insert(0, 'functions/node_runner'); import handler; "
        "print(sorted(m for m in ('fastapi', 'openai', 'anthropic', 'langgraph', 'starlette') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "FLOWLANE_RUNTIME": "embedded", "AWS_REGION": "us-east-1"},
    )
    assert result.stdout.strip() == "[]"


def test_a_delivery_while_the_same_attempt_runs_elsewhere_is_told_to_retry(
    services: Services,
) -> None:
    start(services, [manual(), flaky("f")], ("start", "main", "f"))
    runner = NodeRunner(services)
    call(runner, "start")
    # Another delivery of attempt 1 has claimed the run and is still within its time.
    claimed = services.executions.claim(
        OWNER, "ex-1", "f", [], 1, stale_after_ms=900_000, started_at="2026-11-21T00:00:00Z"
    )
    assert claimed is None
    with pytest.raises(NodeRunInProgress):
        call(runner, "f")
    assert Flaky.calls == {}


def test_disabled_nodes_pass_through_and_approvals_wait_for_their_token(
    services: Services,
) -> None:
    start(
        services,
        [
            manual(),
            set_node("off", {"x": 1}, disabled=True),
            node("ask", "HUMAN_IN_THE_LOOP", "APPROVAL"),
        ],
        ("start", "main", "off"),
        ("off", "main", "ask"),
        data={"k": 1},
    )
    runner = NodeRunner(services)
    call(runner, "start")
    assert call(runner, "off")["status"] == "SUCCEEDED"
    assert runs(services)[("off", ())].output == {"k": 1}
    with pytest.raises(ValueError, match="task_token"):
        call(runner, "ask")
    assert call(runner, "ask", task_token="tok-1") == {
        "node_id": "ask",
        "status": "WAITING",
        "port": None,
    }
    assert runs(services)[("ask", ())].status == "WAITING"
