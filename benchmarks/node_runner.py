"""Cold start of functions/node_runner/handler.py: import + first invocation for a SET node.

Each sample is a fresh Python process that imports the handler and runs one SET node of a stored
execution (reading the execution, the pinned workflow revision and the upstream node run, writing
the node run) against a moto server over HTTP, so boto3 pays for a real client and real requests.
Budget (issue 3): <= 0.35 s in a fresh process. Printed, never asserted.

    python benchmarks/node_runner.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from fresh_process import function_env, moto_server, sample, summary

ROOT = Path(__file__).resolve().parents[1]
TABLE = "flowlane-bench"
BUCKET = "flowlane-bench"
OWNER = "7d4a1e2b-93c5-4f0e-9b1a-2c3d4e5f6a7b"

# The clock starts before the first import; the process prints how long import + run took.
SAMPLE = """
import time; t0 = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", %(handler)r)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported = time.perf_counter() - t0
class Context:
    function_name = "flowlane-node-runner"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:flowlane-node-runner"
    aws_request_id = "bench"
envelope = module.handler(json.loads(sys.argv[1]), Context())
elapsed = time.perf_counter() - t0
assert envelope["status"] == "SUCCEEDED", envelope
print(json.dumps({"seconds": elapsed, "import": imported}))
"""


def _seed(endpoint: str, executions: int) -> None:
    import boto3

    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        FLOWLANE_RUNTIME="aws",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        FLOWLANE_TABLE_NAME=TABLE,
        FLOWLANE_PAYLOAD_BUCKET=BUCKET,
    )
    sys.path.insert(0, str(ROOT / "layers/shared"))
    from flowlane.models.execution import TriggerInfo
    from flowlane.models.workflow import WorkflowCreate
    from flowlane.runtime.node_runner import NodeRunner
    from flowlane.runtime.services import Services
    from flowlane.store.executions import ExecutionItem
    from flowlane.store.schema import create_table_request

    boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1").create_table(
        **create_table_request(TABLE)
    )
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    services = Services()
    workflow = services.workflows.create(
        OWNER,
        WorkflowCreate.model_validate(
            {
                "name": "bench",
                "nodes": [
                    {"id": "start", "type": "TRIGGER", "subtype": "MANUAL"},
                    {
                        "id": "set",
                        "type": "ACTION",
                        "subtype": "SET",
                        "parameters": {
                            "values": {"total": "{{ input.count * 2 }}", "who": "{{ input.name }}"}
                        },
                    },
                ],
                "connections": {
                    "connections": {
                        "start": {"connection_types": {"main": {"connections": [{"node": "set"}]}}}
                    }
                },
            }
        ),
    )
    services.workflows.snapshot(OWNER, workflow)
    runner = NodeRunner(services)
    for n in range(executions):
        execution_id = f"bench-{n}"
        services.executions.create(
            OWNER,
            ExecutionItem(
                execution_id=execution_id,
                workflow_id=workflow.id,
                revision=workflow.revision,
                trigger=TriggerInfo(node_id="start"),
                input={"count": 21, "name": "bench"},
                started_at="2026-11-21T00:00:00Z",
            ),
        )
        runner.handle({"owner": OWNER, "execution_id": execution_id, "node_id": "start"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with moto_server() as endpoint:
        _measure(args, endpoint)


def _measure(args: argparse.Namespace, endpoint: str) -> None:
    _seed(endpoint, args.runs + 1)

    code = SAMPLE % {"handler": str(ROOT / "functions/node_runner/handler.py")}
    with tempfile.TemporaryDirectory() as home:
        env = function_env(endpoint, home, TABLE, BUCKET)
        samples: list[tuple[float, float]] = []
        imports: list[float] = []
        for n in range(args.runs + 1):
            event = {"owner": OWNER, "execution_id": f"bench-{n}", "node_id": "set"}
            figures, wall = sample(code, event, env)
            samples.append((figures["seconds"], wall))
            imports.append(figures["import"])
    samples = samples[1:]  # the first fills the bytecode caches, as a deployed package has them

    inside = [s for s, _ in samples]
    wall = [w for _, w in samples]
    print(
        f"node runner cold start: import + first SET node, {args.runs} fresh processes "
        f"(Python {sys.version.split()[0]})"
    )
    print(f"  in process:    {summary(inside)}")
    print(f"  whole process: {summary(wall)}")
    print(f"  of which import: {summary(imports[1:])}")
    median = statistics.median(inside)
    print(f"  budget 350 ms (in process): {'within' if median <= 0.35 else 'OVER'}")


if __name__ == "__main__":
    main()
