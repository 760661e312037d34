"""Lambda entry for the agent's routes (sessions, chat and generation streams, generate,
refine, query): the domain app behind Mangum. LangGraph and the LLM SDKs are imported by the
routes that need them, on first use, so this cold start stays near the bare FastAPI floor."""

from typing import Any

from mangum import Mangum

from flowlane.api.app import create_app
from flowlane.observability import lambda_entry

app = create_app(["agent"])
_asgi = Mangum(app, lifespan="off")


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _asgi(event, context)
    return response
