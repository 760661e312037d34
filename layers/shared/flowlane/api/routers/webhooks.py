"""The public webhook entry (CONTRACT.md section 6): open, authenticated by the trigger's own
secret. `flowlane.runtime.webhooks` does the work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from flowlane.runtime.services import Services
from flowlane.runtime.webhooks import WebhookCall, receive

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


async def webhook(path: str, request: Request) -> JSONResponse:
    """Start the workflow of the webhook trigger that owns `path`. With a secret, the call must
    carry `X-Flowlane-Signature: t=UNIX,v1=HEX` (HMAC-SHA256 of `t + "." + raw body`)."""
    services: Services = request.app.state.services
    call = WebhookCall(
        path=path,
        method=request.method,
        # The raw bytes: the signature covers them exactly as sent.
        body=await request.body(),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        source_ip=request.client.host if request.client else None,
    )
    # Blocking AWS calls (and the last_node wait) run off the event loop.
    answer: Any = await run_in_threadpool(receive, services, call)
    return JSONResponse(answer.body, status_code=answer.status)


# One route per method, each with its own operation id (one route with several methods would
# give them all the same id in the OpenAPI document).
for _method in ("POST", "GET", "PUT", "PATCH", "DELETE"):
    router.add_api_route(
        "/webhooks/{path:path}",
        webhook,
        methods=[_method],
        status_code=202,
        operation_id=f"webhook_{_method.lower()}",
        responses={
            200: {"description": "response_mode last_node: the execution ended; its output"},
            202: {"description": "{execution_id}: the execution started"},
        },
    )
