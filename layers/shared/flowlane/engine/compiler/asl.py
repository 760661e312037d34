"""Emit Amazon States Language (JSONPath mode, DESIGN.md decision 3) from a plan.

The state carries control data only (DESIGN.md decision 1): `{owner, execution_id}`, plus
`iteration` inside a LOOP's body and `last`, the small part of the node runner's envelope the next
state needs (the port a Choice routes on, a LOOP's iterations, a WAIT's end). A node becomes:

- a Task invoking the node runner (`Resource`: the function's ARN, so the payload is the event
  and the result is the envelope), with an explicit `TimeoutSeconds`, a Retry on `NodeRetry`
  from its `retry_policy` (exponential, capped by `MaxDelaySeconds`, full jitter), and a Retry on
  Lambda's transient errors;
- for IF, SWITCH and any node with several connected ports: that Task, then a Choice on
  `$.last.port`; a connected `error` port is a Catch on `NodeErrorPort` when the route allows;
- LOOP: a Task (the items) -> a Map over the iterations (inline; the body is a sub-machine,
  `MaxConcurrencyPath` from the node) -> a Task (`phase: done`, collects the results);
- WAIT: a Task (works out how long) -> a Wait (`SecondsPath`) -> a Task (`phase: done`);
- APPROVAL: a `lambda:invoke.waitForTaskToken` Task whose `TimeoutSeconds` is the approval's;
  a timeout is caught into a Task (`phase: timeout`) that takes the `timeout` port.

At the top level every state that can fail has a Catch into `#record-failure` (the runner
records the execution's failure) and then a Fail state. The last Task of the execution carries
`finish: true`, so recording the execution's success costs no extra state transition; where the
last state is not a node's Task, a `#finish` Task does it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from flowlane.config import EngineSettings
from flowlane.engine.compiler.plan import Block, Parallel, Planner, Route, Run, possible_ports
from flowlane.engine.graph import WorkflowGraph, is_loop
from flowlane.models.workflow import NodeData, NodeType, WorkflowData
from flowlane.nodes.base import ERROR_PORT

LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "NodeRunInProgress",
]
CALLBACK_RESOURCE = "arn:aws:states:::lambda:invoke.waitForTaskToken"
CHILD_RESOURCE = "arn:aws:states:::states:startExecution.sync:2"
FINISH = "#finish"
RECORD_FAILURE = "#record-failure"
FAILED = "#failed"
# A Lambda runs 15 minutes at most; the node runner's own limits end a node well before.
LAMBDA_MAX_SECONDS = 900
TASK_MARGIN_SECONDS = 30
# Retry waits never grow past this multiple of the node's wait_between_tries.
MAX_DELAY_FACTOR = 10
DEFAULT_APPROVAL_TIMEOUT = 86_400


@dataclass(frozen=True)
class Target:
    """Where the Step Functions side finds things: the node runner and child machines."""

    node_runner_arn: str
    state_machine_arn_prefix: str


@dataclass
class _Scope:
    """One `States` map: the top level, a Parallel branch or a Map's item processor."""

    states: dict[str, dict[str, Any]]
    depth: int  # LOOPs around it
    top: bool  # the execution's own level: END means the execution ends


