"""What a workflow means: the node catalogue, validation and dry runs (CONTRACT.md section 5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from flowlane.api.deps import CallerDep, ServicesDep, WorkflowsDep
from flowlane.errors import ValidationFailed
from flowlane.models.execution import ExecutionRecord, TestRunRequest
from flowlane.models.node_template import NodeTemplateList
from flowlane.models.validation import ValidateRequest, ValidationReport
from flowlane.models.workflow import NodeType, normalise_node_type

router = APIRouter(prefix="/api/v1", tags=["engine"])


@router.get("/node-templates", response_model=NodeTemplateList)
def list_node_templates(
    _caller: CallerDep,
    type: Annotated[
        str | None, Query(description="Only this node type, e.g. ACTION or ACTION_NODE")
    ] = None,
) -> NodeTemplateList:
    from flowlane.nodes.templates import templates

    wanted: NodeType | None = None
    if type is not None:
        try:
            wanted = NodeType(str(normalise_node_type(type)))
        except ValueError as exc:
            raise ValidationFailed(
                str(exc), [{"loc": ["query", "type"], "msg": str(exc)}]
            ) from None
    found = templates(wanted)
    return NodeTemplateList(templates=found, total_count=len(found))


@router.post("/workflows/validate", response_model=ValidationReport)
def validate(body: ValidateRequest, caller: CallerDep) -> ValidationReport:
    """Check a workflow document without saving it: errors name the node and the field;
    a document that does not even parse gets a report of what is wrong, not a bare 400."""
    from flowlane.engine.validation import validate_document

    caller.ensure_same_user(body.user_id)
    return validate_document(body.document)


@router.post("/workflows/{workflow_id}/test", response_model=ExecutionRecord)
def test_workflow(
    workflow_id: str,
    body: TestRunRequest,
    caller: CallerDep,
    workflows: WorkflowsDep,
    services: ServicesDep,
) -> ExecutionRecord:
    """A synchronous dry run with the reference interpreter: no Step Functions, no waiting at
    WAIT nodes, approvals approved unless pinned. Refused with the list when the workflow has
    validation errors."""
    from flowlane.engine.interpreter import dry_run
    from flowlane.engine.validation import validate_workflow

    workflow = workflows.get(caller.user_id, workflow_id)
    validate_workflow(workflow).raise_if_invalid()
    if body.trigger_node is not None and body.trigger_node not in {
        n.id for n in workflow.nodes if n.type is NodeType.TRIGGER
    }:
        message = f"'{body.trigger_node}' is not a trigger of this workflow"
        raise ValidationFailed(message, [{"loc": ["body", "trigger_node"], "msg": message}])
    return dry_run(
        workflow,
        services.node_services,
        owner=caller.user_id,
        trigger_data=body.trigger_data,
        # The workflow's own pin_data, overridden node by node by the request's.
        pin_data={**workflow.pin_data, **(body.pin_data or {})},
        trigger_node=body.trigger_node,
    )


class AslStats(BaseModel):
    states: int
    estimated_transitions: Annotated[
        int, Field(description="State transitions on the costliest path, LOOP bodies once")
    ]
    bytes: int
    estimated_history_events: int
    machines: Annotated[int, Field(description="1, or the parts of a workflow split in several")]


class AslResponse(BaseModel):
    definition: dict[str, Any]
    stats: AslStats
    state_machine_name: str
    children: Annotated[
        list[dict[str, Any]], Field(description="Child machines ({name, definition}) when split")
    ] = Field(default_factory=list)


@router.get("/workflows/{workflow_id}/asl", response_model=AslResponse)
def workflow_asl(workflow_id: str, caller: CallerDep, services: ServicesDep) -> AslResponse:
    """The state machine definition the current revision compiles to, with its cost."""
    from flowlane.runtime.launcher import ExecutionLauncher

    workflow = services.workflows.get(caller.user_id, workflow_id)
    compiled = ExecutionLauncher(services).compile(caller.user_id, workflow)
    return AslResponse(
        definition=compiled.machine.definition,
        stats=AslStats(**compiled.stats),
        state_machine_name=compiled.machine.name,
        children=[{"name": c.name, "definition": c.definition} for c in compiled.children],
    )
