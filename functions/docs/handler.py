"""Lambda entry for GET /docs and GET /openapi.json: the whole API's description.

The app mounts every domain's routers so the OpenAPI document lists every route the domain
functions serve; API Gateway sends it only the two documentation routes, and it makes no AWS
call (its role grants nothing but its log group)."""

from typing import Any

from mangum import Mangum

from flowlane.api.app import create_app
from flowlane.observability import lambda_entry

app = create_app()
_asgi = Mangum(app, lifespan="off")


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _asgi(event, context)
    return response
