"""Start executions: compile the pinned revision, make sure its machine exists, start it.

CONTRACT.md section 5 ("Executions"). The order matters for "nothing is lost, nothing half
written": the execution record and its trigger's run are written before Step Functions starts
(the first node reads them), and when the start fails they are removed again, with the
Idempotency-Key released, so a retry starts cleanly.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from flowlane.config import ExecutionSettings, execution_settings
from flowlane.engine.compiler import CompiledWorkflow, Target, compile_workflow
from flowlane.engine.graph import WorkflowGraph
from flowlane.errors import FlowlaneError, NotFound, UpstreamError, ValidationFailed
from flowlane.models.execution import ExecutionStatus, TriggerInfo
from flowlane.models.workflow import NodeType, WorkflowData
from flowlane.observability import logger
from flowlane.store.executions import ExecutionItem, new_execution_id

EMBEDDED_ACCOUNT = "123456789012"  # moto's account
EMBEDDED_ROLE = f"arn:aws:iam::{EMBEDDED_ACCOUNT}:role/flowlane-embedded-lambda"


class ExecutionsNotConfigured(FlowlaneError):
    code = "INTERNAL_ERROR"
    status = 500


class StartInProgress(UpstreamError):
    """Another request with the same Idempotency-Key is starting the execution right now."""


def target_for(services: Any, settings: ExecutionSettings | None = None) -> Target:
    """The node runner and state machine ARNs: from settings on AWS, derived when embedded."""
    settings = settings or execution_settings()
    arn = settings.node_runner_arn
    if arn is None:
        if services.aws.runtime != "embedded":
            raise ExecutionsNotConfigured(
                "FLOWLANE_NODE_RUNNER_ARN is not set: the deployment must name the node runner"
            )
        from flowlane.config import local_settings

        name = f"{local_settings().function_prefix}node-runner"
        arn = f"arn:aws:lambda:{services.aws.region}:{EMBEDDED_ACCOUNT}:function:{name}"
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        raise ExecutionsNotConfigured(f"FLOWLANE_NODE_RUNNER_ARN is not a Lambda ARN: {arn!r}")
    partition, region, account = parts[1], parts[3], parts[4]
    return Target(
        node_runner_arn=arn,
        state_machine_arn_prefix=f"arn:{partition}:states:{region}:{account}:stateMachine:",
    )


class _CompileCache:
    """Compiled revisions, per process: a revision never changes, nor does its definition."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, str, str], CompiledWorkflow] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        owner: str,
        workflow: WorkflowData,
        target: Target,
        graph: WorkflowGraph,
        name_prefix: str,
    ) -> CompiledWorkflow:
        # By content: a revision is immutable in one table, but a process may serve several
        # (tests, a restarted `flowlane dev`), where the same id and revision can differ.
        digest = hashlib.sha256(workflow.model_dump_json().encode()).hexdigest()
        key = (owner, digest, target.node_runner_arn, name_prefix)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        compiled = compile_workflow(workflow, target, graph=graph, name_prefix=name_prefix)
        with self._lock:
            self._items[key] = compiled
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return compiled


_compiled = _CompileCache()
_known_machines: set[str] = set()
_machines_lock = threading.Lock()


def forget_machine(arn: str) -> None:
    """A machine was deleted: the next start in this process checks it exists again."""
    with _machines_lock:
        _known_machines.discard(arn)


