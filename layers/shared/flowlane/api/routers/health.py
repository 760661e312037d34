"""GET /api/v1/health (open): is this function able to reach its table?"""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from flowlane import __version__
from flowlane.api.deps import ServicesDep
from flowlane.errors import UpstreamError
from flowlane.models.common import HealthResponse, HealthStatus
from flowlane.runtime.services import Services

router = APIRouter(prefix="/api/v1", tags=["health"])

_CHECK_TTL_SECONDS = 15.0


class TableCheck:
    """Whether the table answers, cached briefly: the route is open, and must not become a way to
    make this function hammer DynamoDB's control plane. One per app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked: tuple[float, str] | None = None

    def status(self, services: Services) -> str:
        with self._lock:
            if self._checked and time.monotonic() - self._checked[0] < _CHECK_TTL_SECONDS:
                return self._checked[1]
        try:
            services.table.describe()
            status = "ok"
        except UpstreamError as exc:
            status = f"unreachable: {exc.message}"
        with self._lock:
            self._checked = (time.monotonic(), status)
        return status


def _table_check(request: Request) -> TableCheck:
    check = getattr(request.app.state, "table_check", None)
    if check is None:
        check = request.app.state.table_check = TableCheck()
    return check


@router.get("/health", response_model=HealthResponse)
def health(
    services: ServicesDep, check: Annotated[TableCheck, Depends(_table_check)]
) -> HealthResponse:
    table = check.status(services)
    return HealthResponse(
        status=HealthStatus.HEALTHY if table == "ok" else HealthStatus.UNHEALTHY,
        version=__version__,
        timestamp=time.time_ns() // 1_000_000,
        details={"table": table, "runtime": services.aws.runtime, "stage": services.api.stage},
    )
