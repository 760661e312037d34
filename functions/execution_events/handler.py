"""Lambda entry for EventBridge "Step Functions Execution Status Change" events: closes the
executions whose end bypassed the state machine's own recording (stopped, timed out, failed
outside any Catch). `flowlane.runtime.execution_control` does the work; no FastAPI here."""

import re
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from flowlane.observability import lambda_entry, metrics
from flowlane.runtime.execution_control import apply_status_change
from flowlane.runtime.services import Services

# Built at cold start and reused while the container is warm; clients are created on first use.
_services = Services()
# Step Functions statuses counted by the "failed executions" alarm.
_FAILED = frozenset({"FAILED", "TIMED_OUT"})
# The child executions of a split workflow (`<execution id>-part<N>`): their parent fails too.
_CHILD = re.compile(r"-part\d+$")


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    applied = apply_status_change(_services, event)
    # How many executions only the events closed: a rising count means the machines' own
    # recording is being bypassed (stops from the console, timeouts, runtime errors).
    metrics.add_metric(name="ExecutionsClosedByEvents", unit=MetricUnit.Count, value=int(applied))
    detail = event.get("detail")
    if (
        isinstance(detail, dict)
        and detail.get("status") in _FAILED
        and not _CHILD.search(str(detail.get("name", "")))
    ):
        # Every workflow execution that failed or timed out, recorded by the machine or not
        # (the rule only sends ends of the stage's machines).
        metrics.add_metric(name="ExecutionsFailed", unit=MetricUnit.Count, value=1)
    return {"applied": applied}
