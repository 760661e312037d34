"""The node runner: what a compiled state machine invokes for every node (DESIGN.md decision 1).

The state carries control data only. The runner reads the node (from the pinned workflow
revision) and its inputs (the upstream node runs) from the store, runs the node, writes the node
run, and returns a small envelope:

    {"node_id", "status": SUCCEEDED|FAILED|SKIPPED|WAITING, "port", ...control}

where control is a WAIT's `wait_seconds`/`wait_until` and a LOOP's `count` and `indexes` (the
Map state iterates over the indexes; items stay in the store).

Events: `{owner, execution_id, node_id, iteration: [..], attempt: $$.State.RetryCount,
phase: run|done, task_token?}`. `phase: done` closes a LOOP after its Map: it collects the body
results per item. The same (execution, node, iteration, attempt) delivered twice runs once: the
second delivery answers from the stored run.

Errors for Step Functions (the error name is the exception's class name):
- `NodeRetry`: a retryable failure with tries left under the node's retry_policy (Retry on it).
- `NodeFailed`: a failure with `on_error: stop` and no error port (Catch it: the execution fails).
- `NodeRunInProgress`: another delivery of this attempt is running (Retry on it, briefly).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Literal

from pydantic import BaseModel, Field

from flowlane.engine.expressions import referenced_nodes
from flowlane.engine.graph import DONE, EACH, Edge, WorkflowGraph, is_loop
from flowlane.engine.interpreter import (
    combine_inputs,
    effective_on_error,
    now_iso,
    terminal_output,
)
from flowlane.engine.node_execution import RunRequest, definition_of, run_once
from flowlane.models.execution import NodeRun, NodeRunError, NodeRunStatus
from flowlane.models.workflow import NodeData, NodeType, WorkflowData
from flowlane.nodes.base import ERROR_PORT, RETRYABLE_CODES, InputValue, NodeError
from flowlane.store.executions import ExecutionItem, StoredRun, iteration_key

# A claim older than Lambda's longest run (15 minutes) plus a margin belongs to a delivery that
# died; a new delivery of the same attempt may take it over.
STALE_CLAIM_MS = 930_000


class NodeRetry(Exception):
    """A retryable failure with tries left: Step Functions retries the task."""


class NodeFailed(Exception):
    """The node failed and stops the execution (on_error: stop, no error port)."""


class NodeRunInProgress(Exception):
    """Another delivery of the same attempt is running; retry shortly."""


class NodeRunnerEvent(BaseModel):
    owner: str
    execution_id: str
    node_id: str
    iteration: list[int] = Field(default_factory=list)
    attempt: int = Field(default=0, ge=0, description="$$.State.RetryCount")
    phase: Literal["run", "done"] = "run"
    task_token: str | None = None


class _WorkflowCache:
    """Pinned revisions are immutable: a warm runner keeps the last few it read."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int], tuple[WorkflowData, WorkflowGraph]] = (
            OrderedDict()
        )

    def get(
        self, services: Any, owner: str, workflow_id: str, revision: int
    ) -> tuple[WorkflowData, WorkflowGraph]:
        key = (owner, workflow_id, revision)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        workflow = services.workflows.get_revision(owner, workflow_id, revision)
        entry = (workflow, WorkflowGraph(workflow.nodes, workflow.connections))
        self._items[key] = entry
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return entry


_cache = _WorkflowCache()


class NodeRunner:
    def __init__(self, services: Any) -> None:
        # Services (flowlane.runtime.services): executions, workflows, node_services.
        self.services = services
        self.executions = services.executions

    def handle(self, raw: dict[str, Any]) -> dict[str, Any]:
        event = NodeRunnerEvent.model_validate(raw)
        execution = self.executions.get(event.owner, event.execution_id)
        workflow, graph = _cache.get(
            self.services, event.owner, execution.workflow_id, execution.revision
        )
        if event.node_id not in graph.nodes:
            raise ValueError(f"node {event.node_id!r} is not in workflow {workflow.id}")
        job = _Job(self, event, execution, workflow, graph)
        return job.done_phase() if event.phase == "done" else job.run_phase()


