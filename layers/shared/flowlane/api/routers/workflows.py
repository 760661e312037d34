"""Workflow CRUD and list (CONTRACT.md section 5, "Workflow engine")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from flowlane.api.deps import CallerDep, ServicesDep, WorkflowsDep
from flowlane.errors import ValidationFailed
from flowlane.models.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MessageResponse
from flowlane.models.workflow import (
    WorkflowCreate,
    WorkflowGetResponse,
    WorkflowListResponse,
    WorkflowResponse,
    WorkflowUpdate,
    parse_revision,
)

router = APIRouter(prefix="/api/v1", tags=["workflows"])


def _etag(response: Response, revision: int) -> None:
    response.headers["ETag"] = f'"{revision}"'


@router.post("/workflows", status_code=status.HTTP_201_CREATED, response_model=WorkflowResponse)
def create_workflow(
    body: WorkflowCreate, caller: CallerDep, workflows: WorkflowsDep, response: Response
) -> WorkflowResponse:
    caller.ensure_same_user(body.user_id)
    workflow = workflows.create(caller.user_id, body)
    _etag(response, workflow.revision)
    response.headers["Location"] = f"/api/v1/workflows/{workflow.id}"
    return WorkflowResponse(workflow=workflow, message="workflow created")


@router.get("/workflows", response_model=WorkflowListResponse)
def list_workflows(
    caller: CallerDep,
    workflows: WorkflowsDep,
    active_only: Annotated[bool, Query(description="Only active workflows (seed default)")] = True,
    tags: Annotated[
        list[str] | None,
        Query(description="Workflows carrying every tag; repeat or comma-separate"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int | None, Query(ge=0)] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> WorkflowListResponse:
    if offset is not None and cursor is not None:
        raise ValidationFailed(
            "use either offset or cursor, not both",
            [{"loc": ["query", "cursor"], "msg": "cannot be combined with offset"}],
        )
    wanted = [t.strip() for value in tags or [] for t in value.split(",") if t.strip()]
    page = workflows.list(
        caller.user_id,
        active_only=active_only,
        tags=wanted,
        limit=limit,
        offset=offset,
        cursor=cursor,
    )
    return WorkflowListResponse(
        workflows=page.workflows,
        total_count=page.total_count,
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


@router.get("/workflows/{workflow_id}", response_model=WorkflowGetResponse)
def get_workflow(
    workflow_id: str, caller: CallerDep, workflows: WorkflowsDep, response: Response
) -> WorkflowGetResponse:
    workflow = workflows.get(caller.user_id, workflow_id)
    _etag(response, workflow.revision)
    return WorkflowGetResponse(workflow=workflow, found=True, message="workflow found")


@router.put("/workflows/{workflow_id}", response_model=WorkflowResponse)
def update_workflow(
    workflow_id: str,
    body: WorkflowUpdate,
    caller: CallerDep,
    workflows: WorkflowsDep,
    services: ServicesDep,
    response: Response,
    if_match: Annotated[
        str | None, Header(description="The revision the change is based on; 409 when stale")
    ] = None,
) -> WorkflowResponse:
    caller.ensure_same_user(body.user_id)
    if body.workflow_id is not None and body.workflow_id != workflow_id:
        raise ValidationFailed(
            "workflow_id in the body does not match the path",
            [{"loc": ["body", "workflow_id"], "msg": "must equal the workflow id in the path"}],
        )
    expected: int | None = None
    if if_match is not None and if_match.strip() != "*":
        try:
            expected = parse_revision(if_match)
        except ValueError as exc:
            raise ValidationFailed(
                str(exc), [{"loc": ["header", "If-Match"], "msg": str(exc)}]
            ) from exc
    changes = body.changes()
    workflow = workflows.update(caller.user_id, workflow_id, changes, expected_revision=expected)
    if "active" in changes:
        from flowlane.runtime.triggers import TriggerService

        # Triggers are live while the workflow is active: its schedules follow the switch.
        TriggerService(services).set_active(caller.user_id, workflow_id, workflow.active)
    _etag(response, workflow.revision)
    return WorkflowResponse(workflow=workflow, message="workflow updated")


@router.delete("/workflows/{workflow_id}", response_model=MessageResponse)
def delete_workflow(
    workflow_id: str, caller: CallerDep, workflows: WorkflowsDep, services: ServicesDep
) -> MessageResponse:
    """Its deployment, schedules and webhook paths go first (nothing fires afterwards); its
    executions stay readable."""
    from flowlane.runtime.deployments import DeploymentService

    workflows.get(caller.user_id, workflow_id)  # 404 before anything is touched
    DeploymentService(services).delete_for_workflow(caller.user_id, workflow_id)
    workflows.delete(caller.user_id, workflow_id)
    return MessageResponse(success=True, message="workflow deleted")
