"""Cold start of functions/workflows/handler.py next to a bare FastAPI + Mangum + boto3 function.

Each sample is a fresh Python process that imports the handler and answers its first request:
one DynamoDB read behind API Gateway HTTP API v2 (the workflows function: GET a workflow; the bare
function: a GetItem). Both talk to the same moto server over HTTP, so both pay for a real boto3
client and a real request. Budget (issue 2): workflows <= 1.3 x bare. Printed, never asserted.

    python benchmarks/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from fresh_process import function_env, moto_server, sample, summary

ROOT = Path(__file__).resolve().parents[1]
TABLE = "flowlane-bench"
OWNER = "7d4a1e2b-93c5-4f0e-9b1a-2c3d4e5f6a7b"

EVENT = {
    "version": "2.0",
    "routeKey": "GET /api/v1/workflows/{id}",
    "rawPath": "",
    "rawQueryString": "",
    "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "bench",
        "authorizer": {"jwt": {"claims": {"sub": OWNER}, "scopes": None}},
        "http": {
            "method": "GET",
            "path": "",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.1",
            "userAgent": "bench",
        },
        "requestId": "bench",
        "routeKey": "GET /api/v1/workflows/{id}",
        "stage": "$default",
        "time": "21/Nov/2026:00:00:00 +0000",
        "timeEpoch": 0,
    },
    "isBase64Encoded": False,
}

# The clock starts before the first import; the process prints how long import + request took.
BARE = """
import time; t0 = time.perf_counter()
import json, sys
import boto3
from fastapi import FastAPI
from mangum import Mangum
app = FastAPI()
_client = None
@app.get("/api/v1/workflows/{workflow_id}")
def get(workflow_id: str):
    global _client
    if _client is None:
        _client = boto3.client("dynamodb")
    item = _client.get_item(TableName=%(table)r, Key={"pk": {"S": "USER#%(owner)s"},
                            "sk": {"S": "WORKFLOW#" + workflow_id}}).get("Item")
    return {"found": item is not None}
handler = Mangum(app, lifespan="off")
response = handler(json.loads(sys.argv[1]), None)
elapsed = time.perf_counter() - t0
assert response["statusCode"] == 200 and '"found":true' in response["body"], response
print(json.dumps({"seconds": elapsed}))
"""

OURS = """
import time; t0 = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", %(handler)r)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
class Context:
    function_name = "flowlane-workflows"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:flowlane-workflows"
    aws_request_id = "bench"
response = module.handler(json.loads(sys.argv[1]), Context())
elapsed = time.perf_counter() - t0
assert response["statusCode"] == 200, response
print(json.dumps({"seconds": elapsed}))
"""


def _seed(endpoint: str) -> str:
    import boto3

    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        FLOWLANE_RUNTIME="aws",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    sys.path.insert(0, str(ROOT / "layers/shared"))
    from flowlane.config import StoreSettings
    from flowlane.models.workflow import WorkflowCreate
    from flowlane.store.dynamo import DynamoTable
    from flowlane.store.payloads import PayloadStore
    from flowlane.store.schema import create_table_request
    from flowlane.store.workflows import WorkflowRepository

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    dynamodb.create_table(**create_table_request(TABLE))
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    store = StoreSettings(table_name=TABLE, payload_bucket="flowlane-bench")
    s3.create_bucket(Bucket=store.payload_bucket)
    repo = WorkflowRepository(DynamoTable(dynamodb, TABLE), PayloadStore(s3, store.payload_bucket))
    created = repo.create(
        OWNER,
        WorkflowCreate.model_validate(
            {
                "name": "bench",
                "nodes": [{"id": "t", "type": "TRIGGER", "subtype": "MANUAL"}],
            }
        ),
    )
    return created.id


def _seconds(code: str, event: dict[str, object], env: dict[str, str]) -> tuple[float, float]:
    figures, wall = sample(code, event, env)
    return figures["seconds"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with moto_server() as endpoint:
        _measure(args, endpoint)


def _measure(args: argparse.Namespace, endpoint: str) -> None:
    workflow_id = _seed(endpoint)

    event = json.loads(json.dumps(EVENT))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/api/v1/workflows/{workflow_id}"
    with tempfile.TemporaryDirectory() as home:
        env = function_env(endpoint, home, TABLE, "flowlane-bench")
        bare = BARE % {"table": TABLE, "owner": OWNER}
        ours = OURS % {"handler": str(ROOT / "functions/workflows/handler.py")}
        traced_env = {**env, "FLOWLANE_TRACING": "true"}
        # One warm-up of each fills the bytecode caches, as a deployed package has them.
        _seconds(bare, event, env)
        _seconds(ours, event, env)
        results: dict[str, list[tuple[float, float]]] = {"bare": [], "ours": [], "traced": []}
        for _ in range(args.runs):  # interleaved, so drift on the machine hits all alike
            results["bare"].append(_seconds(bare, event, env))
            results["ours"].append(_seconds(ours, event, env))
            results["traced"].append(_seconds(ours, event, traced_env))

    print(
        f"cold start: import + first request, {args.runs} fresh processes each "
        f"(Python {sys.version.split()[0]})"
    )
    labels = {
        "bare": "bare FastAPI + Mangum + boto3",
        "ours": "functions/workflows/handler.py",
        "traced": "  the same, FLOWLANE_TRACING=true",
    }
    for key, label in labels.items():
        inside = [s for s, _ in results[key]]
        wall = [w for _, w in results[key]]
        print(f"  {label:<34} in process: {summary(inside)}   whole process: {summary(wall)}")
    bare_median = statistics.median(s for s, _ in results["bare"])
    ratio = statistics.median(s for s, _ in results["ours"]) / bare_median
    traced = statistics.median(s for s, _ in results["traced"]) / bare_median
    print(
        f"  ratio workflows / bare: {ratio:.2f} "
        f"(budget 1.30: {'within' if ratio <= 1.3 else 'OVER'})"
        f"; with tracing: {traced:.2f}"
    )


if __name__ == "__main__":
    main()
