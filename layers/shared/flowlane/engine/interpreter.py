"""The reference interpreter: CONTRACT.md section 4 in one place (DESIGN.md decision 4).

It runs a workflow in process, node by node in topological order, and answers with the
execution's shape. It powers dry runs (`POST /workflows/{id}/test`), and the compiled state
machines are tested against it. The rules:

- The run starts at one trigger (the one named, else the first MANUAL, else the first trigger).
- A node runs when at least one of its incoming edges was taken: the source ran and took that
  edge's port. Its input is that single output, or `{source_id: output}` when several ran
  (MERGE gets them all, ordered by input index). A node no taken edge reaches does not run and is
  absent from the node runs.
- Disabled nodes pass their input through; pinned nodes (`pin_data`) output the pinned value.
- A failure is retried per `retry_policy` when it is worth retrying; then the `error` port if
  connected, else `on_error` (stop when the node's on_error or the workflow's `error_policy` says
  stop, else continue): continue takes the
  node's normal port with `{"error": ...}` as output, stop fails the execution.
- A LOOP runs its body once per item in a scope of its own, with `item` and `index`; its output on
  `done` is the list of body results (the terminal outputs of each iteration).
- The output is the output of the terminal nodes that ran: the value itself when one did, else
  `{node_id: output}`.

A dry run does not wait at WAIT nodes, approves approvals (unless pinned), and shortens retry
waits (the `sleep` it is given).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flowlane.engine.graph import DONE, EACH, Edge, WorkflowGraph, is_loop
from flowlane.engine.node_execution import RunRequest, definition_of, run_once
from flowlane.models.execution import (
    ExecutionRecord,
    ExecutionStatus,
    NodeRun,
    NodeRunError,
    NodeRunStatus,
    TriggerInfo,
)
from flowlane.models.workflow import NodeData, NodeType, WorkflowData
from flowlane.nodes.base import (
    ERROR_PORT,
    MAIN_PORT,
    RETRYABLE_CODES,
    InputValue,
    NodeError,
    NodeResult,
    NodeServices,
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Ran:
    """What a node did in one scope: enough to decide which of its edges were taken."""

    output: Any
    port: str | None


@dataclass
class _Scope:
    """The node outcomes of one iteration of a loop (or of the whole run)."""

    ran: dict[str, _Ran] = field(default_factory=dict)
    parent: _Scope | None = None
    iteration: tuple[int, ...] = ()
    item: Any = None
    index: int | None = None

    def lookup(self, node_id: str) -> _Ran | None:
        scope: _Scope | None = self
        while scope is not None:
            if node_id in scope.ran:
                return scope.ran[node_id]
            scope = scope.parent
        return None

    def outputs(self) -> dict[str, Any]:
        """`nodes.ID` for expressions: every output visible from here, inner scopes win."""
        chain: list[_Scope] = []
        scope: _Scope | None = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        merged: dict[str, Any] = {}
        for s in reversed(chain):
            merged.update({k: v.output for k, v in s.ran.items()})
        return merged


class ExecutionFailed(Exception):
    def __init__(self, error: NodeRunError) -> None:
        super().__init__(error.message)
        self.error = error


class ExecutionTimedOut(Exception):
    pass


class Interpreter:
    def __init__(
        self,
        workflow: WorkflowData,
        services: NodeServices,
        *,
        owner: str,
        execution_id: str | None = None,
        pin_data: Mapping[str, Any] | None = None,
        dry_run: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workflow = workflow
        self.graph = WorkflowGraph(workflow.nodes, workflow.connections)
        self.services = services
        self.owner = owner
        self.execution_id = execution_id or f"test-{uuid.uuid4().hex[:16]}"
        self.pin_data = dict(pin_data or {})
        self.dry_run = dry_run
        self.sleep = sleep
        self.clock = clock
        self.node_runs: list[NodeRun] = []
        self.trigger_output: Any = None
        self._deadline = 0.0
        # Nodes in a loop body run in that loop's scope, not in the main pass.
        self._in_body = set(self.graph.enclosing_loop)

    # -- the run -------------------------------------------------------------------------------

    def run(self, trigger_data: Any = None, trigger_node: str | None = None) -> ExecutionRecord:
        started = now_iso()
        self._deadline = self.clock() + self.workflow.settings.timeout
        start = self._choose_trigger(trigger_node)
        kind = (self.graph.nodes[start].subtype or "manual").lower() if start else "manual"
        record = ExecutionRecord(
            execution_id=self.execution_id,
            workflow_id=self.workflow.id,
            status=ExecutionStatus.RUNNING,
            mode="test" if self.dry_run else "live",
            trigger=TriggerInfo(node_id=start, type=kind),
            input=trigger_data,
            started_at=started,
        )
        root = _Scope()
        self._trigger_data = trigger_data
        self._start = start
        try:
            order = [n for n in self.graph.order if n not in self._in_body]
            self._run_region(order, root)
            record.status = ExecutionStatus.SUCCEEDED
            record.output = self._terminal_output(order, root)
        except ExecutionFailed as failed:
            record.status = ExecutionStatus.FAILED
            record.error = failed.error
            self._cancel_unfinished()
        except ExecutionTimedOut:
            record.status = ExecutionStatus.TIMED_OUT
            record.error = NodeRunError(
                code="TIMEOUT",
                message=f"the workflow ran past its timeout of {self.workflow.settings.timeout} s",
                node_id="",
            )
        record.ended_at = now_iso()
        record.node_runs = self.node_runs
        return record

    def _cancel_unfinished(self) -> None:
        """Runs a stop cut short (a LOOP whose body stopped) end CANCELLED, as on Step
        Functions, where the failure is recorded and what still runs is cancelled."""
        ended = now_iso()
        for run in self.node_runs:
            if run.status is NodeRunStatus.RUNNING:
                run.status = NodeRunStatus.CANCELLED
                run.ended_at = ended

    def _choose_trigger(self, requested: str | None) -> str | None:
        triggers = self.graph.triggers
        if requested is not None:
            if requested not in triggers:
                raise ValueError(f"'{requested}' is not a trigger of this workflow")
            return requested
        manual = [t for t in triggers if self.graph.nodes[t].subtype == "MANUAL"]
        chosen = manual or triggers
        return chosen[0] if chosen else None

    def _run_region(self, order: list[str], scope: _Scope) -> None:
        for node_id in order:
            if self.clock() > self._deadline:
                raise ExecutionTimedOut()
            node = self.graph.nodes[node_id]
            if node.type is NodeType.TRIGGER:
                if node_id == self._start:
                    self._run_node(node, self._trigger_data, [], scope)
                continue
            taken = self._taken_edges(node_id, scope)
            if not taken:
                continue  # no branch that runs reaches it
            inputs = [InputValue(e.source, e.index, self._output_of(e, scope)) for e in taken]
            self._run_node(node, combine_inputs(inputs), inputs, scope)

    def _taken_edges(self, node_id: str, scope: _Scope) -> list[Edge]:
        taken: list[Edge] = []
        for edge in self.graph.in_edges(node_id):
            if self.graph.is_back_edge(edge):
                continue
            ran = scope.lookup(edge.source)
            if ran is not None and ran.port == edge.port:
                taken.append(edge)
        return taken

    def _output_of(self, edge: Edge, scope: _Scope) -> Any:
        ran = scope.lookup(edge.source)
        return ran.output if ran is not None else None

    # -- one node ------------------------------------------------------------------------------

    def _run_node(
        self, node: NodeData, node_input: Any, inputs: list[InputValue], scope: _Scope
    ) -> None:
        run = NodeRun(
            node_id=node.id,
            status=NodeRunStatus.RUNNING,
            input=node_input,
            started_at=now_iso(),
            iteration=list(scope.iteration),
        )
        self.node_runs.append(run)
        definition = definition_of_or_none(node)
        if node.id in self.pin_data:
            run.pinned = True
            self._succeed(run, scope, self._pinned(node, self.pin_data[node.id]))
            return
        if node.disabled:
            run.disabled = True
            port = DONE if is_loop(node) else (definition.outputs[0] if definition else MAIN_PORT)
            self._succeed(run, scope, NodeResult(node_input, port))
            return
        try:
            result = self._attempts(node, node_input, inputs, scope, run)
        except NodeError as error:
            self._fail(node, run, scope, error)
            return
        if is_loop(node) and result.port == EACH:
            # While the body runs the LOOP holds its items on `each` (as the node runner
            # records it); a stop inside the body leaves it so, CANCELLED.
            run.output, run.port = result.control["items"], EACH
            result = NodeResult(self._run_loop(node, result.control["items"], scope), DONE)
        self._succeed(run, scope, result)

    def _attempts(
        self, node: NodeData, node_input: Any, inputs: list[InputValue], scope: _Scope, run: NodeRun
    ) -> NodeResult:
        policy = node.retry_policy
        tries = policy.max_tries if policy else 1
        for attempt in range(1, tries + 1):
            run.attempts = attempt
            try:
                request = self._request(node, node_input, inputs, scope)
                request.attempt = attempt
                return run_once(request)
            except NodeError as error:
                if attempt == tries or error.code not in RETRYABLE_CODES:
                    raise
                assert policy is not None
                self.sleep(float(policy.wait_between_tries))
        raise AssertionError("unreachable: the loop returns or raises")

    def _request(
        self, node: NodeData, node_input: Any, inputs: list[InputValue], scope: _Scope
    ) -> RunRequest:
        attachments = {
            kind: [self.graph.nodes[i] for i in ids]
            for kind, ids in self.graph.attachments.get(node.id, {}).items()
        }
        return RunRequest(
            node=node,
            input=node_input,
            scope=self._expression_scope(node_input, scope),
            services=self.services,
            owner=self.owner,
            workflow_id=self.workflow.id,
            execution_id=self.execution_id,
            inputs=inputs,
            attachments=attachments,
            run_tool=lambda tool, args: self._run_tool(tool, args, scope),
            dry_run=self.dry_run,
        )

    def _run_tool(self, tool: NodeData, arguments: Any, scope: _Scope) -> Any:
        """An AI agent calls an attached TOOL node: run it with the arguments as its input."""
        return run_once(self._request(tool, arguments, [], scope)).output

    def _expression_scope(self, node_input: Any, scope: _Scope) -> dict[str, Any]:
        return {
            "input": node_input,
            "nodes": scope.outputs(),
            "trigger": self.trigger_output,
            "item": scope.item,
            "index": scope.index,
            "execution": {"id": self.execution_id, "mode": "test" if self.dry_run else "live"},
            "workflow": {"id": self.workflow.id, "name": self.workflow.name},
        }

    def _pinned(self, node: NodeData, value: Any) -> NodeResult:
        if node.type is NodeType.HUMAN_IN_THE_LOOP and isinstance(value, dict):
            from flowlane.nodes.human_in_the_loop import decision_output, port_for

            decision = str(value.get("decision", "approved"))
            if decision not in ("approved", "rejected", "timeout"):
                decision = "approved"
            has_timeout = any(e.port == "timeout" for e in self.graph.out_edges(node.id))
            output = decision_output(
                decision,
                value.get("comment"),
                value.get("decided_by", "pinned"),
                value.get("decided_at"),
            )
            return NodeResult(output, port_for(decision, has_timeout))
        definition = definition_of_or_none(node)
        port = definition.outputs[0] if definition else MAIN_PORT
        if is_loop(node):
            port = DONE
        return NodeResult(value, port)

    def _succeed(self, run: NodeRun, scope: _Scope, result: NodeResult) -> None:
        run.status = NodeRunStatus.SUCCEEDED
        run.output = result.output
        run.port = result.port
        run.ended_at = now_iso()
        scope.ran[run.node_id] = _Ran(result.output, result.port)
        if run.node_id == self._start:
            self.trigger_output = result.output

    def _fail(self, node: NodeData, run: NodeRun, scope: _Scope, error: NodeError) -> None:
        body = error.to_dict(node.id)
        run.status = NodeRunStatus.FAILED
        run.error = NodeRunError.model_validate(body)
        run.ended_at = now_iso()
        output = {"error": {k: body[k] for k in ("code", "message", "node_id")}}
        run.output = output
        if any(e.port == ERROR_PORT for e in self.graph.out_edges(node.id)):
            port: str | None = ERROR_PORT
        elif self._on_error(node) == "continue":
            definition = definition_of_or_none(node)
            port = definition.failure_port if definition else MAIN_PORT
        else:
            run.port = None
            raise ExecutionFailed(run.error)
        run.port = port
        scope.ran[node.id] = _Ran(output, port)

    def _on_error(self, node: NodeData) -> str:
        return effective_on_error(node, self.workflow)

    # -- loops ---------------------------------------------------------------------------------

    def _run_loop(self, loop: NodeData, items: list[Any], scope: _Scope) -> list[Any]:
        body = self.graph.loop_bodies[loop.id]
        order = [n for n in self.graph.order if self.graph.enclosing_loop.get(n) == loop.id]
        results = []
        for index, item in enumerate(items):
            inner = _Scope(
                parent=scope, iteration=(*scope.iteration, index), item=item, index=index
            )
            # Inside the body the LOOP "ran" on `each` with the item as its output.
            inner.ran[loop.id] = _Ran(item, EACH)
            self._run_region(order, inner)
            results.append(self._terminal_output([n for n in order if n in body], inner))
        return results

    def _terminal_output(self, region: list[str], scope: _Scope) -> Any:
        ran = {n: (r.output, r.port) for n, r in scope.ran.items()}
        return terminal_output(self.graph, region, ran)


def effective_on_error(node: NodeData, workflow: WorkflowData) -> str:
    """`stop` when the node or the workflow's error_policy says so: the stricter wins.

    (A node's on_error defaults to "continue" as in the seed and is always present once stored,
    so "the node's unless unset" could not be told apart after a save.)"""
    if node.on_error == "stop" or workflow.settings.error_policy == "stop":
        return "stop"
    return "continue"


def definition_of_or_none(node: NodeData) -> Any:
    try:
        return definition_of(node)
    except NodeError:
        return None


def terminal_output(
    graph: WorkflowGraph, region: list[str], ran: Mapping[str, tuple[Any, str | None]]
) -> Any:
    """The output of the nodes of `region` that ran (`ran`: id -> (output, port)) and passed
    nothing on to a node that ran: the value itself when one did, else `{node_id: output}`."""
    terminals: dict[str, Any] = {}
    for node_id in region:
        if node_id not in ran:
            continue
        output, port = ran[node_id]
        followed = any(
            e.port == port and e.target in ran and not graph.is_back_edge(e)
            for e in graph.out_edges(node_id)
        )
        if not followed:
            terminals[node_id] = output
    if len(terminals) == 1:
        return next(iter(terminals.values()))
    return terminals or None


def combine_inputs(inputs: list[InputValue]) -> Any:
    """One upstream output as itself; several as `{source_id: output}` (CONTRACT.md section 4)."""
    sources = {i.source for i in inputs}
    if len(sources) == 1:
        return inputs[0].value
    return {i.source: i.value for i in inputs}


def dry_run(
    workflow: WorkflowData,
    services: NodeServices,
    *,
    owner: str,
    trigger_data: Any = None,
    pin_data: Mapping[str, Any] | None = None,
    trigger_node: str | None = None,
    max_retry_wait: float = 1.0,
) -> ExecutionRecord:
    """A synchronous test run: no waiting at WAIT nodes, retry waits capped, approvals approved."""
    interpreter = Interpreter(
        workflow,
        services,
        owner=owner,
        pin_data=pin_data,
        dry_run=True,
        sleep=lambda seconds: time.sleep(min(seconds, max_retry_wait)),
    )
    return interpreter.run(trigger_data, trigger_node)
