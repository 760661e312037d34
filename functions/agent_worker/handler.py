"""Lambda entry for long agent jobs, invoked asynchronously by the agent function (DESIGN.md
decision 6): a session's generation, or a query task. The job is the event."""

from typing import Any

from flowlane.agent.service import AgentService
from flowlane.observability import lambda_entry
from flowlane.runtime.services import Services

_services = Services()


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    AgentService(_services).run_job(event)
    return {"ok": True, "kind": event.get("kind")}
