"""HUMAN_IN_THE_LOOP / APPROVAL: wait for a person's decision (CONTRACT.md sections 3 and 5).

On Step Functions the node is a `.waitForTaskToken` task: the node runner records a pending
approval and notifies; `POST /approvals/{id}` sends the decision back with the port. A dry run
cannot wait for a person: it approves at once, unless `pin_data` gives this node a decision
(`{"decision": "rejected"}`), so each branch can be tried.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node, NodeContext, NodeParameters, NodeResult
from flowlane.nodes.registry import register

DECISION_PORTS = {"approved": "approved", "rejected": "rejected", "timeout": "timeout"}


class Notify(BaseModel):
    model_config = ConfigDict(extra="ignore")

    channel: Literal["none", "slack", "email"] = "none"
    target: Annotated[str | None, Field(description="Slack channel or email address")] = None

    @model_validator(mode="after")
    def _target(self) -> Notify:
        if self.channel != "none" and not self.target:
            raise ValueError(f"notify by {self.channel} needs a 'target'")
        return self


class ApprovalParameters(NodeParameters):
    message: Annotated[str, Field(description="What the approver is asked")] = "Approve?"
    timeout_seconds: Annotated[int, Field(ge=60, le=31_536_000)] = 86_400
    notify: Notify = Field(default_factory=Notify)


def decision_output(
    decision: str, comment: str | None, decided_by: str | None, decided_at: str | None = None
) -> dict[str, Any]:
    return {
        "decision": decision,
        "comment": comment,
        "decided_by": decided_by,
        "decided_at": decided_at or datetime.now(UTC).isoformat(timespec="seconds"),
    }


def port_for(decision: str, has_timeout_branch: bool) -> str:
    """A timeout takes the `timeout` port, or `rejected` when there is no timeout branch."""
    if decision == "timeout" and not has_timeout_branch:
        return "rejected"
    return DECISION_PORTS[decision]


@register
class ApprovalNode(Node[ApprovalParameters]):
    type = NodeType.HUMAN_IN_THE_LOOP
    subtype = "APPROVAL"
    title = "Approval"
    description = (
        "Wait for a person to approve or reject (ports approved, rejected, timeout), "
        "optionally notifying them by Slack or email."
    )
    parameters_model = ApprovalParameters
    outputs = ("approved", "rejected", "timeout")
    failure_port = "rejected"
    pure = True

    def timeout_seconds(self, parameters: ApprovalParameters, settings: Any) -> float:
        return float(parameters.timeout_seconds)

    def run(self, ctx: NodeContext, params: ApprovalParameters) -> NodeResult:
        # Only a dry run gets here; the compiled machine waits for a task token instead.
        output = decision_output("approved", "approved automatically in a dry run", "dry-run")
        return NodeResult(output, "approved")
