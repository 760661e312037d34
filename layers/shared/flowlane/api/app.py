"""The FastAPI app factory shared by every domain function and the dev server."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from flowlane import __version__
from flowlane.api.domains import routers_for
from flowlane.api.errors import install_error_handlers
from flowlane.api.middleware import RequestContextMiddleware
from flowlane.models.common import ErrorEnvelope
from flowlane.runtime.services import Services

_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in {
        400: "VALIDATION_ERROR",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        409: "CONFLICT",
        413: "PAYLOAD_TOO_LARGE",
        500: "INTERNAL_ERROR",
        502: "UPSTREAM_ERROR",
    }.items()
}


def create_app(domains: list[str] | None = None, services: Services | None = None) -> FastAPI:
    """An app serving the routers of `domains` (every domain when None)."""
    services = services or Services()
    app = FastAPI(
        title="Flowlane API",
        version=__version__,
        description="Plain words to durable, serverless AI workflows.",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        responses=_ERROR_RESPONSES,
    )
    app.state.services = services
    for router in routers_for(domains):
        app.include_router(router)
    install_error_handlers(app)
    if services.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=services.api.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-Request-ID",
                "Last-Event-ID",
            ],
            expose_headers=["X-Request-ID", "ETag", "Location", "Retry-After"],
        )
    # Added last, so it is the outermost: it sees every response, CORS preflights included.
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=services.api.max_body_bytes,
        body_limits=[("/api/v1/webhooks/", services.runtime.webhook_max_body_bytes)],
    )
    return app