class Emitter:
    def __init__(
        self, workflow: WorkflowData, graph: WorkflowGraph, target: Target, engine: EngineSettings
    ) -> None:
        self.workflow = workflow
        self.graph = graph
        self.target = target
        self.engine = engine
        self.planner = Planner(graph)
        self._finish_enabled = True  # set per machine: False for the parts of a split one
        self._names: set[str] = set()
        self._name_of: dict[tuple[str, str], str] = {}
        self._serial = 0

    # -- machines ----------------------------------------------------------------------------

    def machine(self, block: Block, *, finish: bool = True, comment: str = "") -> dict[str, Any]:
        """A whole state machine running `block` at the top level."""
        scope = _Scope({}, depth=0, top=True)
        self._finish_enabled = finish
        start = self.block(block, scope, None)
        if start is None:
            start = self._finish_state(scope)
        return self._definition(start, scope, comment)

    def parts_machine(self, child_arns: list[str], comment: str = "") -> dict[str, Any]:
        """The machine of a workflow too large for one: it runs its parts (child machines) in
        turn with `startExecution.sync:2`, then records the end."""
        scope = _Scope({}, depth=0, top=True)
        self._finish_enabled = True
        nxt: str | None = None
        for part in range(len(child_arns), 0, -1):
            nxt = self._child_task(child_arns[part - 1], part, scope, nxt)
        assert nxt is not None, "a split workflow has at least one part"
        return self._definition(nxt, scope, comment)

    def _definition(self, start: str, scope: _Scope, comment: str) -> dict[str, Any]:
        if RECORD_FAILURE in scope.states:  # a Catch points there: fill in the failure states
            self._failure_states(scope)
        definition: dict[str, Any] = {}
        if comment:
            definition["Comment"] = comment
        definition["StartAt"] = start
        definition["TimeoutSeconds"] = int(self.workflow.settings.timeout)
        definition["States"] = _ordered(start, scope.states)
        return definition

    def _child_task(self, arn: str, part: int, scope: _Scope, nxt: str | None) -> str:
        """A Task running a child machine (one part of a workflow too large for one)."""
        name = self._unique(f"#part-{part}")
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": CHILD_RESOURCE,
            "Parameters": {
                "StateMachineArn": arn,
                "Input": {
                    "owner.$": "$.owner",
                    "execution_id.$": "$.execution_id",
                    "part": part,
                    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                },
                "Name.$": f"States.Format('{{}}-part{part}', $.execution_id)",
            },
            "ResultPath": None,
            "TimeoutSeconds": int(self.workflow.settings.timeout),
        }
        self._top_catch(state, scope)
        self._link_or_finish(state, nxt, scope)
        scope.states[name] = state
        return name

    # -- blocks and steps --------------------------------------------------------------------

    def block(self, block: Block, scope: _Scope, nxt: str | None) -> str | None:
        """Emit the block's steps leading to `nxt` (None: the end of the scope); the first
        state's name, or `nxt` when the block is empty."""
        current = nxt
        for step in reversed(block.steps):
            if isinstance(step, Run):
                current = self._run(step, scope, current)
            elif isinstance(step, Route):
                current = self._choice(step.node_id, step.cases, scope, current)
            else:
                current = self._parallel(step, scope, current)
        return current

    def _parallel(self, step: Parallel, scope: _Scope, nxt: str | None) -> str:
        branches = []
        for branch in step.branches:
            inner = _Scope({}, depth=scope.depth, top=False)
            start = self.block(branch, inner, None)
            assert start is not None  # the planner makes no empty branch
            branches.append({"StartAt": start, "States": _ordered(start, inner.states)})
        name = self._unique(f"#parallel-{self._next_serial()}")
        state: dict[str, Any] = {"Type": "Parallel", "Branches": branches, "ResultPath": None}
        self._top_catch(state, scope)
        self._link_or_finish(state, nxt, scope)
        scope.states[name] = state
        return name

    def _run(self, step: Run, scope: _Scope, nxt: str | None) -> str:
        node = self.graph.nodes[step.node_id]
        cases = dict(step.cases)
        error_start: str | None = None
        if step.catch_error:
            error_block = cases.pop(ERROR_PORT)
            error_start = self.block(error_block, scope, nxt)
        after, needs_port = self._after(node, cases, scope, nxt)
        kind = _kind(node)
        if kind == "approval":
            return self._approval(node, scope, after, needs_port, error_start)
        last = self._task(
            node,
            scope,
            after,
            phase="done" if kind in ("loop", "wait") else None,
            needs_port=needs_port,
            error_start=error_start,
            finish=step.finish or (after is None and scope.top and self._finish_enabled),
        )
        if kind == "loop":
            body = self.planner.loop_body(node.id)
            following = last
            if body.steps:
                following = self._map(node, body, scope, last)
            return self._task(node, scope, following, phase="run", select="loop")
        if kind == "wait":
            wait = self._name(node.id, "wait")
            scope.states[wait] = {
                "Type": "Wait",
                "SecondsPath": "$.last.wait_seconds",
                "Next": last,
            }
            return self._task(node, scope, wait, phase="run", select="wait")
        return last

    def _after(
        self, node: NodeData, cases: dict[str, Block], scope: _Scope, nxt: str | None
    ) -> tuple[str | None, bool]:
        """Where the flow goes after the node's Task, and whether it routes on the port."""
        if not cases:
            return nxt, False
        ports = possible_ports(self.graph, node)
        plain = None if ports is None else ports - {ERROR_PORT}
        if len(cases) == 1 and plain == set(cases):
            # The node takes this port whenever it does not fail into `error`: no Choice.
            return self.block(next(iter(cases.values())), scope, nxt), False
        return self._choice(node.id, cases, scope, nxt), True

    def _choice(self, node_id: str, cases: dict[str, Block], scope: _Scope, nxt: str | None) -> str:
        choices = []
        for port, block in cases.items():
            start = self.block(block, scope, nxt)
            assert start is not None
            choices.append({"Variable": "$.last.port", "StringEquals": port, "Next": start})
        name = self._name(node_id, "route")
        scope.states[name] = {
            "Type": "Choice",
            "Choices": choices,
            "Default": nxt if nxt is not None else self._end_state(scope),
        }
        return name

    # -- tasks -------------------------------------------------------------------------------

    def _payload(self, node_id: str | None, scope: _Scope, **extra: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"owner.$": "$.owner", "execution_id.$": "$.execution_id"}
        if node_id is not None:
            payload["node_id"] = node_id
            payload["attempt.$"] = "$$.State.RetryCount"
        if scope.depth:
            payload["iteration.$"] = "$.iteration"
        payload.update({k: v for k, v in extra.items() if v is not None and v is not False})
        return payload

    def _task(
        self,
        node: NodeData,
        scope: _Scope,
        nxt: str | None,
        *,
        phase: str | None,
        needs_port: bool = False,
        select: str | None = None,
        error_start: str | None = None,
        finish: bool = False,
    ) -> str:
        suffix = {"run": "", "done": "done", "timeout": "timeout"}.get(phase or "", "")
        name = self._name(node.id, suffix)
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": self.target.node_runner_arn,
            "Parameters": self._payload(
                node.id,
                scope,
                phase=phase if phase in ("done", "timeout") else None,
                finish=finish,
                error_port="raise" if error_start is not None else None,
            ),
            "TimeoutSeconds": self._task_timeout(node),
        }
        self._result(state, needs_port, select)
        retry = self._retry(node) if phase in (None, "run") else []
        state["Retry"] = [*retry, _transient_retry()]
        catches = []
        if error_start is not None:
            catches.append(
                {"ErrorEquals": ["NodeErrorPort"], "ResultPath": None, "Next": error_start}
            )
        if catches:
            state["Catch"] = catches
        self._top_catch(state, scope)
        if finish:
            state["End"] = True
        else:
            self._link_or_finish(state, nxt, scope)
        scope.states[name] = state
        return name

    def _approval(
        self,
        node: NodeData,
        scope: _Scope,
        after: str | None,
        needs_port: bool,
        error_start: str | None,
    ) -> str:
        if after is None and scope.top and self._finish_enabled:
            after = self._finish_state(scope)
        timeout_task = self._task(node, scope, after, phase="timeout", needs_port=needs_port)
        name = self._name(node.id, "")
        payload = self._payload(node.id, scope)
        payload["task_token.$"] = "$$.Task.Token"
        if error_start is not None:
            payload["error_port"] = "raise"
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": CALLBACK_RESOURCE,
            "Parameters": {"FunctionName": self.target.node_runner_arn, "Payload": payload},
            "TimeoutSeconds": _approval_timeout(node),
        }
        if needs_port:
            # The result is what `POST /approvals/{id}` sent with SendTaskSuccess.
            state["ResultSelector"] = {"port.$": "$.port"}
            state["ResultPath"] = "$.last"
        else:
            state["ResultPath"] = None
        state["Retry"] = [_transient_retry()]
        catches: list[dict[str, Any]] = [
            {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": timeout_task}
        ]
        if error_start is not None:
            catches.append(
                {"ErrorEquals": ["NodeErrorPort"], "ResultPath": None, "Next": error_start}
            )
        state["Catch"] = catches
        self._top_catch(state, scope)
        self._link_or_finish(state, after, scope)
        scope.states[name] = state
        return name

    def _map(self, node: NodeData, body: Block, scope: _Scope, nxt: str) -> str:
        inner = _Scope({}, depth=scope.depth + 1, top=False)
        start = self.block(body, inner, None)
        assert start is not None
        name = self._name(node.id, "each")
        state: dict[str, Any] = {
            "Type": "Map",
            "ItemsPath": "$.last.iterations",
            "MaxConcurrencyPath": "$.last.max_concurrency",
            "ItemSelector": {
                "owner.$": "$.owner",
                "execution_id.$": "$.execution_id",
                "iteration.$": "$$.Map.Item.Value",
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": start,
                "States": _ordered(start, inner.states),
            },
            "ResultPath": None,
        }
        self._top_catch(state, scope)
        state["Next"] = nxt
        scope.states[name] = state
        return name

    def _result(self, state: dict[str, Any], needs_port: bool, select: str | None) -> None:
        selector: dict[str, str] = {}
        if needs_port:
            selector["port.$"] = "$.port"
        if select == "loop":
            selector["iterations.$"] = "$.iterations"
            selector["max_concurrency.$"] = "$.max_concurrency"
        elif select == "wait":
            selector["wait_seconds.$"] = "$.wait_seconds"
        if selector:
            state["ResultSelector"] = selector
            state["ResultPath"] = "$.last"
        else:
            state["ResultPath"] = None

    def _retry(self, node: NodeData) -> list[dict[str, Any]]:
        policy = node.retry_policy
        if policy is None or policy.max_tries <= 1 or node.disabled:
            return []
        wait = int(policy.wait_between_tries)
        return [
            {
                "ErrorEquals": ["NodeRetry"],
                "IntervalSeconds": wait,
                "MaxAttempts": policy.max_tries - 1,
                "BackoffRate": 2.0,
                "MaxDelaySeconds": min(3600, wait * MAX_DELAY_FACTOR),
                "JitterStrategy": "FULL",
            }
        ]

    def _task_timeout(self, node: NodeData) -> int:
        seconds = node_timeout(node, self.engine)
        return int(min(LAMBDA_MAX_SECONDS, seconds + TASK_MARGIN_SECONDS))

    # -- the execution's end -----------------------------------------------------------------

    def _top_catch(self, state: dict[str, Any], scope: _Scope) -> None:
        if not scope.top:
            return  # inside a branch an error ends the branch; the enclosing state catches it
        state.setdefault("Catch", []).append(
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": RECORD_FAILURE}
        )
        scope.states.setdefault(RECORD_FAILURE, {})

    def _failure_states(self, scope: _Scope) -> None:
        scope.states[RECORD_FAILURE] = {
            "Type": "Task",
            "Resource": self.target.node_runner_arn,
            "Parameters": {
                **self._payload(None, scope),
                "phase": "fail",
                "failure.$": "$.failure",
            },
            "TimeoutSeconds": 60,
            "ResultPath": None,
            "Retry": [_transient_retry()],
            "Next": FAILED,
        }
        scope.states[FAILED] = {
            "Type": "Fail",
            "Error": "ExecutionFailed",
            "Cause": "a node stopped the execution; its error is in the execution record",
        }

    def _finish_state(self, scope: _Scope) -> str:
        if FINISH not in scope.states:
            state: dict[str, Any] = {
                "Type": "Task",
                "Resource": self.target.node_runner_arn,
                "Parameters": {**self._payload(None, scope), "phase": "finish"},
                "TimeoutSeconds": 60,
                "ResultPath": None,
                "Retry": [_transient_retry()],
            }
            self._top_catch(state, scope)
            state["End"] = True
            scope.states[FINISH] = state
        return FINISH

    def _end_state(self, scope: _Scope) -> str:
        """A state name where a Choice can end its scope."""
        if scope.top and self._finish_enabled:
            return self._finish_state(scope)
        name = self._unique(f"#end-{self._next_serial()}")
        scope.states[name] = {"Type": "Succeed"}
        return name

    def _link(self, state: dict[str, Any], nxt: str | None) -> None:
        if nxt is None:
            state["End"] = True
        else:
            state["Next"] = nxt

    def _link_or_finish(self, state: dict[str, Any], nxt: str | None, scope: _Scope) -> None:
        if nxt is None and scope.top and self._finish_enabled:
            nxt = self._finish_state(scope)
        self._link(state, nxt)

    # -- names -------------------------------------------------------------------------------

    def _name(self, node_id: str, suffix: str) -> str:
        key = (node_id, suffix)
        if key not in self._name_of:
            base = node_id if len(node_id) <= 60 else node_id[:50] + "~" + _short_hash(node_id)
            self._name_of[key] = self._unique(f"{base}/{suffix}" if suffix else base)
        return self._name_of[key]

    def _unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._names:
            n += 1
            candidate = f"{name}~{n}"
        self._names.add(candidate)
        return candidate

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial


def _kind(node: NodeData) -> str:
    if node.disabled:
        return "plain"
    if is_loop(node):
        return "loop"
    if node.type is NodeType.FLOW and node.subtype == "WAIT":
        return "wait"
    if node.type is NodeType.HUMAN_IN_THE_LOOP and node.subtype == "APPROVAL":
        return "approval"
    return "plain"


def _transient_retry() -> dict[str, Any]:
    return {
        "ErrorEquals": list(LAMBDA_TRANSIENT),
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
        "JitterStrategy": "FULL",
    }


def node_timeout(node: NodeData, engine: EngineSettings) -> float:
    """The node's own time limit when its parameters are static, else the largest it allows."""
    from flowlane.engine.node_execution import definition_of
    from flowlane.nodes.base import NodeError

    try:
        definition = definition_of(node)
    except NodeError:
        return float(engine.node_timeout_seconds)
    try:
        params = definition.parameters_model.model_validate(node.parameters)
    except ValueError:
        # Expressions decide the parameters at run time: the runner enforces the real limit.
        return float(LAMBDA_MAX_SECONDS - TASK_MARGIN_SECONDS)
    return float(definition.timeout_seconds(params, engine))


def _approval_timeout(node: NodeData) -> int:
    value = node.parameters.get("timeout_seconds", DEFAULT_APPROVAL_TIMEOUT)
    # An expression decides at run time; the default bounds the wait (documented).
    return value if isinstance(value, int) and value > 0 else DEFAULT_APPROVAL_TIMEOUT


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _ordered(start: str, states: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """States in the order a reader follows them from StartAt (then any left over)."""
    seen: list[str] = []
    stack = [start]
    visited: set[str] = set()
    while stack:
        name = stack.pop()
        if name in visited or name not in states:
            continue
        visited.add(name)
        seen.append(name)
        state = states[name]
        targets: list[str] = []
        if "Next" in state:
            targets.append(state["Next"])
        targets.extend(c["Next"] for c in state.get("Choices", []))
        if "Default" in state:
            targets.append(state["Default"])
        targets.extend(c["Next"] for c in state.get("Catch", []))
        stack.extend(reversed(targets))
    seen.extend(n for n in states if n not in visited)
    return {n: states[n] for n in seen}
