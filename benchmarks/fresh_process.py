"""What the cold-start benchmarks share: run a snippet in a fresh Python process, summarise."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def sample(
    code: str, event: dict[str, object], env: dict[str, str]
) -> tuple[dict[str, Any], float]:
    """Run `code` with the event as argv[1]; its last stdout line (JSON) and the wall time."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(event)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"a sample failed:\n{result.stderr}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures, wall


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(values) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port) for fresh processes to call; its endpoint."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def function_env(endpoint: str, home: str, table: str, bucket: str) -> dict[str, str]:
    """The environment of a function process that talks to the moto server (an HTTP function
    behind the JWT authorizer; the node runner ignores the auth mode)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "FLOWLANE_AUTH_MODE": "cognito",
        "FLOWLANE_TABLE_NAME": table,
        "FLOWLANE_PAYLOAD_BUCKET": bucket,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "PYTHONDONTWRITEBYTECODE": "0",
    }
