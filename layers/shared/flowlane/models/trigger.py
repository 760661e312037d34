"""Triggers and their event log (CONTRACT.md sections 5 and 6): what a client sends and sees.

A trigger starts runs of one workflow: `manual` (fired through the API), `webhook` (a public
path, optionally signed) or `schedule` (an EventBridge Scheduler schedule). Storage-only fields
(the webhook secret, the schedule's ARN) live in `flowlane.store.triggers`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, JsonValue, field_validator

# A webhook path: letters, digits and `_-/.`, not starting with a separator.
WEBHOOK_PATH = r"^[A-Za-z0-9][A-Za-z0-9_\-/.]{0,199}$"
WebhookMethod = Literal["POST", "GET", "PUT", "PATCH", "DELETE"]


class TriggerType(StrEnum):
    MANUAL = "manual"
    WEBHOOK = "webhook"
    SCHEDULE = "schedule"


class ManualConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Annotated[
        str | None,
        Field(pattern=WEBHOOK_PATH, description="Under /api/v1/webhooks/; generated when unset"),
    ] = None
    method: WebhookMethod = "POST"
    response_mode: Literal["immediate", "last_node"] = "immediate"
    require_signature: Annotated[
        bool,
        Field(description="Give the trigger a secret; calls must carry X-Flowlane-Signature"),
    ] = True

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path", mode="before")
    @classmethod
    def _bare(cls, value: object) -> object:
        return bare_path(value)


def bare_path(value: object) -> object:
    """`/orders/new/` and `orders/new` name the same webhook: keep the bare form."""
    return value.strip().strip("/") if isinstance(value, str) else value


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: Annotated[
        str, Field(description="cron(m h dom mon dow y), rate(N unit) or at(yyyy-mm-ddThh:mm:ss)")
    ]
    timezone: Annotated[str | None, Field(description="IANA time zone; UTC when unset")] = None


TriggerConfig = ManualConfig | WebhookConfig | ScheduleConfig
CONFIG_MODELS: dict[TriggerType, type[BaseModel]] = {
    TriggerType.MANUAL: ManualConfig,
    TriggerType.WEBHOOK: WebhookConfig,
    TriggerType.SCHEDULE: ScheduleConfig,
}


class TriggerCreate(BaseModel):
    """`POST /triggers`, and each entry of a deployment request's `triggers`."""

    model_config = ConfigDict(extra="ignore")

    workflow_id: str | None = None  # given by the route for deployment requests
    type: TriggerType
    config: dict[str, JsonValue] = Field(default_factory=dict)
    node_id: Annotated[
        str | None,
        Field(description="The TRIGGER node runs start from; by default one of the same subtype"),
    ] = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None

    @field_validator("type", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class TriggerPublic(BaseModel):
    trigger_id: str
    workflow_id: str
    type: TriggerType
    config: dict[str, Any]
    node_id: str | None = None
    deployment_id: str | None = None
    has_secret: bool = False
    webhook_path: str | None = None
    created_at: str
    next_runs: Annotated[
        list[str] | None, Field(description="A schedule's next firings (UTC), up to three")
    ] = None


class TriggerCreated(BaseModel):
    """The answer to creating a trigger: its secret is shown here and never again."""

    trigger: TriggerPublic
    webhook_url: str | None = None
    secret: str | None = None


class TriggerEventStatus(StrEnum):
    STARTED = "started"  # an execution was started; `outcome` follows it
    FAILED = "failed"  # no execution: the start was refused or failed
    SKIPPED = "skipped"  # the workflow was not active


class TriggerEvent(BaseModel):
    event_id: str
    trigger_id: str
    fired_at: str
    status: TriggerEventStatus
    execution_id: str | None = None
    outcome: Annotated[
        str | None,
        Field(description="The execution's status now (RUNNING, SUCCEEDED, ...), or the failure"),
    ] = None
    error: dict[str, JsonValue] | None = None
    source_ip: str | None = None
    scheduled_time: str | None = None
    catch_up: bool = False
    missed_occurrences: int | None = None


class FireRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # `trigger_data` as execute calls it is accepted too.
    data: JsonValue = Field(
        default_factory=dict, validation_alias=AliasChoices("data", "trigger_data")
    )


class FireResponse(BaseModel):
    execution_id: str
    status: str = "running"


class TriggerListResponse(BaseModel):
    triggers: list[TriggerPublic]
    total_count: int
    has_more: bool = False


class TriggerEventListResponse(BaseModel):
    events: list[TriggerEvent]
    has_more: bool
    next_cursor: str | None = None


def parse_config(kind: TriggerType, raw: dict[str, Any]) -> BaseModel:
    """The typed config of a trigger type (raises pydantic's ValidationError)."""
    return CONFIG_MODELS[kind].model_validate(raw)
