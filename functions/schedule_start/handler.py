"""Lambda entry of the schedule-start state machine's Task: fires one scheduled occurrence
(`flowlane.runtime.schedule_start` does the work; no FastAPI here)."""

from typing import Any

from flowlane.observability import lambda_entry
from flowlane.runtime.schedule_start import fire_scheduled
from flowlane.runtime.services import Services

# Built at cold start and reused while the container is warm; clients are created on first use.
_services = Services()


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return fire_scheduled(_services, event)
