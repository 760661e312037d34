"""Differential testing of the compiled state machine against the reference interpreter.

DESIGN.md decision 4: the reference interpreter defines the semantics, and property-based tests
check that a compiled workflow, run on the embedded runtime, gives the same execution. This module
holds what both sides need:

- Two test-only ACTION nodes, `TEST_FAIL` and `TEST_FLAKY_ATTEMPT`, and `test_nodes()`, which
  registers them in the node catalogue for the duration of a test (the in-process node runner
  then finds them with `registry.lookup` like any other node).
- `comparable(record)`: the part of an execution record that must agree (no times, no ids).
- `assert_agree(reference, compiled, workflow)`: equal comparables, with one documented latitude
  for executions that a node stopped (see `disagreements`).
- `Ordering`: which node run happens before which, used by the latitude and by the properties.

Usage from an integration test::

    with test_nodes():
        reference = dry_run(wf, services, owner="alice", trigger_data=data, max_retry_wait=0)
        compiled = ...  # compile wf, run it on the embedded runtime, read its ExecutionRecord
        assert_agree(reference, compiled, wf)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

import pytest
from pydantic import Field

from flowlane.engine.graph import WorkflowGraph
from flowlane.engine.interpreter import effective_on_error
from flowlane.models.execution import ExecutionRecord, ExecutionStatus, NodeRunStatus
from flowlane.models.workflow import NodeType, WorkflowData
from flowlane.nodes import registry
from flowlane.nodes.base import ERROR_PORT, Node, NodeContext, NodeError, NodeParameters, NodeResult

TEST_FAIL = "TEST_FAIL"
TEST_FLAKY_ATTEMPT = "TEST_FLAKY_ATTEMPT"
FAIL_MESSAGE = "TEST_FAIL always fails"

# A node run is identified by its node and the item indexes of the loops around it.
RunKey = tuple[str, tuple[int, ...]]
Relation = Literal["same", "before", "after", "concurrent"]


# -- test-only nodes ---------------------------------------------------------------------------


class FailParameters(NodeParameters):
    # UPSTREAM_ERROR is retryable under a retry_policy; VALIDATION_ERROR is not.
    code: str = "UPSTREAM_ERROR"
    message: str = FAIL_MESSAGE


class FailNode(Node[FailParameters]):
    """Fails every try with `code` and a fixed message: the same failure in any executor."""

    type = NodeType.ACTION
    subtype = TEST_FAIL
    title = "Test: fail"
    description = "Test-only node: fails every try."
    parameters_model = FailParameters
    # Pure: runs inline, no worker thread, nothing outside the process.
    pure = True

    def run(self, ctx: NodeContext, params: FailParameters) -> NodeResult:
        raise NodeError(params.code, params.message)


class FlakyAttemptParameters(NodeParameters):
    fail_times: int = Field(default=0, ge=0)


class FlakyAttemptNode(Node[FlakyAttemptParameters]):
    """Fails while `ctx.attempt <= fail_times` (UPSTREAM_ERROR, retryable), then echoes its input.

    It decides from the attempt number alone, never from a counter kept between calls, so the
    interpreter's retry loop and a state machine's Retry (a new Lambda delivery per attempt) see
    the same failures and the same output."""

    type = NodeType.ACTION
    subtype = TEST_FLAKY_ATTEMPT
    title = "Test: flaky per attempt"
    description = "Test-only node: fails its first `fail_times` tries."
    parameters_model = FlakyAttemptParameters
    pure = True

    def run(self, ctx: NodeContext, params: FlakyAttemptParameters) -> NodeResult:
        if ctx.attempt <= params.fail_times:
            # The message names no attempt number: the last try's error is the node's output,
            # and it must not depend on how many tries an executor happened to make.
            raise NodeError("UPSTREAM_ERROR", f"fails its first {params.fail_times} tries")
        return NodeResult({"echo": ctx.input, "attempt": ctx.attempt})


TEST_NODE_CLASSES: tuple[type[Node[Any]], ...] = (FailNode, FlakyAttemptNode)


@contextmanager
def test_nodes() -> Iterator[None]:
    """Register TEST_FAIL and TEST_FLAKY_ATTEMPT in the node catalogue; remove them afterwards.

    Nested uses are fine: only the entries this call added are removed."""
    # Load the catalogue first: its one-time reordering must not run while our entries are in
    # it, and `lookup` then finds them in `_nodes` without importing anything.
    registry.catalogue()
    added: list[tuple[NodeType, str]] = []
    for cls in TEST_NODE_CLASSES:
        key = (cls.type, cls.subtype)
        if key not in registry._nodes:
            registry.register(cls)
            added.append(key)
    try:
        yield
    finally:
        for key in added:
            registry._nodes.pop(key, None)


# Its name starts with "test": tell pytest it is not a test when a test module imports it.
test_nodes.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def differential_nodes() -> Iterator[None]:
    """`test_nodes()` as a fixture: import it into a test module (or a conftest) and request it."""
    with test_nodes():
        yield


# -- what must agree ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-like values compared as JSON: DynamoDB's Decimals and integral floats as ints
    (as `flowlane.engine.expressions` does), tuples as lists."""
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def comparable(record: ExecutionRecord) -> dict[str, Any]:
    """What must agree between two runs of a workflow: the execution's status, output and error
    (code, node), and per node run, keyed by (node_id, iteration): status, port, output, attempts
    and input. Times, ids and messages of the execution are left out.

    Raises AssertionError when a node ran twice in one iteration (CONTRACT.md section 4 says a
    node runs once, and a dict keyed by run would hide the second one)."""
    runs: dict[RunKey, dict[str, Any]] = {}
    for run in record.node_runs:
        key: RunKey = (run.node_id, tuple(run.iteration))
        if key in runs:
            raise AssertionError(f"node run {_name(key)} appears twice in {record.execution_id}")
        runs[key] = {
            "status": run.status.value,
            "port": run.port,
            "output": _plain(run.output),
            "attempts": run.attempts,
            "input": _plain(run.input),
        }
    error = record.error
    return {
        "status": record.status.value,
        "output": _plain(record.output),
        "error": None if error is None else {"code": error.code, "node_id": error.node_id},
        "node_runs": runs,
    }


