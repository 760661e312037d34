"""Public webhook calls: `/api/v1/webhooks/{path}` (CONTRACT.md section 6).

In order: find the trigger that owns the path (404), check the method (404: no webhook for
it), the body size (413) and, when the trigger has a secret, the signature (401), before
anything is read from the body. A signed delivery starts its execution once, however often the
sender retries it (Powertools idempotency on the signature). `response_mode: last_node` waits
for the result up to a time limit below API Gateway's, and answers 202 when it is not ready.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowlane.errors import NotFound, PayloadTooLarge, ValidationFailed
from flowlane.models.trigger import TriggerType, WebhookConfig
from flowlane.runtime.triggers import TriggerService

# Headers that carry the caller's credentials are not handed to the workflow (nor stored).
_PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class WebhookCall:
    path: str
    method: str
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    source_ip: str | None


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]


def receive(services: Any, call: WebhookCall) -> WebhookAnswer:
    found = services.triggers.by_path(call.path.strip("/"))
    if found is None or found[1].type is not TriggerType.WEBHOOK:
        raise NotFound(f"no webhook at path {call.path!r}")
    owner, trigger = found
    config = WebhookConfig.model_validate(trigger.config)
    if call.method.upper() != config.method:
        raise NotFound(
            f"the webhook at {call.path!r} accepts {config.method}, not {call.method.upper()}",
            {"allowed_method": config.method},
        )
    limit = services.runtime.webhook_max_body_bytes
    if len(call.body) > limit:
        raise PayloadTooLarge(
            f"the body is {len(call.body)} bytes; a webhook call takes at most {limit}",
            {"limit_bytes": limit},
        )
    delivery: str | None = None
    if trigger.secret is not None:
        from flowlane.runtime.webhook_signature import SIGNATURE_HEADER, verify

        signed_at = verify(
            trigger.secret,
            call.headers.get(SIGNATURE_HEADER.lower()),
            call.body,
            now=time.time(),
            tolerance_seconds=services.runtime.webhook_signature_tolerance_seconds,
        )
        # What the signature vouches for (its time and the exact body), not the header's text:
        # the header can be reworded (spacing, hex case, extra schemes) and still verify.
        delivery = f"{signed_at}:{hashlib.sha256(call.body).hexdigest()}"
    request = {
        "body": _parse_body(call.body, call.headers.get("content-type", "")),
        "headers": {k: v for k, v in call.headers.items() if k not in _PRIVATE_HEADERS},
        "query": dict(call.query),
        "method": call.method.upper(),
    }
    service = TriggerService(services)

    def start() -> dict[str, Any]:
        execution = service.fire(owner, trigger, request, source_ip=call.source_ip)
        return {"execution_id": execution.execution_id}

    # A signed delivery is identified by what it signs; an unsigned one by the Idempotency-Key
    # a sender may give.
    key = delivery or call.headers.get("idempotency-key")
    if key:
        from flowlane.runtime.webhook_idempotency import WebhookIdempotency

        # A signature is good for the tolerance either side of its `t`: remember a delivery at
        # least that long, so no replay inside the window starts anything.
        window = 2 * services.runtime.webhook_signature_tolerance_seconds
        idempotency = WebhookIdempotency(services, expires_after_seconds=max(600, window))
        started = idempotency.once(owner, f"{trigger.trigger_id}:{key}", start)
    else:
        started = start()
    execution_id = str(started["execution_id"])
    if config.response_mode == "last_node":
        return _wait_for_result(services, owner, execution_id)
    return WebhookAnswer(202, {"execution_id": execution_id, "status": "running"})


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(raw)
        except ValueError as exc:
            message = f"not valid JSON: {exc}"
            raise ValidationFailed(
                "the body is not valid JSON", [{"loc": ["body"], "msg": message}]
            ) from exc
    if kind == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl

        return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    return raw.decode("utf-8", errors="replace")


def _wait_for_result(services: Any, owner: str, execution_id: str) -> WebhookAnswer:
    """The execution's output once it has ended (200), or 202 when it runs past the limit."""
    deadline = time.monotonic() + services.runtime.webhook_response_timeout_seconds
    delay = 0.05
    while True:
        execution = services.executions.get(owner, execution_id)
        if execution.final:
            return WebhookAnswer(
                200,
                {
                    "execution_id": execution_id,
                    "status": execution.status.value.lower(),
                    "output": execution.output,
                    "error": execution.error.model_dump() if execution.error else None,
                },
            )
        if time.monotonic() >= deadline:
            return WebhookAnswer(202, {"execution_id": execution_id, "status": "running"})
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)
