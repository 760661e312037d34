"""Per-request plumbing as one pure ASGI middleware (it sees every response, errors included):
request ids, the body limit, the access log and the last-resort 500."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowlane.observability import logger, request_id_var

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:=+/\-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _envelope(
    status: int, code: str, message: str, request_id: str, details: dict[str, Any] | None = None
) -> tuple[dict[str, Any], bytes]:
    error = {"code": code, "message": message, "details": details or {}, "request_id": request_id}
    body = json.dumps({"error": error}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ],
    }
    return start, body


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a safe token; else API Gateway's request id (so the
    id also finds the gateway's access log line); else a new one."""
    given = _header(scope, b"x-request-id")
    if given and _REQUEST_ID_RE.match(given):
        return given
    event = scope.get("aws.event")
    if isinstance(event, dict):
        gateway_id = event.get("requestContext", {}).get("requestId")
        if isinstance(gateway_id, str) and _REQUEST_ID_RE.match(gateway_id):
            return gateway_id
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_limits: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # (path prefix, limit): routes with a limit of their own (webhooks have theirs).
        self.body_limits = tuple(body_limits)

    def _limit(self, scope: Scope) -> int:
        path = str(scope.get("path", ""))
        for prefix, limit in self.body_limits:
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        logger.set_correlation_id(request_id)
        started = time.perf_counter()
        status_holder = {"status": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            limit = self._limit(scope)
            replay = await self._bounded_body(scope, receive, limit)
            if replay is None:
                await self._reply(
                    send_with_id,
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"the request body is larger than {limit} bytes",
                    request_id,
                    {"limit_bytes": limit},
                )
                return
            await self.app(scope, replay, send_with_id)
        except Exception:
            # Logged with its stack trace; the client gets the envelope and never the trace.
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if status_holder["status"] == 0:
                await self._reply(send_with_id, 500, "INTERNAL_ERROR", "internal error", request_id)
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)

    async def _bounded_body(self, scope: Scope, receive: Receive, limit: int) -> Receive | None:
        """Read the body up to the limit and return a receive that replays it; None when over."""
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return None
        if scope.get("method") not in _BODY_METHODS:
            return receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    @staticmethod
    async def _reply(
        send: Send,
        status: int,
        code: str,
        message: str,
        request_id: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        start, body = _envelope(status, code, message, request_id, details)
        await send(start)
        await send({"type": "http.response.body", "body": body})
