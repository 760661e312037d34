"""Schedule triggers as EventBridge Scheduler schedules (CONTRACT.md section 6).

One schedule per trigger, named after it, in the stage's group (`flowlane-<stage>`), with the
trigger's expression and time zone and flexible windows off. Its target is the schedule-start
state machine (`flowlane.runtime.schedule_start`), started directly by Scheduler with the
owner, the trigger and `<aws.scheduler.scheduled-time>`: that machine's one Task records the
execution and starts the deployed workflow's machine, so each firing is recorded like any other
run, and a repeated delivery of one due time starts one execution (the scheduled time is the
idempotency key). `flowlane dev` fires these same schedules itself (moto never does).
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from flowlane.config import RuntimeSettings, execution_settings
from flowlane.errors import FlowlaneError, UpstreamError
from flowlane.observability import logger

SCHEDULE_START_NAME = "schedule-start"
EMBEDDED_SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/flowlane-embedded-scheduler"


class SchedulesNotConfigured(FlowlaneError):
    code = "INTERNAL_ERROR"
    status = 500


def starter_arn(services: Any) -> str:
    """The schedule-start state machine: from settings on AWS, derived when embedded."""
    settings: RuntimeSettings = services.runtime
    if settings.schedule_starter_arn:
        return settings.schedule_starter_arn
    if services.aws.runtime != "embedded":
        raise SchedulesNotConfigured(
            "FLOWLANE_SCHEDULE_STARTER_ARN is not set: the deployment must name the "
            "schedule-start state machine"
        )
    from flowlane.runtime.launcher import EMBEDDED_ACCOUNT

    prefix = execution_settings().state_machine_prefix
    return (
        f"arn:aws:states:{services.aws.region}:{EMBEDDED_ACCOUNT}:stateMachine:"
        f"{prefix}{SCHEDULE_START_NAME}"
    )


class ScheduleGateway:
    def __init__(self, services: Any) -> None:
        self.services = services
        self.settings: RuntimeSettings = services.runtime

    @property
    def group(self) -> str:
        return self.settings.schedule_group

    def _client(self) -> Any:
        return self.services.clients.client("scheduler")

    def _role(self) -> str:
        if self.settings.scheduler_role_arn:
            return self.settings.scheduler_role_arn
        if self.services.aws.runtime != "embedded":
            raise SchedulesNotConfigured(
                "FLOWLANE_SCHEDULER_ROLE_ARN is not set: the deployment must name the role "
                "EventBridge Scheduler assumes"
            )
        return EMBEDDED_SCHEDULER_ROLE

    def put(
        self,
        owner: str,
        *,
        trigger_id: str,
        workflow_id: str,
        expression: str,
        timezone: str | None,
        enabled: bool,
    ) -> str:
        """Create the trigger's schedule, or replace it when it exists; its ARN."""
        request: dict[str, Any] = {
            "Name": trigger_id,
            "GroupName": self.group,
            "ScheduleExpression": expression.strip(),
            "ScheduleExpressionTimezone": timezone or "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED" if enabled else "DISABLED",
            "Description": f"Flowlane trigger {trigger_id} of workflow {workflow_id}",
            "Target": {
                "Arn": starter_arn(self.services),
                "RoleArn": self._role(),
                # Scheduler fills the placeholders in at each firing.
                "Input": json.dumps(
                    {
                        "owner": owner,
                        "trigger_id": trigger_id,
                        "scheduled_time": "<aws.scheduler.scheduled-time>",
                        "schedule_arn": "<aws.scheduler.schedule-arn>",
                    }
                ),
                # An occurrence Scheduler could not deliver for an hour is stale: drop it.
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 20},
            },
        }
        if expression.strip().startswith("at("):
            # A one-time schedule removes itself once it has fired.
            request["ActionAfterCompletion"] = "DELETE"
        client = self._client()
        try:
            # Schedules are rare writes: one look-up of the group each time is cheap, and moto
            # fails obscurely (a KeyError) on a schedule in a missing group.
            self._ensure_group(client)
            return self._create_or_update(client, request)
        except Exception as exc:
            raise _upstream(f"could not save the schedule of trigger {trigger_id}", exc) from exc

    @staticmethod
    def _create_or_update(client: Any, request: dict[str, Any]) -> str:
        try:
            response = client.create_schedule(**request)
        except client.exceptions.ConflictException:
            response = client.update_schedule(**request)
        return str(response["ScheduleArn"])

    def _ensure_group(self, client: Any) -> None:
        """The stage's group (the CDK app creates it on AWS; a new dev state folder has none)."""
        try:
            client.get_schedule_group(Name=self.group)
        except client.exceptions.ResourceNotFoundException:
            with suppress(client.exceptions.ConflictException):  # created meanwhile
                client.create_schedule_group(Name=self.group)

    def delete(self, trigger_id: str) -> None:
        """Remove the trigger's schedule; one already gone (an `at()` that fired) is fine."""
        client = self._client()
        try:
            client.delete_schedule(Name=trigger_id, GroupName=self.group)
        except client.exceptions.ResourceNotFoundException:
            logger.info("schedule already gone", extra={"trigger_id": trigger_id})
        except Exception as exc:
            raise _upstream(f"could not delete the schedule of trigger {trigger_id}", exc) from exc


def _upstream(message: str, exc: Exception) -> UpstreamError:
    return UpstreamError(f"{message}: {exc}", {"service": "scheduler"})
