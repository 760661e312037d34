"""Executions and approvals (CONTRACT.md section 5, "Executions"): list, read, cancel, decide.

Starting executions (`POST /workflows/{id}/execute`) is the execute router's; this one serves
what happens after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from flowlane.api.deps import CallerDep, ServicesDep
from flowlane.errors import NotFound, ValidationFailed
from flowlane.models.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from flowlane.models.execution import (
    ApprovalDecisionRequest,
    ApprovalDecisionResponse,
    ApprovalListResponse,
    ApprovalPublic,
    ApprovalStatus,
    CancelResponse,
    ExecutionListResponse,
    ExecutionRecord,
    ExecutionStatus,
)
from flowlane.runtime import execution_control
from flowlane.runtime.services import Services

router = APIRouter(prefix="/api/v1", tags=["executions"])

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
StatusQuery = Annotated[
    str | None,
    Query(description="RUNNING, WAITING, SUCCEEDED, FAILED, CANCELLED or TIMED_OUT"),
]


def _execution_status(value: str | None) -> ExecutionStatus | None:
    if value is None or not value.strip():
        return None
    try:
        return ExecutionStatus(value.strip().upper())
    except ValueError:
        message = f"status must be one of {', '.join(s.value for s in ExecutionStatus)}"
        raise ValidationFailed(message, [{"loc": ["query", "status"], "msg": message}]) from None


def _approval_status(value: str | None) -> ApprovalStatus | None:
    if value is None or not value.strip():
        return None
    try:
        return ApprovalStatus(value.strip().lower())
    except ValueError:
        message = f"status must be one of {', '.join(s.value for s in ApprovalStatus)}"
        raise ValidationFailed(message, [{"loc": ["query", "status"], "msg": message}]) from None


def _list(
    services: Services,
    owner: str,
    *,
    workflow_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> ExecutionListResponse:
    page = services.executions.list(
        owner,
        workflow_id=workflow_id,
        status=_execution_status(status),
        limit=limit,
        cursor=cursor,
    )
    return ExecutionListResponse(
        executions=page.executions,
        total_count=page.total_count,
        page=page.page,
        page_size=limit,
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


@router.get("/executions", response_model=ExecutionListResponse)
def list_executions(
    caller: CallerDep,
    services: ServicesDep,
    workflow_id: Annotated[str | None, Query(description="Only this workflow's")] = None,
    status: StatusQuery = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ExecutionListResponse:
    """The caller's executions, newest first."""
    return _list(
        services,
        caller.user_id,
        workflow_id=workflow_id or None,
        status=status,
        limit=limit,
        cursor=cursor,
    )


@router.get("/workflows/{workflow_id}/executions", response_model=ExecutionListResponse)
def list_workflow_executions(
    workflow_id: str,
    caller: CallerDep,
    services: ServicesDep,
    status: StatusQuery = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ExecutionListResponse:
    """One workflow's executions, newest first. They stay readable after the workflow is
    deleted; 404 only when there is no such workflow and no execution of it."""
    answer = _list(
        services,
        caller.user_id,
        workflow_id=workflow_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    if answer.total_count == 0:
        try:
            services.workflows.get(caller.user_id, workflow_id)
        except NotFound:
            # Not the caller's workflow, unless it was deleted and left executions behind.
            unfiltered = services.executions.list(caller.user_id, workflow_id=workflow_id, limit=1)
            if status is None or unfiltered.total_count == 0:
                raise
    return answer


@router.get("/executions/{execution_id}", response_model=ExecutionRecord)
def get_execution(execution_id: str, caller: CallerDep, services: ServicesDep) -> ExecutionRecord:
    return execution_control.read_execution(services, caller.user_id, execution_id)


@router.post("/executions/{execution_id}/cancel", response_model=CancelResponse)
def cancel_execution(execution_id: str, caller: CallerDep, services: ServicesDep) -> CancelResponse:
    """Stop a RUNNING or WAITING execution (409 when it has already ended)."""
    return execution_control.cancel_execution(
        services, caller.user_id, execution_id, cancelled_by=caller.user_id
    )


@router.get("/approvals", response_model=ApprovalListResponse)
def list_approvals(
    caller: CallerDep,
    services: ServicesDep,
    status: Annotated[
        str | None,
        Query(description="pending, approved, rejected, timed_out or cancelled (default: all)"),
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ApprovalListResponse:
    """The caller's approvals, newest first."""
    page = services.approvals.list(
        caller.user_id, status=_approval_status(status), limit=limit, cursor=cursor
    )
    return ApprovalListResponse(
        approvals=[a.public() for a in page.approvals],
        total_count=page.total_count,
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


@router.get("/approvals/{approval_id}", response_model=ApprovalPublic)
def get_approval(approval_id: str, caller: CallerDep, services: ServicesDep) -> ApprovalPublic:
    return services.approvals.get(caller.user_id, approval_id).public()


@router.post("/approvals/{approval_id}", response_model=ApprovalDecisionResponse)
def decide_approval(
    approval_id: str, body: ApprovalDecisionRequest, caller: CallerDep, services: ServicesDep
) -> ApprovalDecisionResponse:
    """Approve or reject: the workflow goes on from the APPROVAL node's `approved` or `rejected`
    port. A second decision is a 409; after a 502 the same request again retries the send."""
    return execution_control.decide_approval(
        services,
        caller.user_id,
        approval_id,
        decision=body.decision,
        comment=body.comment,
        decided_by=caller.user_id,
    )
