"""The agent's routes (CONTRACT.md section 5, "Agent"): sessions, generation, refinement, queries
and their streams. Request shapes follow the seeds (`WorkflowGenerationRequest`, `QueryRequest`,
`SessionCreateRequest`, ...); responses add what a client needs to follow up."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, JsonValue, field_validator, model_validator

from flowlane.models.workflow import WorkflowCreate, WorkflowData

MAX_MESSAGE_CHARS = 8_000


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


# -- sessions ----------------------------------------------------------------------------------


class SessionAction(StrEnum):
    CREATE = "create"
    EDIT = "edit"


class SessionCreate(BaseModel):
    action: Annotated[
        SessionAction, Field(description="create: a new workflow; edit: refine workflow_id")
    ] = SessionAction.CREATE
    workflow_id: Annotated[
        str | None, Field(description="The workflow an edit session refines")
    ] = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None

    @model_validator(mode="after")
    def _edit_names_a_workflow(self) -> SessionCreate:
        if self.action is SessionAction.EDIT and not self.workflow_id:
            raise ValueError("an edit session needs the workflow_id it edits")
        return self


class SessionCreated(BaseModel):
    session_id: str
    created_at: Annotated[str, Field(description="ISO-8601 UTC")]
    action: SessionAction
    workflow_id: str | None = None
    expires_at: Annotated[str, Field(description="ISO-8601 UTC; each use extends it")]


class SessionMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    at: Annotated[str, Field(description="ISO-8601 UTC")]


class GenerationStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    COMPLETE = "complete"
    ERROR = "error"


class SessionPublic(BaseModel):
    session_id: str
    action: SessionAction
    workflow_id: Annotated[str | None, Field(description="The session's workflow, once drafted")]
    status: Annotated[GenerationStatus, Field(description="Of the session's latest generation")]
    created_at: str
    updated_at: str
    expires_at: str
    messages: list[SessionMessage]
    message_count: int
    last_event_id: Annotated[int, Field(description="Sequence of the last generation event")] = 0


# -- generation and refinement (the seed's WorkflowAgent RPCs) ---------------------------------


class GenerateRequest(BaseModel):
    description: Annotated[
        str,
        Field(
            max_length=MAX_MESSAGE_CHARS,
            description="The automation in plain words",
            examples=[
                "every weekday at 9 fetch our open GitHub issues, summarise them with AI and "
                "post the summary to Slack"
            ],
        ),
    ]
    context: Annotated[dict[str, JsonValue], Field(description="Extra facts, e.g. a repo")] = Field(
        default_factory=dict
    )
    user_preferences: Annotated[
        dict[str, JsonValue], Field(description="e.g. {timezone: Europe/Paris, channel: #ops}")
    ] = Field(default_factory=dict)
    session_id: Annotated[str | None, Field(description="Record it in this session")] = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None

    _description = field_validator("description")(_not_blank)


class GenerateResponse(BaseModel):
    success: bool
    workflow: Annotated[
        WorkflowData | None, Field(description="The saved workflow, when it validated")
    ] = None
    draft: Annotated[
        WorkflowCreate | None,
        Field(description="When it did not validate: the last draft, unsaved, to inspect"),
    ] = None
    suggestions: list[str] = Field(default_factory=list)
    missing_info: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    confidence_score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    provider: Annotated[str, Field(description="openai, anthropic or offline")] = "offline"
    model_calls: Annotated[int, Field(description="LLM calls made (0 offline)")] = 0
    repair_rounds: int = 0


class RefineRequest(BaseModel):
    feedback: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
    original_workflow: Annotated[
        WorkflowCreate | None,
        Field(description="Seed field: refine this document instead of the stored one"),
    ] = None
    workflow_id: Annotated[str | None, Field(description="Seed field; must equal the path")] = None
    session_id: str | None = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None

    _feedback = field_validator("feedback")(_not_blank)


class RefineResponse(BaseModel):
    success: bool
    updated_workflow: Annotated[
        WorkflowData | None, Field(description="The saved result (a new revision)")
    ] = None
    draft: WorkflowCreate | None = None
    changes: Annotated[list[str], Field(description="What changed, in plain words")] = Field(
        default_factory=list
    )
    errors: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    missing_info: list[str] = Field(default_factory=list)


# -- streams -----------------------------------------------------------------------------------

GenerationEventType = Literal["waiting", "start", "draft", "debugging", "complete", "error"]


class GenerationEvent(BaseModel):
    """One SSE event of `GET /workflow_generation` (its `id:` is `seq`)."""

    type: GenerationEventType
    workflow_id: str | None = None
    data: dict[str, Any] | None = None


class ChatEvent(BaseModel):
    """One SSE event of `GET /chat/stream`."""

    type: Literal["message", "done"]
    content: str = ""
    data: dict[str, Any] | None = None


# -- queries -----------------------------------------------------------------------------------


class QueryRequest(BaseModel):
    message: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
    session_id: str
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None

    _message = field_validator("message")(_not_blank)


class QueryResponse(BaseModel):
    session_id: str
    message: Annotated[str, Field(description="The agent's answer")]
    status: Literal["success", "error"]
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


class QueryStreamChunk(BaseModel):
    type: Literal["tool_call", "tool_result", "text", "complete", "error"]
    data: dict[str, Any]


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class TaskAccepted(BaseModel):
    task_id: str
    status: TaskStatus
    session_id: str


class TaskPublic(BaseModel):
    task_id: str
    status: TaskStatus
    session_id: str
    result: Annotated[
        QueryResponse | None, Field(description="The answer, once the task has succeeded")
    ] = None
    error: dict[str, Any] | None = None
    created_at: str
    updated_at: str
