"""What the offline planner understood from a request, before any node is chosen.

`Understanding` is the planner's reading of plain words: the trigger, the ordered steps (with
conditions, loops and their branches), the services named, what is missing and what was
assumed. `compose` turns it into a `Draft`; the agent also uses it alone, as the "understand the
request" step before a model drafts, so it carries no node ids or expressions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from flowlane.nodes.conditions import Operator


class TriggerKind(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"


class TriggerSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: TriggerKind = TriggerKind.MANUAL
    expression: Annotated[
        str | None, Field(description="EventBridge Scheduler expression (SCHEDULE)")
    ] = None
    timezone: Annotated[str | None, Field(description="IANA time zone (SCHEDULE)")] = None
    path: Annotated[str | None, Field(description="Webhook path (WEBHOOK)")] = None
    method: str = "POST"
    source: Annotated[
        str | None, Field(description="Where the event comes from: a service key, 'form', ...")
    ] = None
    words: Annotated[str, Field(description="The words the trigger was read from")] = ""
    label: Annotated[str, Field(description="A short name for people, e.g. Every weekday at 9")] = (
        "Run now"
    )


class StepKind(StrEnum):
    FETCH = "fetch"  # HTTP GET of a URL or API (RSS, weather, a website...)
    GITHUB_LIST_ISSUES = "github_list_issues"
    GITHUB_CREATE_ISSUE = "github_create_issue"
    GITHUB_ADD_COMMENT = "github_add_comment"
    AI_SUMMARISE = "ai_summarise"
    AI_CLASSIFY = "ai_classify"
    AI_EXTRACT = "ai_extract"
    AI_TRANSLATE = "ai_translate"
    AI_GENERATE = "ai_generate"
    CONDITION = "condition"
    LOOP = "loop"
    APPROVAL = "approval"
    REMEMBER = "remember"  # keep a value across runs (MEMORY/KEY_VALUE append)
    DEDUPE = "dedupe"  # only items not seen in an earlier run (recall, keep new, remember)
    SLACK = "slack"
    EMAIL = "email"
    WEBHOOK_OUT = "webhook_out"  # POST to a URL the request gives
    WAIT = "wait"
    SERVICE = "service"  # a service with no node of its own: ACTION/HTTP_REQUEST


AI_KINDS = frozenset(
    {
        StepKind.AI_SUMMARISE,
        StepKind.AI_CLASSIFY,
        StepKind.AI_EXTRACT,
        StepKind.AI_TRANSLATE,
        StepKind.AI_GENERATE,
    }
)
OUTPUT_KINDS = frozenset(
    {
        StepKind.SLACK,
        StepKind.EMAIL,
        StepKind.WEBHOOK_OUT,
        StepKind.GITHUB_CREATE_ISSUE,
        StepKind.GITHUB_ADD_COMMENT,
    }
)
SOURCE_KINDS = frozenset({StepKind.FETCH, StepKind.GITHUB_LIST_ISSUES})

# The planner writes a subset of the operators the condition nodes accept.


class ConditionSpec(BaseModel):
    """A test in words and in parts; `compose` writes the expression of `subject`."""

    model_config = ConfigDict(frozen=True)

    words: str
    subject: Annotated[
        Literal["count", "field", "text", "status", "label"],
        Field(
            description="count: how many items; field: a field of the data; text: the data as "
            "text; status: an HTTP status code; label: an AI classification's label"
        ),
    ]
    field: Annotated[str | None, Field(description="The field name, for subject=field")] = None
    op: Operator
    value: JsonValue = None


class Step(BaseModel):
    """One thing the request asks for, in the order it runs."""

    kind: StepKind
    words: Annotated[str, Field(description="The words the step was read from")] = ""
    service: Annotated[str | None, Field(description="Service key (services.SERVICES)")] = None
    write: Annotated[bool, Field(description="SERVICE: sends data (else reads)")] = False
    url: str | None = None
    params: dict[str, JsonValue] = Field(default_factory=dict)
    condition: ConditionSpec | None = None
    then: list[Step] = Field(default_factory=list)
    otherwise: list[Step] = Field(default_factory=list)
    body: Annotated[list[Step], Field(description="LOOP: the steps run once per item")] = Field(
        default_factory=list
    )
    gate: Annotated[
        bool,
        Field(
            description="CONDITION: both branches go on to the rest of the flow (the condition "
            "only adds a step, e.g. an approval first); else the branches end there"
        ),
    ] = False


class Understanding(BaseModel):
    """The planner's reading of a request (see the module doc)."""

    description: str
    title: str
    trigger: TriggerSpec = Field(default_factory=TriggerSpec)
    steps: list[Step] = Field(default_factory=list)
    services: Annotated[list[str], Field(description="Services named, by display name")] = Field(
        default_factory=list
    )
    missing_info: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    keywords: Annotated[list[str], Field(description="Words to search the node catalogue with")] = (
        Field(default_factory=list)
    )
    preferences: dict[str, str] = Field(default_factory=dict)

    def walk(self) -> list[Step]:
        """Every step, branches and loop bodies included, in reading order."""
        found: list[Step] = []

        def visit(steps: list[Step]) -> None:
            for step in steps:
                found.append(step)
                visit(step.then)
                visit(step.otherwise)
                visit(step.body)

        visit(self.steps)
        return found
