"""The workflow document (CONTRACT.md section 2; seed `shared/models/workflow.py`).

Model families, after the full-stack FastAPI template: `WorkflowData` is the document as stored
and served; `WorkflowCreate` and `WorkflowUpdate` are what clients send. Storage-only fields
(keys, S3 references) live in `flowlane.store`, never here.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

WORKFLOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_NODE_SUFFIX = "_NODE"


class NodeType(StrEnum):
    TRIGGER = "TRIGGER"
    AI_AGENT = "AI_AGENT"
    ACTION = "ACTION"
    EXTERNAL_ACTION = "EXTERNAL_ACTION"
    FLOW = "FLOW"
    HUMAN_IN_THE_LOOP = "HUMAN_IN_THE_LOOP"
    TOOL = "TOOL"
    MEMORY = "MEMORY"


def normalise_node_type(value: object) -> object:
    """Accept `TRIGGER_NODE`, `trigger` and `TRIGGER` alike; name the valid types otherwise."""
    if not isinstance(value, str):
        return value
    name = value.strip().upper()
    if name.endswith(_NODE_SUFFIX):
        name = name[: -len(_NODE_SUFFIX)]
    if name not in NodeType.__members__:
        valid = ", ".join(NodeType.__members__)
        raise ValueError(f"unknown node type {value!r}; valid types: {valid}")
    return name


class PositionData(BaseModel):
    x: float = 0
    y: float = 0


class RetryPolicyData(BaseModel):
    max_tries: Annotated[int, Field(ge=1, le=10, description="Counts the first try")] = 3
    wait_between_tries: Annotated[int, Field(ge=1, le=300, description="Seconds")] = 5


class NodeData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(max_length=255, description="Defaults to the id")] = ""
    type: Annotated[NodeType, Field(description="The node family; `_NODE` suffix accepted")]
    subtype: Annotated[str | None, Field(max_length=64)] = None
    type_version: int = 1
    position: PositionData = Field(default_factory=PositionData)
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    credentials: Annotated[
        dict[str, str], Field(description="Names of stored credentials, never secret values")
    ] = Field(default_factory=dict)
    disabled: bool = False
    # The seed's default. The workflow's settings.error_policy "stop" applies on top: the
    # stricter of the two wins (flowlane.engine.interpreter.effective_on_error).
    on_error: Literal["continue", "stop"] = "continue"
    retry_policy: RetryPolicyData | None = None
    notes: dict[str, JsonValue] = Field(default_factory=dict)
    webhooks: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("node id must not be blank")
        if any(ord(c) < 32 for c in value):
            raise ValueError("node id must not contain control characters")
        return value

    @field_validator("type", mode="before")
    @classmethod
    def _normalise_type(cls, value: object) -> object:
        return normalise_node_type(value)

    @field_validator("subtype", mode="before")
    @classmethod
    def _normalise_subtype(cls, value: object) -> object:
        return value.strip().upper() or None if isinstance(value, str) else value

    @field_validator("notes", mode="before")
    @classmethod
    def _notes_from_text(cls, value: object) -> object:
        # n8n and hand-written documents often carry a plain-text note.
        return {"text": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _default_name(self) -> NodeData:
        if not self.name.strip():
            self.name = self.id
        return self


class ConnectionData(BaseModel):
    node: Annotated[str, Field(min_length=1, description="Target node id")]
    type: Annotated[str, Field(description="Input kind: main, ai_tool, ai_memory, ai_model")] = (
        "main"
    )
    index: Annotated[int, Field(ge=0, description="Orders the inputs of a MERGE node")] = 0


class ConnectionArrayData(BaseModel):
    connections: list[ConnectionData] = Field(default_factory=list)


class NodeConnectionsData(BaseModel):
    connection_types: Annotated[
        dict[str, ConnectionArrayData], Field(description="Output port -> connections")
    ] = Field(default_factory=dict)


class ConnectionsMapData(BaseModel):
    connections: Annotated[
        dict[str, NodeConnectionsData], Field(description="Source node id -> its output ports")
    ] = Field(default_factory=dict)


class WorkflowSettingsData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    timezone: Annotated[str, Field(description="IANA time zone, e.g. Europe/Paris")] = "UTC"
    save_execution_progress: bool = True
    save_manual_executions: bool = True
    timeout: Annotated[int, Field(ge=60, le=86400, description="Seconds")] = 3600
    error_policy: Literal["continue", "stop"] = "continue"
    caller_policy: Literal["workflow", "user"] = "workflow"

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: object) -> object:
        # The seed typed this as a dict; accept {"timezone": "..."} / {"name": "..."} / {}.
        if isinstance(value, dict):
            value = value.get("timezone") or value.get("name") or "UTC"
        if isinstance(value, str):
            value = value.strip() or "UTC"
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def _strip_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("name must not be blank")
    return value


def _check_nodes(nodes: list[NodeData]) -> list[NodeData]:
    if not nodes:
        raise ValueError("a workflow needs at least one node")
    seen: set[str] = set()
    duplicates: list[str] = []
    for node in nodes:
        if node.id in seen:
            duplicates.append(node.id)
        seen.add(node.id)
    if duplicates:
        raise ValueError(f"node ids must be unique; repeated: {', '.join(sorted(set(duplicates)))}")
    return nodes


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return cleaned


Name = Annotated[str, Field(min_length=1, max_length=255)]
Description = Annotated[str | None, Field(max_length=1000)]
Tag = Annotated[str, Field(max_length=64)]


class _WorkflowBody(BaseModel):
    """Fields a client writes; shared by the document and the create request."""

    model_config = ConfigDict(extra="ignore")

    name: Name
    description: Description = None
    nodes: list[NodeData]
    connections: ConnectionsMapData = Field(default_factory=ConnectionsMapData)
    settings: WorkflowSettingsData = Field(default_factory=WorkflowSettingsData)
    static_data: dict[str, JsonValue] = Field(default_factory=dict)
    pin_data: Annotated[
        dict[str, JsonValue], Field(description="Node id -> output used instead of running it")
    ] = Field(default_factory=dict)
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    active: bool = True
    version: Annotated[str, Field(description="Document schema version")] = "1.0"

    _name = field_validator("name")(_strip_name)
    _nodes = field_validator("nodes")(_check_nodes)
    _tags = field_validator("tags")(_clean_tags)

    @field_validator("connections", mode="before")
    @classmethod
    def _connections_default(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_default(cls, value: object) -> object:
        return {} if value is None else value


class WorkflowData(_WorkflowBody):
    """The workflow document as stored and served."""

    id: Annotated[str, Field(pattern=WORKFLOW_ID_PATTERN)]
    created_at: Annotated[int, Field(description="Epoch milliseconds")]
    updated_at: Annotated[int, Field(description="Epoch milliseconds")]
    revision: Annotated[
        int, Field(ge=1, description="Increases by one on every saved change; the ETag")
    ] = 1


class WorkflowCreate(_WorkflowBody):
    """POST /workflows. `id` is optional: a client may choose one (n8n-style import)."""

    id: Annotated[str | None, Field(pattern=WORKFLOW_ID_PATTERN)] = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None
    session_id: str | None = None


class WorkflowUpdate(BaseModel):
    """PUT /workflows/{id}: every field optional; what is given replaces what was there."""

    model_config = ConfigDict(extra="ignore")

    workflow_id: Annotated[str | None, Field(description="Seed field; must equal the path")] = None
    name: Name | None = None
    description: Description = None
    nodes: list[NodeData] | None = None
    connections: ConnectionsMapData | None = None
    settings: WorkflowSettingsData | None = None
    static_data: dict[str, JsonValue] | None = None
    pin_data: dict[str, JsonValue] | None = None
    tags: Annotated[list[Tag] | None, Field(max_length=50)] = None
    active: bool | None = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None
    session_id: str | None = None

    _name = field_validator("name")(lambda v: None if v is None else _strip_name(v))
    _nodes = field_validator("nodes")(lambda v: None if v is None else _check_nodes(v))
    _tags = field_validator("tags")(lambda v: None if v is None else _clean_tags(v))

    def changes(self) -> dict[str, Any]:
        """The document fields this request sets (seed-only fields excluded)."""
        return self.model_dump(exclude_unset=True, exclude={"workflow_id", "user_id", "session_id"})


class WorkflowResponse(BaseModel):
    workflow: WorkflowData
    success: bool = True
    message: str = ""


class WorkflowGetResponse(BaseModel):
    workflow: WorkflowData | None = None
    found: bool
    message: str = ""


class WorkflowListResponse(BaseModel):
    workflows: list[WorkflowData]
    total_count: int
    has_more: bool
    next_cursor: str | None = None


# The seed's names (shared/models/workflow.py), for code and clients ported from it.
CreateWorkflowRequest = WorkflowCreate
UpdateWorkflowRequest = WorkflowUpdate
CreateWorkflowResponse = WorkflowResponse
UpdateWorkflowResponse = WorkflowResponse
GetWorkflowResponse = WorkflowGetResponse
ListWorkflowsResponse = WorkflowListResponse


def parse_revision(value: str) -> int:
    """An `If-Match` value: `3`, `"3"` or `W/"3"`."""
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,18})"?\s*', value)
    if not match:
        raise ValueError("If-Match must be a workflow revision number, e.g. If-Match: 3")
    return int(match.group(1))
