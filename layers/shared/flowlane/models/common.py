"""Shapes shared by every domain: the error envelope, health, list paging."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field


def error_items(errors: Iterable[Any], prefix: Sequence[str | int] = ()) -> list[dict[str, Any]]:
    """Pydantic errors as the contract's `details.errors`: `[{loc, msg}]`, `loc` under `prefix`."""
    items: list[dict[str, Any]] = []
    for error in errors:
        loc = [*prefix, *(p if isinstance(p, int) else str(p) for p in error.get("loc", ()))]
        # Pydantic prefixes custom errors with "Value error, "; the location already says where.
        msg = (
            str(error.get("msg", ""))
            .removeprefix("Value error, ")
            .removeprefix("Assertion failed, ")
        )
        items.append({"loc": loc, "msg": msg})
    return items


class ErrorItem(BaseModel):
    loc: Annotated[
        list[str | int], Field(description="Where the problem is, e.g. ['body', 'name']")
    ]
    msg: str


class ErrorBody(BaseModel):
    code: Annotated[str, Field(description="VALIDATION_ERROR, UNAUTHORIZED, NOT_FOUND, ...")]
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    request_id: str


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class HealthResponse(BaseModel):
    status: HealthStatus
    version: str
    timestamp: Annotated[int, Field(description="Epoch milliseconds")]
    details: dict[str, Any] = Field(default_factory=dict)


class MessageResponse(BaseModel):
    success: bool = True
    message: str = ""


MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
