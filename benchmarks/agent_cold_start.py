"""Cold start of functions/agent/handler.py next to the bare FastAPI + Mangum + boto3 floor.

Each sample is a fresh Python process that imports the handler and answers its first request
behind API Gateway HTTP API v2 with JWT claims: `POST /api/v1/session {"action": "create"}`, one
DynamoDB write to a moto server over HTTP. The bare floor is benchmarks/cold_start.py's (its
script, seed and GET event, one DynamoDB read on the same server). As a reference, the workflows
function's sample of cold_start.py runs alongside. The agent process also reports whether
LangGraph or an LLM SDK was imported by then (they must not be: the routes that generate import
them on first use). Budget (issue 6): agent <= 1.3 x bare. Printed, never asserted.

    python benchmarks/agent_cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from cold_start import BARE, EVENT, OURS, OWNER, TABLE, _seed
from fresh_process import function_env, moto_server, sample, summary

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("langgraph", "openai", "anthropic")
BUDGET = 1.3

SESSION_EVENT = {
    "version": "2.0",
    "routeKey": "POST /api/v1/session",
    "rawPath": "/api/v1/session",
    "rawQueryString": "",
    "headers": {
        "host": "bench.execute-api.us-east-1.amazonaws.com",
        "content-type": "application/json",
    },
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "bench",
        "authorizer": {"jwt": {"claims": {"sub": OWNER}, "scopes": None}},
        "http": {
            "method": "POST",
            "path": "/api/v1/session",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.1",
            "userAgent": "bench",
        },
        "requestId": "bench",
        "routeKey": "POST /api/v1/session",
        "stage": "$default",
        "time": "21/Nov/2026:00:00:00 +0000",
        "timeEpoch": 0,
    },
    "body": json.dumps({"action": "create"}),
    "isBase64Encoded": False,
}

# The clock starts before the first import; the process prints how long import + request took,
# and which of the heavy packages the first request left in sys.modules.
AGENT = """
import time; t0 = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", %(handler)r)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
class Context:
    function_name = "flowlane-agent"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:flowlane-agent"
    aws_request_id = "bench"
response = module.handler(json.loads(sys.argv[1]), Context())
elapsed = time.perf_counter() - t0
assert response["statusCode"] == 201 and '"session_id"' in response["body"], response
heavy = sorted(n for n in %(heavy)r if n in sys.modules)
print(json.dumps({"seconds": elapsed, "heavy": heavy, "modules": len(sys.modules)}))
"""

BARE_MODULES = BARE.replace(
    'print(json.dumps({"seconds": elapsed}))',
    'print(json.dumps({"seconds": elapsed, "modules": len(sys.modules)}))',
)
OURS_MODULES = OURS.replace(
    'print(json.dumps({"seconds": elapsed}))',
    'print(json.dumps({"seconds": elapsed, "modules": len(sys.modules), '
    '"heavy": sorted(n for n in %(heavy)r if n in sys.modules)}))',
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with moto_server() as endpoint:
        _measure(args, endpoint)


def _measure(args: argparse.Namespace, endpoint: str) -> None:
    workflow_id = _seed(endpoint)  # the table, the bucket and the workflow the bare floor reads

    get_event = json.loads(json.dumps(EVENT))
    path = f"/api/v1/workflows/{workflow_id}"
    get_event["rawPath"] = get_event["requestContext"]["http"]["path"] = path
    scripts = {
        "bare": (BARE_MODULES % {"table": TABLE, "owner": OWNER}, get_event),
        "agent": (
            AGENT % {"handler": str(ROOT / "functions/agent/handler.py"), "heavy": HEAVY},
            SESSION_EVENT,
        ),
        "workflows": (
            OURS_MODULES
            % {"handler": str(ROOT / "functions/workflows/handler.py"), "heavy": HEAVY},
            get_event,
        ),
    }
    samples: dict[str, list[dict[str, Any]]] = {key: [] for key in scripts}
    walls: dict[str, list[float]] = {key: [] for key in scripts}
    with tempfile.TemporaryDirectory() as home:
        env = function_env(endpoint, home, TABLE, "flowlane-bench")
        # One warm-up of each fills the bytecode caches, as a deployed package has them.
        for code, event in scripts.values():
            sample(code, event, env)
        for _ in range(args.runs):  # interleaved, so drift on the machine hits all alike
            for key, (code, event) in scripts.items():
                figures, wall = sample(code, event, env)
                samples[key].append(figures)
                walls[key].append(wall)

    def seconds(key: str) -> list[float]:
        return [float(s["seconds"]) for s in samples[key]]

    print(
        f"agent cold start: import + first request, {args.runs} fresh processes each "
        f"(Python {sys.version.split()[0]})"
    )
    labels = {
        "bare": "bare FastAPI + Mangum + boto3 (GET)",
        "agent": "functions/agent/handler.py (POST)",
        "workflows": "functions/workflows/handler.py (GET)",
    }
    print(f"  {'':<38} {'in process':<34}   {'whole process':<34}   modules")
    for key, label in labels.items():
        modules = statistics.median(int(s["modules"]) for s in samples[key])
        print(f"  {label:<38} {summary(seconds(key))}   {summary(walls[key])}   {modules:>7.0f}")
    bare = statistics.median(seconds("bare"))
    ratio = statistics.median(seconds("agent")) / bare
    reference = statistics.median(seconds("workflows")) / bare
    verdict = "within" if ratio <= BUDGET else "OVER"
    print(
        f"  ratio agent / bare: {ratio:.2f} (budget {BUDGET:.2f}: {verdict})"
        f"; workflows / bare, for reference: {reference:.2f}"
    )
    loaded = {name for s in samples["agent"] for name in s["heavy"]}
    for name in HEAVY:
        state = "IMPORTED (must not be)" if name in loaded else "not imported"
        print(f"  {name:<10} in sys.modules after the first request: {state}")


if __name__ == "__main__":
    main()
