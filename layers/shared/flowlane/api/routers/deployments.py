"""Deployments (CONTRACT.md section 5, "Runtime"): the seed gateway's `/workflow/deployments`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from flowlane.api.deps import CallerDep, ServicesDep
from flowlane.models.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from flowlane.models.deployment import (
    DeploymentCreate,
    DeploymentDeleted,
    DeploymentListResponse,
    DeploymentResponse,
    DeploymentUpdate,
)
from flowlane.runtime.deployments import DeploymentService
from flowlane.runtime.services import Services

router = APIRouter(prefix="/api/v1", tags=["runtime"])


def base_url(request: Request, services: Services) -> str:
    """Where webhook URLs point: the configured public URL, else the URL this request used."""
    return services.runtime.public_base_url or str(request.base_url)


@router.post(
    "/workflow/deployments",
    status_code=status.HTTP_201_CREATED,
    response_model=DeploymentResponse,
)
def deploy(
    body: DeploymentCreate, caller: CallerDep, services: ServicesDep, request: Request
) -> DeploymentResponse:
    """Pin the workflow's current revision (saving `workflow_definition` first when given),
    create its state machine and its triggers. Secrets of new webhook triggers are shown here
    only."""
    caller.ensure_same_user(body.user_id)
    return DeploymentService(services).deploy(caller.user_id, body, base_url(request, services))


@router.get("/workflow/deployments", response_model=DeploymentListResponse)
def list_deployments(
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
    workflow_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeploymentListResponse:
    deployments, total = DeploymentService(services).page(
        caller.user_id,
        base_url(request, services),
        workflow_id=workflow_id,
        limit=limit,
        offset=offset,
    )
    return DeploymentListResponse(
        deployments=deployments, total_count=total, has_more=offset + limit < total
    )


@router.get("/workflow/deployments/{deployment_id}", response_model=DeploymentResponse)
def get_deployment(
    deployment_id: str, caller: CallerDep, services: ServicesDep, request: Request
) -> DeploymentResponse:
    return DeploymentService(services).get(
        caller.user_id, deployment_id, base_url(request, services)
    )


@router.put("/workflow/deployments/{deployment_id}", response_model=DeploymentResponse)
def update_deployment(
    deployment_id: str,
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
    body: DeploymentUpdate | None = None,
) -> DeploymentResponse:
    """No body (or `{}`): redeploy the workflow's current revision as a new version.
    `{rollback_to_version: N}`: run version N's revision again."""
    return DeploymentService(services).update(
        caller.user_id, deployment_id, body or DeploymentUpdate(), base_url(request, services)
    )


@router.delete("/workflow/deployments/{deployment_id}", response_model=DeploymentDeleted)
def delete_deployment(
    deployment_id: str, caller: CallerDep, services: ServicesDep
) -> DeploymentDeleted:
    """Remove the deployment's schedules and webhook paths, its versions and state machines.
    Its workflow and executions stay."""
    return DeploymentService(services).delete(caller.user_id, deployment_id)