# -- which run happens before which ------------------------------------------------------------


class Ordering:
    """Happens-before between node runs of one workflow, from its graph alone.

    A run is (node_id, iteration). Two runs are compared at the innermost loop scope they share:
    there each is represented by itself or by the LOOP that encloses it. Then:
    - the same LOOP in different iterations: ordered by index when the LOOP's max_concurrency is
      1 (a Map with MaxConcurrency 1 runs one item after the other), else concurrent;
    - the LOOP that encloses the other run: before it (the LOOP ran to start the iteration);
    - otherwise by graph dependency: before, after, or concurrent (neither depends on the other).
    """

    def __init__(self, workflow: WorkflowData) -> None:
        self.workflow = workflow
        self.graph = WorkflowGraph(workflow.nodes, workflow.connections)

    @cached_property
    def ancestors(self) -> dict[str, frozenset[str]]:
        """node id -> every node it transitively depends on (back edges excluded)."""
        found: dict[str, frozenset[str]] = {}
        for node_id in self.graph.order:  # dependencies come first in a topological order
            deps: set[str] = set()
            for dep in self.graph.dependencies(node_id):
                deps.add(dep)
                deps |= found.get(dep, frozenset())
            found[node_id] = frozenset(deps)
        return found

    def _concurrency(self, loop_id: str) -> int | None:
        value = self.graph.nodes[loop_id].parameters.get("max_concurrency", 1)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _path(self, key: RunKey) -> list[tuple[str, int]]:
        node_id, iteration = key
        return list(zip(self.graph.loops_of(node_id), iteration, strict=False))

    def relation(self, run: RunKey, other: RunKey) -> Relation:
        """Where `run` stands relative to `other`."""
        if run == other:
            return "same"
        a, b = self._path(run), self._path(other)
        depth = 0
        while depth < min(len(a), len(b)) and a[depth] == b[depth]:
            depth += 1
        rep_a = run[0] if len(a) == depth else a[depth][0]
        rep_b = other[0] if len(b) == depth else b[depth][0]
        if rep_a == rep_b:
            if len(a) == depth:
                return "before"  # `run` is the LOOP around `other`
            if len(b) == depth:
                return "after"  # `other` is the LOOP around `run`: `run` is in its body
            if self._concurrency(rep_a) == 1:
                return "before" if a[depth][1] < b[depth][1] else "after"
            return "concurrent"  # two iterations of a Map that may run them at once
        if rep_a in self.ancestors.get(rep_b, frozenset()):
            return "before"
        if rep_b in self.ancestors.get(rep_a, frozenset()):
            return "after"
        return "concurrent"

    def stops(self, node_id: str) -> bool:
        """Whether a failure of this node (after its retries) fails the execution."""
        node = self.graph.nodes[node_id]
        has_error_port = any(e.port == ERROR_PORT for e in self.graph.out_edges(node_id))
        return not has_error_port and effective_on_error(node, self.workflow) == "stop"


