"""Triggers (CONTRACT.md section 5, "Runtime"): create, list, read, delete, fire, event log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel

from flowlane.api.deps import CallerDep, ServicesDep
from flowlane.api.routers.deployments import base_url
from flowlane.models.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from flowlane.models.trigger import (
    FireRequest,
    FireResponse,
    TriggerCreate,
    TriggerCreated,
    TriggerEventListResponse,
    TriggerListResponse,
    TriggerPublic,
    TriggerType,
)
from flowlane.runtime.triggers import TriggerService, now_utc_iso

router = APIRouter(prefix="/api/v1", tags=["runtime"])


class TriggerDetail(BaseModel):
    trigger: TriggerPublic
    webhook_url: str | None = None


class TriggerDeleted(BaseModel):
    success: bool = True
    message: str


@router.post("/triggers", status_code=status.HTTP_201_CREATED, response_model=TriggerCreated)
def create_trigger(
    body: TriggerCreate, caller: CallerDep, services: ServicesDep, request: Request
) -> TriggerCreated:
    """A webhook trigger's `secret` is in this answer and never again."""
    caller.ensure_same_user(body.user_id)
    return TriggerService(services).create_from_request(
        caller.user_id, body, base_url(request, services)
    )


@router.get("/triggers", response_model=TriggerListResponse)
def list_triggers(
    caller: CallerDep,
    services: ServicesDep,
    workflow_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TriggerListResponse:
    triggers = services.triggers.all(caller.user_id, workflow_id)
    window = triggers[offset : offset + limit]
    return TriggerListResponse(
        triggers=[TriggerService.public(t) for t in window],
        total_count=len(triggers),
        has_more=offset + limit < len(triggers),
    )


@router.get("/triggers/{trigger_id}", response_model=TriggerDetail)
def get_trigger(
    trigger_id: str, caller: CallerDep, services: ServicesDep, request: Request
) -> TriggerDetail:
    trigger = services.triggers.get(caller.user_id, trigger_id)
    return TriggerDetail(
        trigger=TriggerService.public(trigger),
        webhook_url=TriggerService.url(trigger, base_url(request, services)),
    )


@router.delete("/triggers/{trigger_id}", response_model=TriggerDeleted)
def delete_trigger(trigger_id: str, caller: CallerDep, services: ServicesDep) -> TriggerDeleted:
    """Its schedule or webhook path goes first; its executions stay readable."""
    trigger = services.triggers.get(caller.user_id, trigger_id)
    TriggerService(services).delete(caller.user_id, trigger)
    return TriggerDeleted(message=f"trigger {trigger_id} deleted")


@router.post(
    "/triggers/{trigger_id}/fire",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FireResponse,
)
def fire_trigger(
    trigger_id: str,
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
    body: FireRequest | None = None,
) -> FireResponse:
    """Run the trigger now with `data` as its trigger data (a test of a webhook or schedule);
    409 while the workflow is not active."""
    trigger = services.triggers.get(caller.user_id, trigger_id)
    data = (body or FireRequest()).data
    if trigger.type is TriggerType.SCHEDULE and isinstance(data, dict):
        data = {"scheduled_time": now_utc_iso(), **data}
    execution = TriggerService(services).fire(
        caller.user_id,
        trigger,
        data,
        source_ip=request.client.host if request.client else None,
    )
    return FireResponse(execution_id=execution.execution_id, status=execution.status.value.lower())


@router.get("/triggers/{trigger_id}/events", response_model=TriggerEventListResponse)
def trigger_events(
    trigger_id: str,
    caller: CallerDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> TriggerEventListResponse:
    """Newest first: when it fired, the execution it started and that execution's status now
    (`outcome`), or why nothing started; for webhooks the caller's address."""
    return TriggerService(services).events(caller.user_id, trigger_id, limit=limit, cursor=cursor)
