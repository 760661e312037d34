"""What the cold-start benchmarks share: run a snippet in a fresh Python process, summarise."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
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