def stop_runs(record: ExecutionRecord) -> list[RunKey]:
    """The node runs that stopped the execution: FAILED with no port to go on from."""
    return [
        (r.node_id, tuple(r.iteration))
        for r in record.node_runs
        if r.status is NodeRunStatus.FAILED and r.port is None
    ]


# -- the comparison ----------------------------------------------------------------------------


def disagreements(
    reference: ExecutionRecord, compiled: ExecutionRecord, workflow: WorkflowData
) -> list[str]:
    """Readable differences between two executions of `workflow`; empty when they agree.

    They agree when their comparables are equal, with one latitude. When the reference was
    stopped by a node (status FAILED), a parallel executor may have run more or less of the
    branches running concurrently with the failing node (neither its ancestors nor its
    descendants, including other iterations of a loop with max_concurrency above 1) before it
    noticed the failure. For such an execution:
    - status and output must be equal;
    - every run before the failing run (its ancestors, the loops around it, earlier iterations of
      sequential loops) and the failing run itself must agree, present or absent in both;
    - no run after the failing run (its descendants, the body of a failing LOOP, later
      iterations of sequential loops) may be present in either;
    - concurrent runs may be present in either, absent in either, and are not compared.
    The compiled machine may also have been stopped by another node run, concurrent with the
    reference's, that stops (a race between two failing branches): then that run must be a
    stop failure of a node whose failure stops (on_error or error_policy stop, no error port),
    the execution's error must be its error, and only runs before both failing runs must agree.
    """
    ref, com = comparable(reference), comparable(compiled)
    if not (
        reference.status is ExecutionStatus.FAILED and compiled.status is ExecutionStatus.FAILED
    ):
        return _exact(ref, com)
    ordering = Ordering(workflow)
    problems: list[str] = []
    if ref["output"] != com["output"]:
        problems.append(_field_diff("execution output", ref["output"], com["output"]))
    stopped_ref = stop_runs(reference)
    if len(stopped_ref) != 1 or ref["error"] is None:
        return [
            *problems,
            f"the reference FAILED with error {ref['error']} but its stop failures are "
            f"{[_name(k) for k in stopped_ref]}: expected exactly one",
        ]
    failing_ref = stopped_ref[0]
    candidates = [
        k for k in stop_runs(compiled) if com["error"] and k[0] == com["error"]["node_id"]
    ]
    if not candidates:
        return [
            *problems,
            f"the compiled execution FAILED with error {com['error']} but no node run of that "
            f"node stopped it (stop failures: {[_name(k) for k in stop_runs(compiled)]})",
        ]
    # Prefer the reference's failing run; another candidate may explain a race.
    candidates.sort(key=lambda k: k != failing_ref)
    attempts = [_stopped_at(ordering, ref, com, failing_ref, k) for k in candidates]
    if any(not found for found in attempts):
        return problems
    return [*problems, *attempts[0]]


