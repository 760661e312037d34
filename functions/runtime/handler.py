"""Lambda entry for /workflow/deployments and /triggers:
the domain app behind Mangum."""

from typing import Any

from mangum import Mangum

from flowlane.api.app import create_app
from flowlane.observability import lambda_entry

app = create_app(["runtime"])
_asgi = Mangum(app, lifespan="off")


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _asgi(event, context)
    return response
