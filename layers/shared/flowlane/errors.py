"""Domain exceptions.

Every error a client can see is one of these; `flowlane.api.errors` maps them to the
contract's envelope in one place. Code below the API raises them and never builds responses.
"""

from __future__ import annotations

from typing import Any


class FlowlaneError(Exception):
    """Base of every error with a contract code and HTTP status."""

    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(FlowlaneError):
    code = "VALIDATION_ERROR"
    status = 400

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, {"errors": errors or []})


class Unauthorized(FlowlaneError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(FlowlaneError):
    code = "FORBIDDEN"
    status = 403


class NotFound(FlowlaneError):
    code = "NOT_FOUND"
    status = 404


class Conflict(FlowlaneError):
    code = "CONFLICT"
    status = 409


class PayloadTooLarge(FlowlaneError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class RateLimited(FlowlaneError):
    code = "RATE_LIMITED"
    status = 429

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message, {"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class UpstreamError(FlowlaneError):
    """A dependency (AWS, an LLM provider) failed; the request did not take effect."""

    code = "UPSTREAM_ERROR"
    status = 502


class WorkflowTooLarge(FlowlaneError):
    """The compiled workflow exceeds a Step Functions quota even when split into parts."""

    code = "WORKFLOW_TOO_LARGE"
    status = 400
