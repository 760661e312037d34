"""What happens to an execution after it starts, apart from running nodes: reading it back,
cancelling it, deciding its approvals, and closing it when Step Functions ends it on its own.

The compiled state machine records its own success and the failures it catches. The ends that
bypass its Catch (a StopExecution from elsewhere, the machine's own timeout, a States.Runtime
error) reach `apply_status_change` as EventBridge "Step Functions Execution Status Change"
events (on the embedded runtime, the status poller sends the same events).

Every close is a conditional `finish`: whoever closes first wins, the others change nothing, so
the API, the events and the machine itself may race safely.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowlane.errors import Conflict, NotFound, UpstreamError
from flowlane.models.execution import (
    ApprovalDecisionResponse,
    CancelResponse,
    Decision,
    ExecutionRecord,
    ExecutionStatus,
    NodeRun,
    NodeRunError,
    NodeRunStatus,
)
from flowlane.observability import logger
from flowlane.runtime.services import Services
from flowlane.store.executions import ExecutionItem, StoredRun

# Step Functions' final statuses -> ours. SUCCEEDED is handled apart: the machine records it.
_FINAL_FROM_SFN = {
    "ABORTED": ExecutionStatus.CANCELLED,
    "TIMED_OUT": ExecutionStatus.TIMED_OUT,
    "FAILED": ExecutionStatus.FAILED,
}
# SendTaskSuccess errors meaning the task no longer waits for this token.
_TOKEN_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}
_MAX_MESSAGE = 2_000


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- reading ---------------------------------------------------------------------------------


def read_execution(services: Services, owner: str, execution_id: str) -> ExecutionRecord:
    """The execution with every node run as stored (404 when it is not the caller's)."""
    execution = services.executions.get(owner, execution_id)
    runs = services.executions.list_runs(owner, execution_id)
    return ExecutionRecord.model_validate(
        {**execution.model_dump(), "node_runs": [stored.run for stored in runs]}
    )


# -- cancelling ------------------------------------------------------------------------------


def cancel_execution(
    services: Services, owner: str, execution_id: str, *, cancelled_by: str
) -> CancelResponse:
    """Stop the Step Functions execution, then close the record, its open node runs and its
    pending approvals. 409 when it had already ended."""
    execution = services.executions.get(owner, execution_id)
    if execution.final:
        raise _already_ended(execution)
    _stop(services, execution, cancelled_by)
    ended_at = now_iso()
    # The leftovers first: whoever sees the execution CANCELLED sees no run still open. (Had it
    # ended otherwise meanwhile, it has no open runs to close.)
    _close_leftovers(services, owner, execution_id, ended_at)
    if not services.executions.finish(
        owner, execution_id, status=ExecutionStatus.CANCELLED, ended_at=ended_at
    ):
        # Closed in between: by the ABORTED event of our own stop (fine), or it ended first.
        current = services.executions.get(owner, execution_id)
        if current.status is not ExecutionStatus.CANCELLED:
            raise _already_ended(current)
    return CancelResponse(
        execution_id=execution_id,
        status=ExecutionStatus.CANCELLED,
        success=True,
        message="execution cancelled",
    )


def _stop(services: Services, execution: ExecutionItem, cancelled_by: str) -> None:
    arn = execution.sfn_execution_arn or _derived_execution_arn(execution)
    if arn is None:
        return  # never started on Step Functions: there is nothing to stop
    try:
        services.stepfunctions.stop_execution(
            executionArn=arn, error="Flowlane.Cancelled", cause=f"cancelled by {cancelled_by}"
        )
    except ClientError as exc:
        code = _aws_code(exc)
        if code == "ExecutionDoesNotExist":
            # Gone on the Step Functions side (or never got there): closing the record is
            # still right, and is all that is left to do.
            logger.info("execution to stop does not exist", extra={"execution_arn": arn})
            return
        raise UpstreamError(
            "Step Functions failed to stop the execution",
            {"service": "stepfunctions", "aws_code": code},
        ) from exc
    except BotoCoreError as exc:
        raise UpstreamError(
            "Step Functions failed to stop the execution",
            {"service": "stepfunctions", "reason": type(exc).__name__},
        ) from exc


def _derived_execution_arn(execution: ExecutionItem) -> str | None:
    """When the starter has not written the ARN back yet: executions are named by their id."""
    machine = execution.state_machine_arn
    if not machine or ":stateMachine:" not in machine:
        return None
    return machine.replace(":stateMachine:", ":execution:", 1) + f":{execution.execution_id}"


def _already_ended(execution: ExecutionItem) -> Conflict:
    return Conflict(
        f"execution {execution.execution_id} has already ended ({execution.status.value})",
        {"execution_id": execution.execution_id, "status": execution.status.value},
    )


def _close_leftovers(services: Services, owner: str, execution_id: str, ended_at: str) -> None:
    services.executions.mark_runs_cancelled(owner, execution_id, ended_at)
    services.approvals.cancel_for_execution(owner, execution_id)


# -- approvals -------------------------------------------------------------------------------


def decide_approval(
    services: Services,
    owner: str,
    approval_id: str,
    *,
    decision: Decision,
    comment: str | None,
    decided_by: str,
) -> ApprovalDecisionResponse:
    """Record the decision, write the APPROVAL node run with its port, and hand the port to
    Step Functions. The node run is written before the token is sent: the next node reads it
    as soon as the machine moves on. When Step Functions cannot be reached the approval stays
    decided and unsent, and the same request again retries the send."""
    from flowlane.nodes.human_in_the_loop import decision_output, port_for

    approval = services.approvals.get(owner, approval_id)
    execution = services.executions.get(owner, approval.execution_id)
    if execution.final:
        raise _already_ended(execution)
    approval = services.approvals.decide(
        owner, approval_id, decision=decision, comment=comment, decided_by=decided_by
    )
    port = port_for(decision, has_timeout_branch=False)
    previous = services.executions.get_run(
        owner, approval.execution_id, approval.node_id, approval.iteration
    )
    _write_decided_run(
        services,
        owner,
        approval.execution_id,
        previous,
        node_id=approval.node_id,
        iteration=approval.iteration,
        output=decision_output(
            decision, approval.comment, approval.decided_by, approval.decided_at
        ),
        port=port,
        started_at=approval.created_at,
    )
    try:
        services.stepfunctions.send_task_success(
            taskToken=approval.task_token,
            output=json.dumps({"node_id": approval.node_id, "status": "SUCCEEDED", "port": port}),
        )
    except ClientError as exc:
        code = _aws_code(exc)
        if code in _TOKEN_GONE:
            # The machine no longer waits (its timeout passed): the decision did not take
            # effect, so the approval timed out and the run is as it was.
            services.approvals.time_out(owner, approval_id)
            if previous is not None:
                services.executions.put_run(
                    owner,
                    approval.execution_id,
                    previous.run,
                    attempt=previous.attempt,
                    control=previous.control,
                )
            raise Conflict(
                "the approval timed out: the workflow no longer waits for this decision",
                {"approval_id": approval_id, "aws_code": code},
            ) from exc
        raise UpstreamError(
            "Step Functions did not take the decision; send it again",
            {"service": "stepfunctions", "aws_code": code},
        ) from exc
    except BotoCoreError as exc:
        raise UpstreamError(
            "Step Functions did not take the decision; send it again",
            {"service": "stepfunctions", "reason": type(exc).__name__},
        ) from exc
    from flowlane.runtime.node_runner import resume_if_nothing_pending

    approval = services.approvals.mark_sent(owner, approval_id)
    resume_if_nothing_pending(services, owner, approval.execution_id)
    return ApprovalDecisionResponse(
        approval=approval.public(), success=True, message=f"approval {decision}"
    )


def _write_decided_run(
    services: Services,
    owner: str,
    execution_id: str,
    previous: StoredRun | None,
    *,
    node_id: str,
    iteration: list[int],
    output: dict[str, Any],
    port: str,
    started_at: str,
) -> None:
    """The APPROVAL run as SUCCEEDED on its port, keeping what the runner recorded (input,
    start, attempts); the task token stays with the approval only."""
    if previous is not None:
        run = previous.run.model_copy(deep=True)
        attempt = previous.attempt
        control = {k: v for k, v in previous.control.items() if k != "task_token"}
    else:
        run = NodeRun(
            node_id=node_id,
            status=NodeRunStatus.WAITING,
            attempts=1,
            started_at=started_at,
            iteration=iteration,
        )
        attempt, control = 1, {}
    run.status, run.output, run.port, run.ended_at = (
        NodeRunStatus.SUCCEEDED,
        output,
        port,
        now_iso(),
    )
    services.executions.put_run(owner, execution_id, run, attempt=attempt, control=control)


# -- status-change events ----------------------------------------------------------------------


def apply_status_change(services: Services, event: dict[str, Any]) -> bool:
    """Close the execution a "Step Functions Execution Status Change" event is about.

    ABORTED -> CANCELLED, TIMED_OUT -> TIMED_OUT, FAILED -> FAILED, each only while the record
    is open, then its open node runs and pending approvals are closed too. SUCCEEDED while the
    record is open: the machine's own recording did not happen, so the node runner's
    `finish_execution` computes the output from the node runs. True when the record changed;
    events about executions we do not know, or have already closed, change nothing.
    """
    detail = event.get("detail")
    if not isinstance(detail, dict):
        logger.warning("status change event without a detail", extra={"event": event})
        return False
    sfn_status = str(detail.get("status", ""))
    arn = detail.get("executionArn")
    target = _target(detail)
    if target is None:
        logger.info(
            "status change of an execution that is not Flowlane's", extra={"execution_arn": arn}
        )
        return False
    owner, execution_id = target
    try:
        execution = services.executions.get(owner, execution_id)
    except NotFound:
        logger.info(
            "status change of an unknown execution",
            extra={"execution_arn": arn, "execution_id": execution_id},
        )
        return False
    if execution.sfn_execution_arn and arn and execution.sfn_execution_arn != arn:
        # Another Step Functions execution than the one the record follows (a retried start).
        logger.info("status change of a superseded execution", extra={"execution_arn": arn})
        return False
    if sfn_status == "SUCCEEDED":
        if execution.final:
            return False
        from flowlane.runtime.node_runner import finish_execution

        finish_execution(services, owner, execution_id)
        return True
    status = _FINAL_FROM_SFN.get(sfn_status)
    if status is None:
        return False  # RUNNING, PENDING_REDRIVE: nothing has ended
    ended_at = _iso(detail.get("stopDate")) or now_iso()
    # The Step Functions execution is over, so its open runs are over too: closed before the
    # status, so whoever sees the execution ended sees no run still open. Closing them again
    # (this event delivered twice, or after our own cancel) changes nothing.
    _close_leftovers(services, owner, execution_id, ended_at)
    return bool(
        services.executions.finish(
            owner,
            execution_id,
            status=status,
            error=_error_for(services, owner, execution, status, detail),
            ended_at=ended_at,
        )
    )


def _target(detail: dict[str, Any]) -> tuple[str, str] | None:
    """(owner, execution id) from the state machine input, which starts with them."""
    raw = detail.get("input")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    owner, execution_id = data.get("owner"), data.get("execution_id")
    if isinstance(owner, str) and owner and isinstance(execution_id, str) and execution_id:
        return owner, execution_id
    return None


def _error_for(
    services: Services,
    owner: str,
    execution: ExecutionItem,
    status: ExecutionStatus,
    detail: dict[str, Any],
) -> NodeRunError | None:
    if status is ExecutionStatus.TIMED_OUT:
        return NodeRunError(
            code="TIMEOUT", message=_timeout_message(services, owner, execution), node_id=""
        )
    if status is ExecutionStatus.FAILED:
        parts = [str(detail[k]) for k in ("error", "cause") if detail.get(k)]
        message = ": ".join(parts) or "the execution failed outside any node"
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        return NodeRunError(code="EXECUTION_FAILED", message=message, node_id="")
    return None  # cancelled: the status says it all


def _timeout_message(services: Services, owner: str, execution: ExecutionItem) -> str:
    try:
        workflow = services.workflows.get_revision(owner, execution.workflow_id, execution.revision)
    except NotFound:
        return "the workflow ran past its timeout"
    return f"the workflow ran past its timeout of {workflow.settings.timeout} s"


def _iso(value: Any) -> str | None:
    """EventBridge gives epoch milliseconds; an ISO string is taken as it is."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, str) and value:
        return value
    return None


def _aws_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
