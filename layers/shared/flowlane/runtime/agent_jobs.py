"""Hand a long agent job to the agent worker, asynchronously (DESIGN.md decision 6).

On AWS this is Lambda's `InvocationType=Event`: the API answers at once, the worker runs for up
to its own timeout, and Lambda retries a failed event twice (the jobs are safe to repeat: a
task that has ended is not run again, and a generation's events only ever append). On the
embedded runtime the same call runs the worker's handler on a thread (`runtime.lambdas`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from flowlane.config import local_settings
from flowlane.errors import UpstreamError

if TYPE_CHECKING:
    from flowlane.runtime.services import Services

WORKER_NAME = "agent-worker"


def worker_function(services: Services) -> str:
    return services.agent.worker_function or local_settings().function_prefix + WORKER_NAME


def invoke_worker(services: Services, job: dict[str, Any]) -> None:
    name = worker_function(services)
    try:
        response = services.clients.client("lambda").invoke(
            FunctionName=name,
            InvocationType="Event",
            Payload=json.dumps(job).encode(),
        )
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        raise UpstreamError(
            "Lambda failed to start the agent worker",
            {"service": "lambda", "aws_code": code, "function": name},
        ) from exc
    if int(response.get("StatusCode", 202)) != 202:
        raise UpstreamError(
            "Lambda did not accept the agent worker's job",
            {"service": "lambda", "status": response.get("StatusCode"), "function": name},
        )
