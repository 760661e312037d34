"""Executions, node runs and approvals (CONTRACT.md sections 4 and 5): what a client sees.

A dry run (`POST /workflows/{id}/test`) answers with the same shape as a stored execution.
Storage-only fields (keys, task tokens, Step Functions ARNs) live in `flowlane.store`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


FINAL_EXECUTION_STATUSES = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMED_OUT,
    }
)


class NodeRunStatus(StrEnum):
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class NodeRunError(BaseModel):
    code: str
    message: str
    node_id: str
    details: dict[str, JsonValue] | None = None


class NodeRun(BaseModel):
    model_config = ConfigDict(extra="ignore")

    node_id: str
    status: NodeRunStatus
    input: Any = None
    output: Any = None
    error: NodeRunError | None = None
    attempts: Annotated[int, Field(ge=0)] = 0
    port: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    # The item indexes of the LOOPs around the node, outermost first; empty outside loops.
    iteration: list[int] = Field(default_factory=list)
    # Set when the node did not run its logic: disabled (input passed through) or pinned.
    disabled: bool = False
    pinned: bool = False


class TriggerInfo(BaseModel):
    node_id: str | None = None
    type: Annotated[str, Field(description="manual, webhook, schedule, test")] = "manual"


class ExecutionRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    execution_id: str
    workflow_id: str
    status: ExecutionStatus
    mode: Annotated[str, Field(description="test (dry run) or live")] = "live"
    trigger: TriggerInfo = Field(default_factory=TriggerInfo)
    input: Any = None
    output: Any = None
    error: NodeRunError | None = None
    started_at: str | None = None
    ended_at: str | None = None
    revision: Annotated[
        int | None, Field(description="The workflow revision the execution runs (pinned)")
    ] = None
    session_id: Annotated[
        str | None, Field(description="The agent session that started it, if any")
    ] = None
    node_runs: list[NodeRun] = Field(default_factory=list)


class ExecutionSummary(BaseModel):
    """One execution in a list: no input, output or node runs (read them with GET)."""

    execution_id: str
    workflow_id: str
    status: ExecutionStatus
    trigger: TriggerInfo = Field(default_factory=TriggerInfo)
    started_at: str
    ended_at: str | None = None
    mode: Annotated[str, Field(description="test (dry run) or live")] = "live"


class ExecutionListResponse(BaseModel):
    executions: list[ExecutionSummary]
    total_count: Annotated[int, Field(description="Executions matching the filters")]
    page: Annotated[
        int,
        Field(
            description=(
                "1-based number of this page: 1 without a cursor, and one more than the page "
                "whose next_cursor was sent (the cursor carries it)"
            )
        ),
    ] = 1
    page_size: Annotated[int, Field(description="The limit asked for")]
    has_more: bool
    next_cursor: Annotated[
        str | None, Field(description="Send as `cursor` for the next page; absent on the last")
    ] = None


class CancelResponse(BaseModel):
    execution_id: str
    status: ExecutionStatus
    success: bool = True
    message: str = ""


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


Decision = Literal["approved", "rejected"]


class ApprovalPublic(BaseModel):
    """A person's decision awaited by an APPROVAL node (the task token is never shown)."""

    model_config = ConfigDict(extra="ignore")

    approval_id: str
    execution_id: str
    workflow_id: str
    node_id: str
    iteration: list[int] = Field(default_factory=list)
    status: ApprovalStatus = ApprovalStatus.PENDING
    message: str = ""
    timeout_seconds: Annotated[int, Field(ge=0)] = 86_400
    created_at: str
    expires_at: Annotated[str, Field(description="created_at + timeout_seconds")]
    decision: Decision | None = None
    comment: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    sent: Annotated[
        bool, Field(description="The decision reached Step Functions (SendTaskSuccess done)")
    ] = False


class ApprovalListResponse(BaseModel):
    approvals: list[ApprovalPublic]
    total_count: int
    has_more: bool
    next_cursor: str | None = None


_DECISIONS = {
    "approve": "approved",
    "approved": "approved",
    "reject": "rejected",
    "rejected": "rejected",
}


class ApprovalDecisionRequest(BaseModel):
    """`POST /approvals/{id}`: `approve` or `reject` (the seed's words; `approved` and
    `rejected` are accepted too). Stored as `approved` / `rejected`."""

    model_config = ConfigDict(extra="ignore")

    decision: Annotated[Decision, Field(description="approve | reject (or approved | rejected)")]
    comment: Annotated[str | None, Field(max_length=4_000)] = None

    @field_validator("decision", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        if isinstance(value, str):
            normalised = _DECISIONS.get(value.strip().lower())
            if normalised is None:
                raise ValueError("decision must be 'approve' or 'reject'")
            return normalised
        return value


class ApprovalDecisionResponse(BaseModel):
    approval: ApprovalPublic
    success: bool = True
    message: str = ""


class TestRunRequest(BaseModel):
    """`POST /workflows/{id}/test`: a dry run without Step Functions."""

    __test__ = False  # not a pytest test class, despite the name

    model_config = ConfigDict(extra="ignore")

    trigger_data: JsonValue = Field(default_factory=dict)
    pin_data: Annotated[
        dict[str, JsonValue] | None,
        Field(description="node id -> output used instead of running the node"),
    ] = None
    trigger_node: Annotated[
        str | None, Field(description="Which trigger starts the run (default: the first MANUAL)")
    ] = None
