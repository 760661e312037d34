"""Starting executions and reading the compiled ASL (CONTRACT.md section 5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from flowlane.api.deps import CallerDep, ServicesDep

router = APIRouter(prefix="/api/v1", tags=["executions"])


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trigger_data: JsonValue = Field(default_factory=dict)
    session_id: str | None = None
    trigger_node: Annotated[
        str | None, Field(description="Which trigger starts the run (default: the first MANUAL)")
    ] = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None


class GatewayExecuteRequest(ExecuteRequest):
    workflow_id: str


class ExecuteResponse(BaseModel):
    execution_id: str
    status: str = "running"
    success: bool = True
    message: str = ""


IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, description="Same key, same execution"),
]


def _execute(
    services: Any, owner: str, workflow_id: str, body: ExecuteRequest, key: str | None
) -> ExecuteResponse:
    from flowlane.runtime.launcher import ExecutionLauncher

    execution = ExecutionLauncher(services).execute(
        owner,
        workflow_id,
        body.trigger_data,
        idempotency_key=key,
        session_id=body.session_id,
        trigger_node=body.trigger_node,
    )
    return ExecuteResponse(
        execution_id=execution.execution_id,
        status=execution.status.value.lower(),
        message="execution started",
    )


@router.post(
    "/workflows/{workflow_id}/execute",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExecuteResponse,
)
def execute_workflow(
    workflow_id: str,
    body: ExecuteRequest,
    caller: CallerDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> ExecuteResponse:
    """Compile the workflow's current revision (once), start its state machine, answer 202."""
    caller.ensure_same_user(body.user_id)
    return _execute(services, caller.user_id, workflow_id, body, idempotency_key)


@router.post(
    "/workflow/execute", status_code=status.HTTP_202_ACCEPTED, response_model=ExecuteResponse
)
def execute_gateway_form(
    body: GatewayExecuteRequest,
    caller: CallerDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> ExecuteResponse:
    """The seed gateway's form of execute: `{workflow_id, trigger_data}`."""
    caller.ensure_same_user(body.user_id)
    return _execute(services, caller.user_id, body.workflow_id, body, idempotency_key)
