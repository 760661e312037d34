"""The node runner: what a compiled state machine invokes for every node (DESIGN.md decision 1).

The state carries control data only. The runner reads the node (from the pinned workflow
revision) and its inputs (the upstream node runs) from the store, runs the node, writes the node
run, and returns a small envelope:

    {"node_id", "status": SUCCEEDED|FAILED|SKIPPED|WAITING|RUNNING, "port", ...control}

where control is a WAIT's `wait_seconds` and a LOOP's `iterations` (the Map state iterates over
them; items stay in the store) and `max_concurrency`.

Events: `{owner, execution_id, node_id, iteration: [..], attempt: $$.State.RetryCount, phase,
task_token?, finish?, error_port?}`. Phases:
- `run`: run the node (a LOOP hands out its iterations, a WAIT works out its end time, an
  APPROVAL records a pending approval and waits for its task token);
- `done`: close a LOOP after its Map (collect the body results per item) or a WAIT after its
  Wait state;
- `timeout`: an APPROVAL's wait ran out: the `timeout` port (or `rejected`);
- `fail`: a Catch at the top of the machine: record the execution's failure;
- `finish`: record the execution's success and output (also done after any phase whose event
  says `finish: true`, the machine's last Task, to save a state transition).
The same (execution, node, iteration, attempt) delivered twice runs once: the second delivery
answers from the stored run.

Errors for Step Functions (the error name is the exception's class name):
- `NodeRetry`: a retryable failure with tries left under the node's retry_policy (Retry on it).
- `NodeFailed`: a failure with `on_error: stop` and no error port (Catch it: the execution fails).
- `NodeErrorPort`: the node failed into its `error` port and the event asked for it to be
  raised (`error_port: raise`): the machine routes the error branch with a Catch.
- `NodeRunInProgress`: another delivery of this attempt is running (Retry on it, briefly).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
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
from flowlane.models.execution import ExecutionStatus, NodeRun, NodeRunError, NodeRunStatus
from flowlane.models.workflow import NodeData, NodeType, WorkflowData
from flowlane.nodes.base import ERROR_PORT, RETRYABLE_CODES, InputValue, NodeError
from flowlane.observability import logger
from flowlane.store.executions import ExecutionItem, StoredRun, iteration_key

# A claim older than Lambda's longest run (15 minutes) plus a margin belongs to a delivery that
# died; a new delivery of the same attempt may take it over.
STALE_CLAIM_MS = 930_000


class FlowControl(Exception):
    """An outcome for the state machine's Retry or Catch, not a fault of the runner: the
    embedded Lambda dispatcher logs it briefly instead of as an error."""

    flow_control = True


class NodeRetry(FlowControl):
    """A retryable failure with tries left: Step Functions retries the task."""


class NodeFailed(FlowControl):
    """The node failed and stops the execution (on_error: stop, no error port)."""


class NodeRunInProgress(FlowControl):
    """Another delivery of the same attempt is running; retry shortly."""


class NodeErrorPort(FlowControl):
    """The node failed into its `error` port; the machine catches this to take that branch."""


class NodeRunnerEvent(BaseModel):
    owner: str
    execution_id: str
    node_id: str | None = None
    iteration: list[int] = Field(default_factory=list)
    attempt: int = Field(default=0, ge=0, description="$$.State.RetryCount")
    phase: Literal["run", "done", "timeout", "fail", "finish"] = "run"
    task_token: str | None = None
    # The machine's last Task: record the execution's success after the node.
    finish: bool = False
    # "raise": a run that takes the `error` port raises NodeErrorPort (the machine catches it).
    error_port: Literal["raise", "return"] = "return"
    # phase fail: what the Catch caught, {"Error", "Cause"}.
    failure: dict[str, Any] | None = None


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


class NodeRunner:
    def __init__(self, services: Any) -> None:
        # Services (flowlane.runtime.services): executions, workflows, node_services.
        self.services = services
        self.executions = services.executions
        # One per runner: a Lambda keeps its runner (and so its cache) while it stays warm.
        self._workflows = _WorkflowCache()

    def handle(self, raw: dict[str, Any]) -> dict[str, Any]:
        event = NodeRunnerEvent.model_validate(raw)
        execution = self.executions.get(event.owner, event.execution_id)
        workflow, graph = self._workflows.get(
            self.services, event.owner, execution.workflow_id, execution.revision
        )
        if event.phase == "fail":
            record_failure(self.services, event.owner, execution, event.failure or {})
            return {"status": "FAILED"}
        if event.phase == "finish" or event.node_id is None:
            if event.phase != "finish":
                raise ValueError(f"phase {event.phase} needs a node_id")
            finish_execution(self.services, event.owner, event.execution_id, graph)
            return {"status": "SUCCEEDED"}
        if event.node_id not in graph.nodes:
            raise ValueError(f"node {event.node_id!r} is not in workflow {workflow.id}")
        job = _Job(self, event, execution, workflow, graph)
        if event.phase == "done":
            envelope = job.done_phase()
        elif event.phase == "timeout":
            envelope = job.timeout_phase()
        else:
            envelope = job.run_phase()
        if event.finish:
            finish_execution(self.services, event.owner, event.execution_id, graph)
        return envelope


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
        assert event.node_id is not None  # checked by NodeRunner.handle
        self.node: NodeData = graph.nodes[event.node_id]
        self.iteration = list(event.iteration)
        self._items: dict[str, list[Any]] = {}

    # -- phases ----------------------------------------------------------------------------

    def run_phase(self) -> dict[str, Any]:
        envelope = self._run()
        if self.event.task_token and envelope["status"] != "WAITING":
            # A callback task waits for its token: an outcome known at once (a failure that
            # continues) is sent back here, or the machine would wait for nobody.
            self.runner.services.clients.stepfunctions.send_task_success(
                taskToken=self.event.task_token, output=json.dumps(envelope)
            )
        return envelope

    def _run(self) -> dict[str, Any]:
        taken = self._incoming()
        if taken is None:
            return self._envelope("SKIPPED", None)
        node_input, inputs = taken
        definition = definition_of(self.node)
        needs_token = self.node.type is NodeType.HUMAN_IN_THE_LOOP and not self.node.disabled
        if needs_token and not self.event.task_token:
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
            run.disabled, run.attempts = True, 0  # passed through, never tried
            port = DONE if is_loop(self.node) else definition.outputs[0]
            return self._finish(run, NodeRunStatus.SUCCEEDED, node_input, port, attempt)
        request = self._request(node_input, inputs)
        if self.node.type is NodeType.HUMAN_IN_THE_LOOP:
            return self._wait_for_decision(run, attempt, request)
        try:
            result = run_once(request)
        except NodeError as error:
            return self._failed(run, error, attempt)
        if is_loop(self.node):
            items = result.control["items"]
            concurrency = int(result.control.get("concurrency", 1))
            run.output, run.port = items, EACH
            control = {"count": len(items), "max_concurrency": concurrency}
            self.repo.put_run(
                self.event.owner, self.execution.execution_id, run, attempt=attempt, control=control
            )
            return self._envelope("RUNNING", EACH, **control)
        if _is_wait(self.node):
            until = _wait_until(result.control)
            run.output = result.output
            waiting: dict[str, Any] = {"wait_until": until}
            self.repo.put_run(
                self.event.owner, self.execution.execution_id, run, attempt=attempt, control=waiting
            )
            return self._envelope("RUNNING", None, **waiting)
        return self._finish(
            run, NodeRunStatus.SUCCEEDED, result.output, result.port, attempt, result.control
        )

    def done_phase(self) -> dict[str, Any]:
        """Close a LOOP (its output on `done` is the body's result for each item, in order) or
        a WAIT (its time has come)."""
        stored = self.repo.get_run(
            self.event.owner, self.execution.execution_id, self.node.id, self.iteration
        )
        if stored is None:
            # Its run phase found no taken edge: it was skipped, and stays skipped.
            return self._envelope("SKIPPED", None)
        if stored.final:
            return self._answer_from(stored, stored.attempt)
        run = stored.run
        if _is_wait(self.node):
            port = definition_of(self.node).outputs[0]
            return self._finish(run, NodeRunStatus.SUCCEEDED, run.output, port, stored.attempt)
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
        return self._finish(run, NodeRunStatus.SUCCEEDED, results, DONE, stored.attempt)

    def timeout_phase(self) -> dict[str, Any]:
        """An APPROVAL nobody decided in time: the `timeout` port, else `rejected`."""
        from flowlane.nodes.human_in_the_loop import decision_output, port_for
        from flowlane.store.approvals import approval_id_for

        stored = self.repo.get_run(
            self.event.owner, self.execution.execution_id, self.node.id, self.iteration
        )
        approvals = self.runner.services.approvals
        approval_id = approval_id_for(self.execution.execution_id, self.node.id, self.iteration)
        approvals.time_out(self.event.owner, approval_id)
        has_timeout = any(e.port == "timeout" for e in self.graph.out_edges(self.node.id))
        output = decision_output("timeout", None, None)
        if stored is None:
            raise ValueError(f"approval {self.node.id} has no run to time out")
        run = stored.run
        envelope = self._finish(
            run, NodeRunStatus.SUCCEEDED, output, port_for("timeout", has_timeout), stored.attempt
        )
        services = self.runner.services
        resume_if_nothing_pending(services, self.event.owner, self.execution.execution_id)
        return envelope

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
        # Read once per delivery: the input (an `each` edge), `item` and `nodes.LOOP` all need
        # them, and a large list sits in S3.
        if loop_id not in self._items:
            stored = self.repo.get_run(
                self.event.owner, self.execution.execution_id, loop_id, self._iteration_of(loop_id)
            )
            if stored is None or not isinstance(stored.run.output, list):
                raise ValueError(f"loop {loop_id} has not produced its items")
            self._items[loop_id] = stored.run.output
        return self._items[loop_id]

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
        for depth, enclosing in enumerate(self.graph.loops_of(self.node.id)):
            # Inside its body a LOOP's output is the current item (as in the interpreter).
            if wanted is None or enclosing in wanted:
                outputs[enclosing] = self._loop_items(enclosing)[self.iteration[depth]]
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
            attempt=self.event.attempt + 1,
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
            envelope = self._finish(run, NodeRunStatus.FAILED, output, ERROR_PORT, attempt)
            if self.event.error_port == "raise" and not self._two_phase_run():
                raise NodeErrorPort(json.dumps(body))
            return envelope
        on_error = effective_on_error(self.node, self.workflow)
        if on_error == "continue":
            return self._finish(run, NodeRunStatus.FAILED, output, definition.failure_port, attempt)
        self._write(run, NodeRunStatus.FAILED, output, None, attempt)
        raise NodeFailed(json.dumps(body))

    def _two_phase_run(self) -> bool:
        """The run phase of a LOOP or WAIT: its done phase takes the port, not this one."""
        return self.event.phase == "run" and (is_loop(self.node) or _is_wait(self.node))

    def _wait_for_decision(self, run: NodeRun, attempt: int, request: RunRequest) -> dict[str, Any]:
        """Record a pending approval, mark the execution WAITING, notify, and wait."""
        from flowlane.engine.node_execution import resolve_parameters
        from flowlane.nodes.human_in_the_loop import ApprovalParameters
        from flowlane.store.approvals import ApprovalItem

        definition = definition_of(self.node)
        try:
            params = resolve_parameters(
                definition, self.node.parameters, request.scope, request.services
            )
        except NodeError as error:
            return self._failed(run, error, attempt)
        assert isinstance(params, ApprovalParameters)
        item = ApprovalItem.pending(
            execution_id=self.execution.execution_id,
            workflow_id=self.workflow.id,
            node_id=self.node.id,
            iteration=self.iteration,
            task_token=self.event.task_token or "",
            message=params.message,
            timeout_seconds=params.timeout_seconds,
        )
        approval = self.runner.services.approvals.put_pending(self.event.owner, item)
        control: dict[str, Any] = {
            "task_token": self.event.task_token,
            "approval_id": approval.approval_id,
        }
        notify_error = self._notify(params, approval.approval_id, request)
        if notify_error:
            control["notify_error"] = notify_error
        run.status = NodeRunStatus.WAITING
        self.repo.put_run(
            self.event.owner, self.execution.execution_id, run, attempt=attempt, control=control
        )
        self.repo.set_status(self.event.owner, self.execution.execution_id, ExecutionStatus.WAITING)
        return self._envelope("WAITING", None)

    def _notify(self, params: Any, approval_id: str, request: RunRequest) -> str | None:
        """Tell the approver (Slack or email) with the SLACK/EMAIL nodes' own code. A failed
        notification is recorded on the run; the approval still waits (it can be listed)."""
        notify = params.notify
        if notify.channel == "none":
            return None
        text = (
            f"{params.message}\n\nWorkflow {self.workflow.name} is waiting for a decision. "
            f"Approve or reject: POST /api/v1/approvals/{approval_id} "
            '{"decision": "approve"|"reject"}'
        )
        if notify.channel == "slack":
            parameters: dict[str, Any] = {
                "operation": "post_message",
                "channel": notify.target,
                "text": text,
            }
            subtype = "SLACK"
        else:
            parameters = {
                "to": [notify.target],
                "subject": f"Approval needed: {self.workflow.name}",
                "body": text,
            }
            subtype = "EMAIL"
        sender = NodeData.model_validate(
            {
                "id": f"{self.node.id}-notify",
                "type": "EXTERNAL_ACTION",
                "subtype": subtype,
                "parameters": parameters,
                "credentials": self.node.credentials,
            }
        )
        try:
            run_once(
                RunRequest(
                    node=sender,
                    input=request.input,
                    scope={},
                    services=request.services,
                    owner=request.owner,
                    workflow_id=request.workflow_id,
                    execution_id=request.execution_id,
                )
            )
        except NodeError as error:
            logger.warning("approval notification failed: %s", error.message)
            return f"{error.code}: {error.message}"
        return None

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
                return self._envelope("RUNNING", EACH, **stored.control)
            if _is_wait(self.node) and "wait_until" in stored.control:
                return self._envelope("RUNNING", None, **stored.control)
            raise NodeRunInProgress(f"node {self.node.id} attempt {attempt} is already running")
        if run.status is NodeRunStatus.WAITING:
            return self._envelope("WAITING", None)
        error = run.error.model_dump_json() if run.error else "{}"
        if run.status is NodeRunStatus.FAILED and stored.control.get("retry"):
            raise NodeRetry(error)
        if run.status is NodeRunStatus.FAILED and run.port is None:
            # It stopped the execution the first time; it stops it again.
            raise NodeFailed(error)
        if (
            run.port == ERROR_PORT
            and self.event.error_port == "raise"
            and not self._two_phase_run()
        ):
            raise NodeErrorPort(error)
        return self._envelope(run.status.value, run.port, **stored.control)

    def _envelope(self, status: str, port: str | None, **control: Any) -> dict[str, Any]:
        envelope: dict[str, Any] = {"node_id": self.node.id, "status": status, "port": port}
        if is_loop(self.node) and not self.node.disabled:
            # The Map state reads these whatever happened: no items when the LOOP failed.
            count = int(control.pop("count", 0)) if port == EACH else 0
            envelope["iterations"] = [[*self.iteration, i] for i in range(count)]
            envelope["max_concurrency"] = int(control.pop("max_concurrency", 1))
        if _is_wait(self.node) and not self.node.disabled:
            # Whole seconds from now (SecondsPath): Step Functions waits at second precision,
            # and a duration does not depend on the clocks agreeing about time zones.
            until = control.pop("wait_until", None)
            envelope["wait_seconds"] = _seconds_until(until) if until else 0
        hidden = {"task_token", "retry", "approval_id", "notify_error", "count"}
        envelope.update({k: v for k, v in control.items() if k not in hidden})
        return envelope


def _is_wait(node: NodeData) -> bool:
    return node.type is NodeType.FLOW and node.subtype == "WAIT"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds_until(until: str) -> int:
    moment = datetime.fromisoformat(until.replace("Z", "+00:00"))
    return max(0, math.ceil((moment - datetime.now(UTC)).total_seconds()))


def _wait_until(control: dict[str, Any]) -> str:
    if control.get("wait_until"):
        moment = datetime.fromisoformat(str(control["wait_until"]).replace("Z", "+00:00"))
        return _iso(moment)
    seconds = float(control.get("wait_seconds", 0))
    return _iso(datetime.now(UTC) + timedelta(seconds=seconds))


# -- the execution's end -----------------------------------------------------------------------


def finish_execution(
    services: Any, owner: str, execution_id: str, graph: WorkflowGraph | None = None
) -> bool:
    """Record the execution's success: its output is that of the terminal nodes that ran at
    the top level (CONTRACT.md section 4). False when the record was already final."""
    repo = services.executions
    execution = repo.get(owner, execution_id)
    if graph is None:
        workflow = services.workflows.get_revision(owner, execution.workflow_id, execution.revision)
        graph = WorkflowGraph(workflow.nodes, workflow.connections)
    top = [n for n in graph.order if n not in graph.enclosing_loop]
    ran = {
        s.run.node_id: (s.run.output, s.run.port)
        for s in repo.list_runs(owner, execution_id)
        if not s.run.iteration and s.final
    }
    output = terminal_output(graph, top, ran)
    return bool(
        repo.finish(
            owner, execution_id, status=ExecutionStatus.SUCCEEDED, output=output, ended_at=now_iso()
        )
    )


def record_failure(
    services: Any, owner: str, execution: ExecutionItem, failure: dict[str, Any]
) -> bool:
    """A Catch at the top of the machine: the execution FAILED with the node's error when a
    node stopped it, else with what Step Functions reported."""
    error = _failure_error(failure)
    ended = now_iso()
    # Branches running beside the failing node were stopped with the execution. Closed before
    # the status, so whoever sees the execution FAILED sees no run still RUNNING.
    services.executions.mark_runs_cancelled(owner, execution.execution_id, ended)
    services.approvals.cancel_for_execution(owner, execution.execution_id)
    return bool(
        services.executions.finish(
            owner,
            execution.execution_id,
            status=ExecutionStatus.FAILED,
            error=error,
            ended_at=ended,
        )
    )


def _failure_error(failure: dict[str, Any]) -> NodeRunError:
    name = str(failure.get("Error") or "States.TaskFailed")
    cause = str(failure.get("Cause") or "")
    message: Any = cause
    try:
        payload = json.loads(cause)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "errorMessage" in payload:
        message = payload["errorMessage"]
    if name == "NodeFailed":
        try:
            body = json.loads(str(message))
            return NodeRunError.model_validate(body)
        except ValueError:
            pass
    if name == "States.Timeout":
        return NodeRunError(
            code="TIMEOUT", message=f"a task timed out: {message}"[:2000], node_id=""
        )
    return NodeRunError(code="NODE_ERROR", message=f"{name}: {message}"[:2000], node_id="")


def resume_if_nothing_pending(services: Any, owner: str, execution_id: str) -> None:
    """WAITING -> RUNNING once no approval of the execution is pending any more."""
    if not services.approvals.pending_for_execution(owner, execution_id):
        services.executions.set_status(owner, execution_id, ExecutionStatus.RUNNING)
