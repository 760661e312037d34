"""The schedule-start state machine and its one Task (CONTRACT.md section 6).

EventBridge Scheduler starts this machine directly at each due time, with
`{owner, trigger_id, scheduled_time, schedule_arn}`. Its Task (the `schedule-start` function)
fires the trigger: it records the execution and its trigger's run, then starts the deployed
workflow's own machine, exactly as an API call would. The scheduled time is the idempotency key,
so when Scheduler delivers one occurrence twice (it is at-least-once) one execution starts.

A Task rather than Scheduler starting the workflow's machine itself: Scheduler's input is fixed
but for a few placeholders, so it cannot name an execution record that does not exist yet, and
the first node reads that record.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from flowlane.errors import FlowlaneError, NotFound, UpstreamError
from flowlane.observability import logger

# Errors worth another try from the machine's Retry: a dependency failed, the request did not
# take effect. A refusal (inactive workflow, invalid revision) is logged and final.
RETRYABLE_ERRORS = ["StartFailed", "Lambda.ServiceException", "Lambda.TooManyRequestsException"]


def definition(function_arn: str) -> dict[str, Any]:
    """The ASL (JSONPath, like every machine Flowlane runs)."""
    return {
        "Comment": "Flowlane: start a scheduled run (EventBridge Scheduler targets this machine)",
        "StartAt": "Fire",
        "States": {
            "Fire": {
                "Type": "Task",
                "Resource": function_arn,
                "Parameters": {"schedule.$": "$"},
                "TimeoutSeconds": 120,
                "Retry": [
                    {
                        "ErrorEquals": RETRYABLE_ERRORS,
                        "IntervalSeconds": 2,
                        "MaxAttempts": 4,
                        "BackoffRate": 2.0,
                        "JitterStrategy": "FULL",
                    }
                ],
                "End": True,
            }
        },
    }


class ScheduledFiring(BaseModel):
    model_config = ConfigDict(extra="ignore")

    owner: str
    trigger_id: str
    scheduled_time: str
    schedule_arn: str | None = None
    # Added by `flowlane dev` when it fires an occurrence missed while it was down.
    catch_up: bool = False
    missed_occurrences: int | None = None


class StartFailed(Exception):
    """A dependency failed while starting: raised to the machine, whose Retry matches it by
    this class name."""


def fire_scheduled(services: Any, raw: dict[str, Any]) -> dict[str, Any]:
    """Fire one scheduled occurrence; what happened, for the Step Functions history."""
    from flowlane.runtime.triggers import TriggerService

    firing = ScheduledFiring.model_validate(raw.get("schedule", raw))
    try:
        trigger = services.triggers.get(firing.owner, firing.trigger_id)
    except NotFound:
        # Deleted after Scheduler read its schedule: nothing to run.
        logger.info("schedule fired for a deleted trigger", extra={"trigger": firing.trigger_id})
        return {"started": False, "reason": "trigger not found"}
    data: dict[str, Any] = {"scheduled_time": firing.scheduled_time}
    if firing.catch_up:
        data["catch_up"] = True
    try:
        execution = TriggerService(services).fire(
            firing.owner,
            trigger,
            data,
            idempotency_key=f"schedule:{firing.trigger_id}:{firing.scheduled_time}",
            scheduled_time=firing.scheduled_time,
            catch_up=firing.catch_up,
            missed=firing.missed_occurrences,
        )
    except UpstreamError as exc:
        raise StartFailed(exc.message) from exc
    except FlowlaneError as exc:
        # Logged in the trigger's event log by `fire`; another try would be refused the same.
        return {"started": False, "reason": exc.message, "code": exc.code}
    return {"started": True, "execution_id": execution.execution_id}
