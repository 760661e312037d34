"""Lambda entry invoked by compiled state machines for every node (no FastAPI, no LLM SDK
unless an AI node runs): `flowlane.runtime.node_runner` does the work."""

from typing import Any

from flowlane.observability import lambda_entry
from flowlane.runtime.node_runner import NodeRunner
from flowlane.runtime.services import Services

# Built at cold start and reused while the container is warm; clients are created on first use.
_runner = NodeRunner(Services())


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _runner.handle(event)
