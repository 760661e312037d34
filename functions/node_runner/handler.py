"""Lambda entry invoked by compiled state machines for every node (no FastAPI, no LLM SDK
unless an AI node runs): `flowlane.runtime.node_runner` does the work."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from flowlane.observability import lambda_entry, metrics
from flowlane.runtime.node_runner import FlowControl, NodeRunner
from flowlane.runtime.services import Services

# Built at cold start and reused while the container is warm; clients are created on first use.
_runner = NodeRunner(Services())


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return _runner.handle(event)
    except FlowControl:
        raise  # a node's own outcome (NodeRetry, NodeFailed): the machine's Retry/Catch acts
    except Exception:
        # Lambda's Errors metric counts the flow-control outcomes too; this one counts only
        # what went wrong in the runner itself, and is what the platform alarm watches.
        metrics.add_metric(name="NodeRunnerFaults", unit=MetricUnit.Count, value=1)
        raise
