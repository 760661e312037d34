"""Generated workflows on the reference interpreter alone (DESIGN.md decision 4).

The compiled side is compared with `tests.differential.assert_agree` in integration tests; here
the generators and the comparison are checked against the interpreter, and the interpreter
against the rules of CONTRACT.md section 4.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.engine.graph import EACH, WorkflowGraph, is_loop
from flowlane.engine.interpreter import dry_run
from flowlane.engine.validation import validate_workflow
from flowlane.models.execution import ExecutionRecord, ExecutionStatus, NodeRun, NodeRunStatus
from flowlane.models.workflow import WorkflowData
from flowlane.nodes.base import RETRYABLE_CODES
from tests.differential import (
    TEST_FAIL,
    TEST_FLAKY_ATTEMPT,
    Ordering,
    RunKey,
    assert_agree,
    comparable,
    disagreements,
    stop_runs,
    test_nodes,
)
from tests.strategies import SHAPES, cases
from tests.workflows import manual, node, set_node, workflow

# Stable in CI: the same examples on every run; no deadline (a first JSONata compile is slow).
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


class PureServices:
    """Every generated node is pure: the settings are all it needs."""

    engine = EngineSettings()
    integrations = IntegrationSettings()


SERVICES: Any = PureServices()


@pytest.fixture(autouse=True, scope="module")
def _registered() -> Iterator[None]:
    with test_nodes():
        yield


def run(wf: WorkflowData, data: Any) -> ExecutionRecord:
    return dry_run(wf, SERVICES, owner="alice", trigger_data=data, max_retry_wait=0)


# -- the rules of section 4, checked on one record ---------------------------------------------


def check_rules(wf: WorkflowData, record: ExecutionRecord) -> None:
    graph = WorkflowGraph(wf.nodes, wf.connections)
    runs: dict[RunKey, NodeRun] = {}
    for r in record.node_runs:
        key = (r.node_id, tuple(r.iteration))
        assert key not in runs, f"{key} ran twice"
        runs[key] = r
        assert len(r.iteration) == len(graph.loops_of(r.node_id)), key

    def outcome(source: str, iteration: tuple[int, ...]) -> NodeRun | None:
        return runs.get((source, iteration[: len(graph.loops_of(source))]))

    def taken(target: str, iteration: tuple[int, ...]) -> bool:
        for edge in graph.in_edges(target):
            if graph.is_back_edge(edge):
                continue
            source = outcome(edge.source, iteration)
            if source is None:
                continue
            # Inside its body a LOOP has "run" on `each` for the iteration's item.
            own_body = edge.port == EACH and graph.enclosing_loop.get(target) == edge.source
            if own_body or source.port == edge.port:
                return True
        return False

    # A node runs only if one of its incoming edges was taken (the trigger: the one started).
    for node_id, iteration in runs:
        if node_id == record.trigger.node_id:
            assert iteration == ()
            continue
        assert taken(node_id, iteration), f"{node_id}{list(iteration)} ran with no edge taken"

    # Attempts: at most max_tries, and exactly what the test nodes make of the policy.
    for (node_id, _), r in runs.items():
        check_attempts(graph.nodes[node_id], r)

    if record.status is ExecutionStatus.FAILED:
        check_stop(wf, record, runs)
    elif record.status is ExecutionStatus.SUCCEEDED:
        # Conversely, with nothing stopped, every node an edge was taken to ran, in every scope.
        for scope, members in scopes(graph, runs):
            for node_id in members:
                if graph.nodes[node_id].type.value == "TRIGGER":
                    continue
                if taken(node_id, scope):
                    assert (node_id, scope) in runs, f"{node_id}{list(scope)} did not run"
        assert not stop_runs(record)
    assert_agree(record, record, wf)


def scopes(
    graph: WorkflowGraph, runs: dict[RunKey, NodeRun]
) -> Iterator[tuple[tuple[int, ...], list[str]]]:
    """(iteration, the nodes of that region) for the main pass and every loop iteration run."""
    yield (), [n for n in graph.order if n not in graph.enclosing_loop]
    for (node_id, iteration), r in runs.items():
        node = graph.nodes[node_id]
        if is_loop(node) and r.status is NodeRunStatus.SUCCEEDED and not r.disabled:
            assert isinstance(r.output, list)
            members = [n for n in graph.order if graph.enclosing_loop.get(n) == node_id]
            for index in range(len(r.output)):
                yield (*iteration, index), members


def check_attempts(node: Any, r: NodeRun) -> None:
    max_tries = node.retry_policy.max_tries if node.retry_policy else 1
    if r.disabled:
        assert r.attempts == 0
        return
    assert 1 <= r.attempts <= max_tries, (node.id, r.attempts)
    if node.subtype == TEST_FLAKY_ATTEMPT:
        fail_times = node.parameters.get("fail_times", 0)
        assert r.attempts == min(fail_times + 1, max_tries)
        assert (r.status is NodeRunStatus.SUCCEEDED) == (fail_times < max_tries)
        if r.status is NodeRunStatus.SUCCEEDED:
            assert r.output == {"echo": r.input, "attempt": r.attempts}
    if node.subtype == TEST_FAIL:
        retryable = node.parameters.get("code", "UPSTREAM_ERROR") in RETRYABLE_CODES
        assert r.status is NodeRunStatus.FAILED
        assert r.attempts == (max_tries if retryable else 1)


def check_stop(wf: WorkflowData, record: ExecutionRecord, runs: dict[RunKey, NodeRun]) -> None:
    """One node stopped the execution; nothing after it ran; it was the last to run."""
    stopped = stop_runs(record)
    assert len(stopped) == 1, stopped
    failing = stopped[0]
    assert record.error is not None
    assert record.error.node_id == failing[0]
    own_error = runs[failing].error
    assert own_error is not None
    assert record.error.code == own_error.code
    ordering = Ordering(wf)
    assert ordering.stops(failing[0])
    for key in runs:
        assert ordering.relation(key, failing) != "after", f"{key} ran after the stop {failing}"
    # The interpreter runs one node at a time: the stop is its last node run.
    last = record.node_runs[-1]
    assert (last.node_id, tuple(last.iteration)) == failing


# -- properties --------------------------------------------------------------------------------


@EXAMPLES
@given(cases())
def test_every_generated_workflow_validates(case: tuple[WorkflowData, Any]) -> None:
    wf, _ = case
    report = validate_workflow(wf)
    assert report.errors == [], [e.message for e in report.errors]


@EXAMPLES
@given(cases())
def test_generated_workflows_run_deterministically_by_the_rules(
    case: tuple[WorkflowData, Any],
) -> None:
    wf, data = case
    first = run(wf, data)
    assert first.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)
    assert comparable(first) == comparable(run(wf, data))
    check_rules(wf, first)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@EXAMPLES
@given(data=st.data())
def test_each_shape_validates_and_keeps_the_rules(shape: str, data: st.DataObject) -> None:
    wf, trigger = data.draw(cases(SHAPES[shape]()))
    report = validate_workflow(wf)
    assert report.errors == [], [e.message for e in report.errors]
    check_rules(wf, run(wf, trigger))


# -- the comparison itself ---------------------------------------------------------------------


def fail(node_id: str, **fields: Any) -> dict[str, Any]:
    return node(node_id, "ACTION", TEST_FAIL, parameters={"code": "VALIDATION_ERROR"}, **fields)


def parallel_stop() -> WorkflowData:
    """start -> bad (stops) -> after; start -> side -> side2 (concurrent with bad)."""
    return workflow(
        [
            manual(),
            fail("bad", on_error="stop"),
            set_node("side", {"v": 1}),
            set_node("side2", {"v": 2}),
            set_node("after", {"v": 3}),
        ],
        ("start", "main", "bad"),
        ("start", "main", "side"),
        ("side", "main", "side2"),
        ("bad", "main", "after"),
    )


def with_runs(record: ExecutionRecord, **changes: Any) -> ExecutionRecord:
    return record.model_copy(update=changes, deep=True)


def test_a_stop_leaves_concurrent_branches_free_but_not_ancestors_or_descendants() -> None:
    wf = parallel_stop()
    reference = run(wf, {"v": 0})
    assert reference.status is ExecutionStatus.FAILED
    assert [r.node_id for r in reference.node_runs] == ["start", "bad"]
    # The compiled machine ran the concurrent branch before the stop reached it: fine.
    side = NodeRun(node_id="side", status=NodeRunStatus.SUCCEEDED, output={"v": 1}, attempts=1)
    compiled = with_runs(reference, node_runs=[*reference.node_runs, side])
    assert_agree(reference, compiled, wf)
    # A descendant of the failing node must not run.
    after = NodeRun(node_id="after", status=NodeRunStatus.SUCCEEDED, attempts=1)
    compiled = with_runs(reference, node_runs=[*reference.node_runs, after])
    assert any(
        "'after' ran in the compiled execution after its stop" in p
        for p in disagreements(reference, compiled, wf)
    )
    # An ancestor must agree.
    changed = with_runs(reference)
    changed.node_runs[0].output = {"other": True}
    with pytest.raises(AssertionError, match="'start' output"):
        assert_agree(reference, changed, wf)


def test_a_stop_in_a_concurrent_branch_of_the_compiled_machine_is_a_race() -> None:
    wf = workflow(
        [manual(), fail("a", on_error="stop"), fail("b", on_error="stop")],
        ("start", "main", "a"),
        ("start", "main", "b"),
    )
    reference = run(wf, {})
    assert reference.error is not None
    assert reference.error.node_id == "a"
    b_run = NodeRun(
        node_id="b",
        status=NodeRunStatus.FAILED,
        output={"error": {"code": "VALIDATION_ERROR", "message": "x", "node_id": "b"}},
        attempts=1,
    )
    error = reference.error.model_copy(update={"node_id": "b"})
    compiled = with_runs(reference, node_runs=[reference.node_runs[0], b_run], error=error)
    assert_agree(reference, compiled, wf)


def test_without_a_stop_everything_must_agree_and_the_diff_names_the_run() -> None:
    wf = parallel_stop()
    fixed = workflow([manual(), set_node("a", {"v": "{{ input.v + 1 }}"})], ("start", "main", "a"))
    reference = run(fixed, {"v": 1})
    compiled = with_runs(reference)
    compiled.node_runs[1].output = {"v": 3}
    compiled.output = {"v": 3}
    with pytest.raises(AssertionError) as raised:
        assert_agree(reference, compiled, fixed)
    message = str(raised.value)
    assert "'a' output" in message
    assert '{"v": 2}' in message
    assert '{"v": 3}' in message
    missing = with_runs(reference, node_runs=reference.node_runs[:1])
    assert any("ran only in the reference" in p for p in disagreements(reference, missing, wf))


def test_loop_iterations_are_ordered_only_when_the_loop_runs_one_at_a_time() -> None:
    def looped(concurrency: int) -> WorkflowData:
        return workflow(
            [
                manual(),
                node(
                    "loop",
                    "FLOW",
                    "LOOP",
                    parameters={"items": "{{ trigger.items }}", "max_concurrency": concurrency},
                ),
                set_node("body", {"v": "{{ index }}"}),
            ],
            ("start", "main", "loop"),
            ("loop", "each", "body"),
        )

    for concurrency, expected in ((1, "before"), (3, "concurrent")):
        ordering = Ordering(looped(concurrency))
        assert ordering.relation(("body", (0,)), ("body", (1,))) == expected
        assert ordering.relation(("loop", ()), ("body", (1,))) == "before"
        assert ordering.relation(("body", (1,)), ("loop", ())) == "after"
        assert ordering.relation(("start", ()), ("body", (2,))) == "before"
