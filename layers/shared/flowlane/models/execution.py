"""Executions and node runs (CONTRACT.md sections 4 and 5): what a run looks like to a client.

A dry run (`POST /workflows/{id}/test`) answers with the same shape as a stored execution.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


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
    node_runs: list[NodeRun] = Field(default_factory=list)


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
