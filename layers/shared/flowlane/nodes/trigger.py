"""TRIGGER nodes: MANUAL, WEBHOOK, SCHEDULE (CONTRACT.md sections 3 and 6).

A trigger's input is the trigger data the execution was started with; its output is that data in
the shape of its subtype. Which trigger starts a run is the executor's choice (the one that
fired, else the first MANUAL, else the first trigger).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from flowlane.engine.expressions import has_expression
from flowlane.models.trigger import WEBHOOK_PATH, bare_path
from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node, NodeContext, NodeParameters, NodeResult
from flowlane.nodes.registry import register


class ManualParameters(NodeParameters):
    pass


@register
class ManualTrigger(Node[ManualParameters]):
    type = NodeType.TRIGGER
    subtype = "MANUAL"
    title = "Manual trigger"
    description = "Start a run on demand (execute, test, a manual trigger); outputs the data given."
    parameters_model = ManualParameters
    pure = True

    def run(self, ctx: NodeContext, params: ManualParameters) -> NodeResult:
        return NodeResult(ctx.input if ctx.input is not None else {})


class WebhookParameters(NodeParameters):
    path: Annotated[str | None, Field(pattern=WEBHOOK_PATH, description="Under /webhooks/")] = None
    method: Literal["POST", "GET", "PUT", "PATCH", "DELETE"] = "POST"
    response_mode: Literal["immediate", "last_node"] = "immediate"

    @field_validator("path", mode="before")
    @classmethod
    def _bare(cls, value: object) -> object:
        return bare_path(value)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


REQUEST_KEYS = ("body", "headers", "query", "method")


@register
class WebhookTrigger(Node[WebhookParameters]):
    type = NodeType.TRIGGER
    subtype = "WEBHOOK"
    title = "Webhook"
    description = "Start a run when /api/v1/webhooks/{path} is called; outputs the request."
    parameters_model = WebhookParameters
    pure = True

    def run(self, ctx: NodeContext, params: WebhookParameters) -> NodeResult:
        data = ctx.input
        if isinstance(data, dict) and "body" in data and set(data) <= set(REQUEST_KEYS):
            request = dict(data)
        else:
            # A test or a manual run gives just the body: present it as the request would be.
            request = {"body": data if data is not None else {}}
        request.setdefault("headers", {})
        request.setdefault("query", {})
        request.setdefault("method", params.method)
        return NodeResult({k: request[k] for k in REQUEST_KEYS})


class ScheduleParameters(NodeParameters):
    expression: Annotated[
        str, Field(description="cron(m h dom mon dow y), rate(N unit) or at(yyyy-mm-ddThh:mm:ss)")
    ]
    timezone: Annotated[
        str | None, Field(description="IANA time zone; the workflow's if unset")
    ] = None

    @model_validator(mode="after")
    def _parses(self) -> ScheduleParameters:
        if has_expression(self.expression):
            raise ValueError("a schedule expression cannot hold {{ }} expressions")
        from flowlane.engine.schedule import parse_schedule

        parse_schedule(self.expression, self.timezone)
        return self


@register
class ScheduleTrigger(Node[ScheduleParameters]):
    type = NodeType.TRIGGER
    subtype = "SCHEDULE"
    title = "Schedule"
    description = "Start a run on an EventBridge Scheduler expression; outputs {scheduled_time}."
    parameters_model = ScheduleParameters
    pure = True

    def run(self, ctx: NodeContext, params: ScheduleParameters) -> NodeResult:
        data: Any = ctx.input if isinstance(ctx.input, dict) else {}
        scheduled = data.get("scheduled_time") or datetime.now(UTC).isoformat(timespec="seconds")
        return NodeResult({**data, "scheduled_time": scheduled})
