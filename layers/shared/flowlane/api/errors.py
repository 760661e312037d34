"""The error envelope (CONTRACT.md section 1), for every error status, built in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowlane.errors import FlowlaneError, RateLimited
from flowlane.models.common import error_items
from flowlane.observability import request_id_var

_CODES_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    502: "UPSTREAM_ERROR",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": request_id_var.get(),
        }
    }
    return JSONResponse(status_code=status, content=body, headers=headers)


def _summary(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def _flowlane_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FlowlaneError)
    headers = (
        {"Retry-After": str(exc.retry_after_seconds)} if isinstance(exc, RateLimited) else None
    )
    if exc.code == "VALIDATION_ERROR" and exc.details.get("errors"):
        message = f"{exc.message}: {_summary(exc.details['errors'])}"
    else:
        message = exc.message
    return error_response(exc.status, exc.code, message, exc.details, headers)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = error_items(exc.errors())
    if any(e["msg"].startswith("JSON decode error") for e in errors):
        return error_response(
            400, "VALIDATION_ERROR", "the request body is not valid JSON", {"errors": errors}
        )
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type and any(e["loc"] == ["body"] for e in errors):
        # The usual cause: `curl -d` without a JSON Content-Type header.
        message = (
            f"send the body as JSON with 'Content-Type: application/json' (got {content_type})"
        )
        return error_response(400, "VALIDATION_ERROR", message, {"errors": errors})
    return error_response(400, "VALIDATION_ERROR", _summary(errors), {"errors": errors})


async def _http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES_BY_STATUS.get(
        exc.status_code, "INTERNAL_ERROR" if exc.status_code >= 500 else "ERROR"
    )
    message = str(exc.detail) if exc.detail else code
    details: dict[str, Any] = {}
    if exc.status_code == 404 and message == "Not Found":
        message = "no such route"
    elif exc.status_code == 400:
        # FastAPI's body-parsing failures; keep the contract's details.errors shape.
        details = {"errors": [{"loc": ["body"], "msg": message}]}
    return error_response(
        exc.status_code, code, message, details, headers=getattr(exc, "headers", None)
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FlowlaneError, _flowlane_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