class ExecutionLauncher:
    def __init__(self, services: Any, settings: ExecutionSettings | None = None) -> None:
        self.services = services
        self.settings = settings or execution_settings()

    # -- compile -----------------------------------------------------------------------------

    def compile(self, owner: str, workflow: WorkflowData) -> CompiledWorkflow:
        from flowlane.engine.validation import validate_workflow

        # One graph for both: validation and the compiler analyse the same structure.
        graph = WorkflowGraph(workflow.nodes, workflow.connections)
        validate_workflow(workflow, graph=graph).raise_if_invalid()
        # The prefix names the stage's machines (`flowlane-<stage>-` on AWS), which is what the
        # roles, the status-change rule and the deployment's clean-up are scoped to.
        return _compiled.get(
            owner,
            workflow,
            target_for(self.services, self.settings),
            graph,
            self.settings.state_machine_prefix,
        )

    def ensure_machines(self, compiled: CompiledWorkflow) -> str:
        """Create the machines that do not exist yet (children first); the main one's ARN."""
        target = target_for(self.services, self.settings)
        sfn = self.services.clients.stepfunctions
        for machine in [*compiled.children, compiled.machine]:
            arn = target.state_machine_arn_prefix + machine.name
            with _machines_lock:
                if arn in _known_machines:
                    continue
            try:
                sfn.describe_state_machine(stateMachineArn=arn)
            except sfn.exceptions.StateMachineDoesNotExist:
                self._create(sfn, machine.name, machine.text)
            except Exception as exc:  # botocore errors: the start cannot go on
                raise UpstreamError(f"Step Functions: {exc}") from exc
            with _machines_lock:
                _known_machines.add(arn)
        return target.state_machine_arn_prefix + compiled.machine.name

    def _create(self, sfn: Any, name: str, text: str) -> None:
        role = self.settings.state_machine_role_arn
        if role is None:
            if self.services.aws.runtime != "embedded":
                raise ExecutionsNotConfigured(
                    "FLOWLANE_STATE_MACHINE_ROLE_ARN is not set: the deployment must name it"
                )
            role = EMBEDDED_ROLE
        arguments: dict[str, Any] = {
            "name": name,
            "definition": text,
            "roleArn": role,
            "type": "STANDARD",
        }
        log_group = self.settings.state_machine_log_group_arn
        if log_group is not None:
            # Errors only, without execution data: node inputs and outputs may hold what users
            # would not want in logs, and they are in the execution records already.
            arguments["loggingConfiguration"] = {
                "level": "ERROR",
                "includeExecutionData": False,
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group}}],
            }
        try:
            sfn.create_state_machine(**arguments)
        except sfn.exceptions.StateMachineAlreadyExists:
            pass  # created meanwhile by another request: names are content-addressed
        except Exception as exc:
            raise UpstreamError(f"could not create the state machine {name}: {exc}") from exc

    # -- execute -----------------------------------------------------------------------------

    def execute(
        self,
        owner: str,
        workflow_id: str,
        trigger_data: Any,
        *,
        idempotency_key: str | None = None,
        session_id: str | None = None,
        trigger_node: str | None = None,
        trigger_type: str | None = None,
        workflow: WorkflowData | None = None,
    ) -> ExecutionItem:
        """Start an execution of the workflow's current revision (or of `workflow`, a pinned
        revision a deployment chose). The same Idempotency-Key answers the same execution."""
        execution, _ = self.start(
            owner,
            workflow_id,
            trigger_data,
            idempotency_key=idempotency_key,
            session_id=session_id,
            trigger_node=trigger_node,
            trigger_type=trigger_type,
            workflow=workflow,
        )
        return execution

    def start(
        self,
        owner: str,
        workflow_id: str,
        trigger_data: Any,
        *,
        idempotency_key: str | None = None,
        session_id: str | None = None,
        trigger_node: str | None = None,
        trigger_type: str | None = None,
        workflow: WorkflowData | None = None,
    ) -> tuple[ExecutionItem, bool]:
        """`execute`, also saying whether this call started the execution (False: the
        Idempotency-Key named one started before)."""
        repo = self.services.executions
        if workflow is None:
            workflow = self.services.workflows.get(owner, workflow_id)
        compiled = self.compile(owner, workflow)
        start = _choose_trigger(workflow, trigger_node)
        execution_id = new_execution_id()
        if idempotency_key is not None:
            claimed = repo.claim_idempotency_key(owner, workflow_id, idempotency_key, execution_id)
            if claimed != execution_id:
                try:
                    existing: ExecutionItem = repo.get(owner, claimed)
                except NotFound:
                    # The first request with this key is still starting it.
                    raise StartInProgress(
                        "an execution with this Idempotency-Key is being started; retry shortly"
                    ) from None
                return existing, False
        try:
            started = self._start(
                owner,
                workflow,
                compiled,
                execution_id,
                start,
                trigger_data,
                session_id,
                idempotency_key,
                trigger_type,
            )
        except BaseException:
            if idempotency_key is not None:
                repo.release_idempotency_key(owner, workflow_id, idempotency_key)
            raise
        return started, True

    def _start(
        self,
        owner: str,
        workflow: WorkflowData,
        compiled: CompiledWorkflow,
        execution_id: str,
        trigger: str,
        trigger_data: Any,
        session_id: str | None,
        idempotency_key: str | None,
        trigger_type: str | None,
    ) -> ExecutionItem:
        repo = self.services.executions
        self.services.workflows.snapshot(owner, workflow)
        machine_arn = self.ensure_machines(compiled)
        kind = trigger_type or (workflow_trigger_type(workflow, trigger))
        execution = ExecutionItem(
            execution_id=execution_id,
            workflow_id=workflow.id,
            revision=workflow.revision,
            status=ExecutionStatus.RUNNING,
            mode="live",
            trigger=TriggerInfo(node_id=trigger, type=kind),
            input=trigger_data,
            started_at=_now(),
            state_machine_arn=machine_arn,
            sfn_execution_arn=_execution_arn(machine_arn, execution_id),
            session_id=session_id,
            idempotency_key=idempotency_key,
        )
        repo.create(owner, execution)
        try:
            self._run_trigger(owner, execution)
            self._start_machine(compiled, machine_arn, owner, execution_id)
        except BaseException as exc:
            logger.warning("starting execution %s failed; removing its record", execution_id)
            repo.delete(owner, execution_id)
            if isinstance(exc, FlowlaneError | KeyboardInterrupt):
                raise
            if isinstance(exc, Exception) and _is_client_error(exc):
                raise UpstreamError(f"Step Functions did not start the execution: {exc}") from exc
            raise
        return execution

    def _start_machine(
        self, compiled: CompiledWorkflow, machine_arn: str, owner: str, execution_id: str
    ) -> None:
        sfn = self.services.clients.stepfunctions
        arguments = {
            "stateMachineArn": machine_arn,
            "name": execution_id,  # deterministic: moto gives every unnamed execution one ARN
            "input": json.dumps({"owner": owner, "execution_id": execution_id}),
        }
        try:
            sfn.start_execution(**arguments)
        except sfn.exceptions.StateMachineDoesNotExist:
            # Deleted behind our back (or a new embedded runtime in this process): recreate.
            with _machines_lock:
                _known_machines.clear()
            self.ensure_machines(compiled)
            sfn.start_execution(**arguments)

    def _run_trigger(self, owner: str, execution: ExecutionItem) -> None:
        """The trigger's run is written here, before the machine starts (one state
        transition less per execution)."""
        from flowlane.runtime.node_runner import NodeRunner

        NodeRunner(self.services).handle(
            {
                "owner": owner,
                "execution_id": execution.execution_id,
                "node_id": execution.trigger.node_id,
            }
        )


def _choose_trigger(workflow: WorkflowData, requested: str | None) -> str:
    triggers = [n for n in workflow.nodes if n.type is NodeType.TRIGGER]
    if requested is not None:
        if requested not in {t.id for t in triggers}:
            message = f"'{requested}' is not a trigger of this workflow"
            raise ValidationFailed(message, [{"loc": ["body", "trigger_node"], "msg": message}])
        return requested
    manual = [t for t in triggers if t.subtype == "MANUAL"]
    chosen = manual or triggers
    if not chosen:
        message = "the workflow has no trigger node"
        raise ValidationFailed(message, [{"loc": ["body", "nodes"], "msg": message}])
    return chosen[0].id


def workflow_trigger_type(workflow: WorkflowData, trigger: str) -> str:
    node = next(n for n in workflow.nodes if n.id == trigger)
    return (node.subtype or "manual").lower()


def _execution_arn(machine_arn: str, execution_id: str) -> str:
    prefix, _, name = machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{name}:{execution_id}"


def _is_client_error(exc: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, ClientError | BotoCoreError)


def _now() -> str:
    from flowlane.engine.interpreter import now_iso

    return now_iso()