class _Job:
    """One delivery: one node, one iteration, one attempt."""

    def __init__(
        self,
        runner: NodeRunner,
        event: NodeRunnerEvent,
        execution: ExecutionItem,
        workflow: WorkflowData,
        graph: WorkflowGraph,
    ) -> None:
        self.runner = runner
        self.repo = runner.executions
        self.event = event
        self.execution = execution
        self.workflow = workflow
        self.graph = graph
        self.node: NodeData = graph.nodes[event.node_id]
        self.iteration = list(event.iteration)

    # -- phases ----------------------------------------------------------------------------

    def run_phase(self) -> dict[str, Any]:
        taken = self._incoming()
        if taken is None:
            return self._envelope("SKIPPED", None)
        node_input, inputs = taken
        definition = definition_of(self.node)
        if self.node.type is NodeType.HUMAN_IN_THE_LOOP and not self.event.task_token:
            # Checked before the claim, so a corrected delivery is not held up by this one.
            raise ValueError("an APPROVAL node runs as a callback task: the event needs task_token")
        started = now_iso()
        attempt = self.event.attempt + 1
        existing = self.repo.claim(
            self.event.owner,
            self.execution.execution_id,
            self.node.id,
            self.iteration,
            attempt,
            stale_after_ms=STALE_CLAIM_MS,
            started_at=started,
        )
        if existing is not None:
            return self._answer_from(existing, attempt)
        run = NodeRun(
            node_id=self.node.id,
            status=NodeRunStatus.RUNNING,
            input=node_input,
            attempts=attempt,
            started_at=started,
            iteration=self.iteration,
        )
        if self.node.disabled:
            run.disabled = True
            port = DONE if is_loop(self.node) else definition.outputs[0]
            return self._finish(run, NodeRunStatus.SUCCEEDED, node_input, port, attempt)
        if self.node.type is NodeType.HUMAN_IN_THE_LOOP:
            return self._wait_for_decision(run, attempt)
        try:
            result = run_once(self._request(node_input, inputs))
        except NodeError as error:
            return self._failed(run, error, attempt)
        if is_loop(self.node):
            items = result.control["items"]
            run.output, run.port = items, EACH
            self.repo.put_run(
                self.event.owner,
                self.execution.execution_id,
                run,
                attempt=attempt,
                control={"count": len(items)},
            )
            return self._envelope(
                "RUNNING", EACH, count=len(items), indexes=list(range(len(items)))
            )
        return self._finish(
            run, NodeRunStatus.SUCCEEDED, result.output, result.port, attempt, result.control
        )

    def done_phase(self) -> dict[str, Any]:
        """Close a LOOP: its output on `done` is the body's result for each item, in order."""
        stored = self.repo.get_run(
            self.event.owner, self.execution.execution_id, self.node.id, self.iteration
        )
        if stored is None:
            raise ValueError(f"loop {self.node.id} has no run to close")
        if stored.final:
            return self._envelope(stored.run.status.value, stored.run.port)
        count = int(stored.control.get("count", 0))
        body = self.graph.loop_bodies[self.node.id]
        depth = len(self.iteration) + 1
        per_item: dict[int, dict[str, StoredRun]] = {i: {} for i in range(count)}
        for s in self.repo.list_runs(self.event.owner, self.execution.execution_id):
            it = s.run.iteration
            if (
                s.run.node_id in body
                and len(it) == depth
                and it[:-1] == self.iteration
                and self.graph.enclosing_loop.get(s.run.node_id) == self.node.id
            ):
                per_item.setdefault(it[-1], {})[s.run.node_id] = s
        results = [self._terminal(per_item[i]) for i in range(count)]
        run = stored.run
        return self._finish(run, NodeRunStatus.SUCCEEDED, results, DONE, stored.attempt)

    # -- inputs ----------------------------------------------------------------------------

    def _iteration_of(self, node_id: str) -> list[int]:
        return self.iteration[: len(self.graph.loops_of(node_id))]

    def _incoming(self) -> tuple[Any, list[InputValue]] | None:
        """The node's input, or None when no edge that reaches it was taken."""
        if self.node.type is NodeType.TRIGGER:
            if self.node.id != self.execution.trigger.node_id:
                return None
            return self.execution.input, []
        edges = [e for e in self.graph.in_edges(self.node.id) if not self.graph.is_back_edge(e)]
        wanted = [(e.source, self._iteration_of(e.source)) for e in edges if not self._is_each(e)]
        runs = self.repo.get_runs(self.event.owner, self.execution.execution_id, wanted)
        inputs: list[InputValue] = []
        for edge in edges:
            if self._is_each(edge):
                inputs.append(InputValue(edge.source, edge.index, self._item(edge.source)))
                continue
            stored = runs.get((edge.source, iteration_key(self._iteration_of(edge.source))))
            if stored and stored.final and stored.run.port == edge.port:
                inputs.append(InputValue(edge.source, edge.index, stored.run.output))
        if not inputs:
            return None
        return combine_inputs(inputs), inputs

    def _is_each(self, edge: Edge) -> bool:
        return edge.port == EACH and self.graph.enclosing_loop.get(self.node.id) == edge.source

    def _loop_items(self, loop_id: str) -> list[Any]:
        stored = self.repo.get_run(
            self.event.owner, self.execution.execution_id, loop_id, self._iteration_of(loop_id)
        )
        if stored is None or not isinstance(stored.run.output, list):
            raise ValueError(f"loop {loop_id} has not produced its items")
        return stored.run.output

    def _item(self, loop_id: str) -> Any:
        index = self.iteration[len(self._iteration_of(loop_id))]
        return self._loop_items(loop_id)[index]

    def _scope(self, node_input: Any) -> dict[str, Any]:
        wanted = referenced_nodes(self.node.parameters)
        outputs: dict[str, Any] = {}
        trigger_id = self.execution.trigger.node_id
        visible = [n for n in self.graph.nodes if wanted is None or n in wanted or n == trigger_id]
        runs = self.repo.get_runs(
            self.event.owner,
            self.execution.execution_id,
            [(n, self._iteration_of(n)) for n in visible],
        )
        for node_id in visible:
            stored = runs.get((node_id, iteration_key(self._iteration_of(node_id))))
            if stored and stored.final:
                outputs[node_id] = stored.run.output
        loop_id = self.graph.enclosing_loop.get(self.node.id)
        item = index = None
        if loop_id is not None:
            index = self.iteration[-1]
            item = self._loop_items(loop_id)[index]
        return {
            "input": node_input,
            "nodes": outputs,
            "trigger": outputs.get(trigger_id) if trigger_id else None,
            "item": item,
            "index": index,
            "execution": {"id": self.execution.execution_id, "mode": self.execution.mode},
            "workflow": {"id": self.workflow.id, "name": self.workflow.name},
        }

    def _request(self, node_input: Any, inputs: list[InputValue]) -> RunRequest:
        attachments = {
            kind: [self.graph.nodes[i] for i in ids]
            for kind, ids in self.graph.attachments.get(self.node.id, {}).items()
        }
        scope = self._scope(node_input)
        services = self.runner.services.node_services

        def run_tool(tool: NodeData, arguments: Any) -> Any:
            request = RunRequest(
                node=tool,
                input=arguments,
                scope={**scope, "input": arguments},
                services=services,
                owner=self.event.owner,
                workflow_id=self.workflow.id,
                execution_id=self.execution.execution_id,
            )
            return run_once(request).output

        return RunRequest(
            node=self.node,
            input=node_input,
            scope=scope,
            services=services,
            owner=self.event.owner,
            workflow_id=self.workflow.id,
            execution_id=self.execution.execution_id,
            inputs=inputs,
            attachments=attachments,
            run_tool=run_tool,
        )

    def _terminal(self, ran: dict[str, StoredRun]) -> Any:
        outcomes = {n: (s.run.output, s.run.port) for n, s in ran.items()}
        return terminal_output(self.graph, self.graph.order, outcomes)

    # -- outcomes --------------------------------------------------------------------------

    def _failed(self, run: NodeRun, error: NodeError, attempt: int) -> dict[str, Any]:
        body = error.to_dict(self.node.id)
        run.error = NodeRunError.model_validate(body)
        output = {"error": {k: body[k] for k in ("code", "message", "node_id")}}
        policy = self.node.retry_policy
        if policy and attempt < policy.max_tries and error.code in RETRYABLE_CODES:
            self._write(run, NodeRunStatus.FAILED, output, None, attempt, {"retry": True})
            raise NodeRetry(json.dumps(body))
        definition = definition_of(self.node)
        if any(e.port == ERROR_PORT for e in self.graph.out_edges(self.node.id)):
            return self._finish(run, NodeRunStatus.FAILED, output, ERROR_PORT, attempt)
        on_error = effective_on_error(self.node, self.workflow)
        if on_error == "continue":
            return self._finish(run, NodeRunStatus.FAILED, output, definition.failure_port, attempt)
        self._write(run, NodeRunStatus.FAILED, output, None, attempt)
        raise NodeFailed(json.dumps(body))

    def _wait_for_decision(self, run: NodeRun, attempt: int) -> dict[str, Any]:
        run.status = NodeRunStatus.WAITING
        self.repo.put_run(
            self.event.owner,
            self.execution.execution_id,
            run,
            attempt=attempt,
            control={"task_token": self.event.task_token},
        )
        return self._envelope("WAITING", None)

    def _write(
        self,
        run: NodeRun,
        status: NodeRunStatus,
        output: Any,
        port: str | None,
        attempt: int,
        control: dict[str, Any] | None = None,
    ) -> None:
        run.status, run.output, run.port, run.ended_at = status, output, port, now_iso()
        self.repo.put_run(
            self.event.owner, self.execution.execution_id, run, attempt=attempt, control=control
        )

    def _finish(
        self,
        run: NodeRun,
        status: NodeRunStatus,
        output: Any,
        port: str | None,
        attempt: int,
        control: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._write(run, status, output, port, attempt, control)
        return self._envelope(status.value, port, **(control or {}))

    def _answer_from(self, stored: StoredRun, attempt: int) -> dict[str, Any]:
        """A second delivery of an attempt: answer as the first one did, without running."""
        run = stored.run
        if stored.attempt == attempt and run.status is NodeRunStatus.RUNNING:
            if is_loop(self.node) and run.port == EACH:
                count = int(stored.control.get("count", 0))
                return self._envelope("RUNNING", EACH, count=count, indexes=list(range(count)))
            raise NodeRunInProgress(f"node {self.node.id} attempt {attempt} is already running")
        if run.status is NodeRunStatus.WAITING:
            return self._envelope("WAITING", None)
        if run.status is NodeRunStatus.FAILED and stored.control.get("retry"):
            raise NodeRetry(run.error.model_dump_json() if run.error else "{}")
        if run.status is NodeRunStatus.FAILED and run.port is None:
            # It stopped the execution the first time; it stops it again.
            raise NodeFailed(run.error.model_dump_json() if run.error else "{}")
        return self._envelope(run.status.value, run.port, **stored.control)

    def _envelope(self, status: str, port: str | None, **control: Any) -> dict[str, Any]:
        envelope: dict[str, Any] = {"node_id": self.node.id, "status": status, "port": port}
        envelope.update({k: v for k, v in control.items() if k != "task_token"})
        return envelope
