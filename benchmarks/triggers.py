"""Triggers on the embedded runtime: what a webhook call and a dev-server scheduler tick cost.

- Webhook: a signed POST through the whole app (middleware, path look-up, signature, Powertools
  idempotency, the launcher writing the execution and starting its machine), until the 202; and
  a replay of the same delivery (answered from the idempotency record). In process, moto behind
  boto3, so AWS round trips cost what moto costs, not what the network would.
- Scheduler: one `flowlane dev` tick over N schedules (nothing due), as it runs every second.

No budgets in issue 5: printed, never asserted.

    python benchmarks/triggers.py [--calls 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("FLOWLANE_RUNTIME", "embedded")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("FLOWLANE_DEV_JWT_SECRET", "bench-secret-0123456789abcdef0123")

from fastapi.testclient import TestClient

from flowlane.api.app import create_app
from flowlane.api.auth import issue_dev_token
from flowlane.config import ApiSettings, LocalSettings, StoreSettings
from flowlane.runtime.dev_scheduler import DevScheduler
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.services import Services
from flowlane.runtime.webhook_signature import sign

WORKFLOW = {
    "name": "bench",
    "nodes": [
        {"id": "hook", "type": "TRIGGER", "subtype": "WEBHOOK", "parameters": {"path": "b"}},
        {"id": "out", "type": "ACTION", "subtype": "SET", "parameters": {"values": {"x": 1}}},
    ],
    "connections": {
        "connections": {"hook": {"connection_types": {"main": {"connections": [{"node": "out"}]}}}}
    },
}


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def webhook(runtime: EmbeddedRuntime, calls: int) -> None:
    secret_key = os.environ["FLOWLANE_DEV_JWT_SECRET"]
    api = ApiSettings(auth_mode="dev", dev_jwt_secret=secret_key)
    services = Services(api=api, aws=runtime.aws, store=runtime.store, clients=runtime.clients)
    auth = {"Authorization": f"Bearer {issue_dev_token(secret_key, 'bench')}"}
    with TestClient(create_app(None, services)) as client:
        workflow_id = client.post("/api/v1/workflows", json=WORKFLOW, headers=auth).json()[
            "workflow"
        ]["id"]
        deployed = client.post(
            "/api/v1/workflow/deployments", json={"workflow_id": workflow_id}, headers=auth
        ).json()
        secret = deployed["triggers"][0]["secret"]
        fresh: list[float] = []
        replays: list[float] = []
        for i in range(calls):
            body = json.dumps({"call": i}).encode()
            headers = {
                "content-type": "application/json",
                "X-Flowlane-Signature": sign(secret, body, int(time.time())),
            }
            started = time.perf_counter()
            first = client.post("/api/v1/webhooks/b", content=body, headers=headers)
            fresh.append(time.perf_counter() - started)
            started = time.perf_counter()
            again = client.post("/api/v1/webhooks/b", content=body, headers=headers)
            replays.append(time.perf_counter() - started)
            assert first.status_code == again.status_code == 202
            assert first.json() == again.json()
    print(f"webhook call, signed, to 202 ({calls} calls): {ms(fresh[1:])}")
    print(f"webhook replay of the same delivery:       {ms(replays[1:])}")


def scheduler(runtime: EmbeddedRuntime) -> None:
    client = runtime.clients.client("scheduler")
    client.create_schedule_group(Name="bench")
    made = 0
    for count in (10, 100, 500):
        for i in range(made, count):
            client.create_schedule(
                Name=f"s{i}",
                GroupName="bench",
                ScheduleExpression="rate(1 hour)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={
                    "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:none",
                    "RoleArn": "arn:aws:iam::123456789012:role/bench",
                    "Input": "{}",
                },
            )
        made = count
        ticker = DevScheduler(runtime.clients, None)
        ticker.tick()  # the first tick reads every schedule in full
        samples = []
        for _ in range(10):
            started = time.perf_counter()
            ticker.tick()
            samples.append(time.perf_counter() - started)
        print(f"dev scheduler tick, {count:>3} schedules:        {ms(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    with EmbeddedRuntime(state_dir=None, store=StoreSettings(), local=LocalSettings()) as runtime:
        webhook(runtime, args.calls)
        scheduler(runtime)


if __name__ == "__main__":
    main()