def _stopped_at(
    ordering: Ordering,
    ref: dict[str, Any],
    com: dict[str, Any],
    failing_ref: RunKey,
    failing_com: RunKey,
) -> list[str]:
    """The disagreements when the compiled execution was stopped at `failing_com`."""
    problems: list[str] = []
    if failing_com == failing_ref:
        if ref["error"] != com["error"]:
            problems.append(_field_diff("execution error", ref["error"], com["error"]))
    else:
        relation = ordering.relation(failing_com, failing_ref)
        if relation != "concurrent":
            problems.append(
                f"the compiled execution stopped at {_name(failing_com)}, which runs {relation} "
                f"the reference's stop at {_name(failing_ref)}, not concurrently with it"
            )
        if not ordering.stops(failing_com[0]):
            problems.append(
                f"the compiled execution stopped at {_name(failing_com)}, but a failure of node "
                f"'{failing_com[0]}' does not stop an execution (error port or on_error continue)"
            )
        own = com["node_runs"][failing_com]["output"]
        code = own.get("error", {}).get("code") if isinstance(own, dict) else None
        if com["error"] != {"code": code, "node_id": failing_com[0]}:
            problems.append(
                f"the compiled execution's error {com['error']} is not the error of "
                f"{_name(failing_com)}, which stopped it ({code})"
            )
    a, b = ref["node_runs"], com["node_runs"]
    for key in sorted(set(a) | set(b)):
        to_ref = ordering.relation(key, failing_ref)
        to_com = ordering.relation(key, failing_com)
        if to_ref == "after" and key in a:
            problems.append(
                f"{_name(key)} ran in the reference after its stop at {_name(failing_ref)}"
            )
        if to_com == "after" and key in b:
            problems.append(
                f"{_name(key)} ran in the compiled execution after its stop at {_name(failing_com)}"
            )
        if to_ref in ("before", "same") and to_com in ("before", "same"):
            problems.extend(_run_diff(key, a.get(key), b.get(key)))
    return problems


def assert_agree(
    reference: ExecutionRecord, compiled: ExecutionRecord, workflow: WorkflowData
) -> None:
    """Fail with a readable diff unless the two executions agree (see `disagreements`)."""
    problems = disagreements(reference, compiled, workflow)
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        raise AssertionError(
            f"the executions of workflow '{workflow.id}' disagree "
            f"(reference {reference.status.value}, compiled {compiled.status.value}):\n{listed}"
        )


def _exact(ref: dict[str, Any], com: dict[str, Any]) -> list[str]:
    problems = [
        _field_diff(f"execution {name}", ref[name], com[name])
        for name in ("status", "output", "error")
        if ref[name] != com[name]
    ]
    a, b = ref["node_runs"], com["node_runs"]
    for key in sorted(set(a) | set(b)):
        problems.extend(_run_diff(key, a.get(key), b.get(key)))
    return problems


def _run_diff(key: RunKey, ref: dict[str, Any] | None, com: dict[str, Any] | None) -> list[str]:
    if ref == com:
        return []
    if ref is None:
        return [f"{_name(key)} ran only in the compiled execution: {_show(com)}"]
    if com is None:
        return [f"{_name(key)} ran only in the reference: {_show(ref)}"]
    return [
        _field_diff(f"{_name(key)} {field}", ref[field], com[field])
        for field in ref
        if ref[field] != com.get(field)
    ]


def _field_diff(what: str, ref: Any, com: Any) -> str:
    return f"{what}:\n    reference: {_show(ref)}\n    compiled:  {_show(com)}"


def _show(value: Any, limit: int = 1500) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _name(key: RunKey) -> str:
    node_id, iteration = key
    return f"'{node_id}'" + (f"{list(iteration)}" if iteration else "")
