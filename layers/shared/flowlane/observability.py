"""Powertools Logger and Metrics, one of each for the whole layer, and the Lambda entry decorator.

The correlation id is the request id (set per request by the API middleware). X-Ray tracing
costs ~0.1 s of cold start (the X-Ray SDK import), so the Tracer is created only when
`FLOWLANE_TRACING=true` (the CDK app sets it where tracing is on).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE = "flowlane"
METRICS_NAMESPACE = "Flowlane"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

# The current request's id, for error bodies built far from the request object.
request_id_var: ContextVar[str] = ContextVar("flowlane_request_id", default="")

LambdaHandler = Callable[[Any, Any], Any]


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWLANE_", extra="ignore")

    tracing: bool = Field(default=False, description="X-Ray tracing through Powertools Tracer")


def log_to_stderr() -> None:
    """Send the structured log to stderr: for commands whose stdout is their result."""
    import logging
    import sys

    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


@lru_cache(maxsize=1)
def observability_settings() -> ObservabilitySettings:
    return ObservabilitySettings()


def lambda_entry(handler: LambdaHandler) -> LambdaHandler:
    """Wrap a Lambda handler with the Powertools decorators: structured logs with the Lambda
    context, EMF metrics flushed per invocation (cold start included), tracing when enabled."""

    def counted(event: Any, context: Any) -> Any:
        result = handler(event, context)
        # HTTP functions count answers by class (Http2xx, Http4xx, Http5xx) for the alarms.
        if isinstance(result, dict) and isinstance(result.get("statusCode"), int):
            metrics.add_metric(
                name=f"Http{result['statusCode'] // 100}xx", unit=MetricUnit.Count, value=1
            )
        return result

    wrapped: LambdaHandler = counted
    if observability_settings().tracing:
        from aws_lambda_powertools import Tracer

        wrapped = Tracer(service=SERVICE).capture_lambda_handler(wrapped, capture_response=False)
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    # Powertools prints the cold-start metric even with metrics disabled (the embedded runtime
    # disables them: there is no CloudWatch, and `flowlane run` prints JSON on stdout).
    if not is_metrics_disabled():
        wrapped = metrics.log_metrics(wrapped, capture_cold_start_metric=True)
    entry: LambdaHandler = logger.inject_lambda_context(wrapped, clear_state=True)
    return entry
