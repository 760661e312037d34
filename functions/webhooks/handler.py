"""Lambda entry for the public /webhooks/{path} (authenticated by each trigger's secret):
the domain app behind Mangum."""

from typing import Any

from mangum import Mangum

from flowlane.api.app import create_app
from flowlane.observability import lambda_entry

app = create_app(["webhooks"])
_asgi = Mangum(app, lifespan="off")


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _asgi(event, context)
    return response
