"""GET /api/v1/health (open): is this function able to reach its table?"""

from __future__ import annotations

import threading
import time

from fastapi import APIRouter

from flowlane import __version__
from flowlane.api.deps import ServicesDep
from flowlane.errors import UpstreamError
from flowlane.models.common import HealthResponse, HealthStatus

router = APIRouter(prefix="/api/v1", tags=["health"])

# The table check is cached briefly: the route is open, and must not turn into a way to make
# this function hammer DynamoDB's control plane.
_CHECK_TTL_SECONDS = 15.0
_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def _table_status(services: ServicesDep) -> str:
    key = services.store.table_name
    with _lock:
        cached = _cache.get(key)
        if cached and time.monotonic() - cached[0] < _CHECK_TTL_SECONDS:
            return cached[1]
    try:
        services.table.describe()
        status = "ok"
    except UpstreamError as exc:
        status = f"unreachable: {exc.message}"
    with _lock:
        _cache[key] = (time.monotonic(), status)
    return status


@router.get("/health", response_model=HealthResponse)
def health(services: ServicesDep) -> HealthResponse:
    table = _table_status(services)
    return HealthResponse(
        status=HealthStatus.HEALTHY if table == "ok" else HealthStatus.UNHEALTHY,
        version=__version__,
        timestamp=time.time_ns() // 1_000_000,
        details={"table": table, "runtime": services.aws.runtime, "stage": services.api.stage},
    )
