"""Schedules fire in `flowlane dev` (issue 5, "Done when"): a deployed workflow with a
`rate(1 minute)` schedule starts an execution within a minute, on the real clock, over HTTP.
(Time zones, daylight saving, catch-up after a restart: tests/integration/test_dev_scheduler.py,
on an injected clock.)"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.e2e.conftest import DevServer

WORKFLOW = {
    "name": "Every minute",
    "nodes": [
        {
            "id": "tick",
            "name": "Every minute",
            "type": "TRIGGER",
            "subtype": "SCHEDULE",
            "parameters": {"expression": "rate(1 minute)"},
        },
        {
            "id": "note",
            "name": "Note",
            "type": "ACTION",
            "subtype": "SET",
            "parameters": {"values": {"fired_for": "{{ input.scheduled_time }}"}},
        },
    ],
    "connections": {
        "connections": {"tick": {"connection_types": {"main": {"connections": [{"node": "note"}]}}}}
    },
}


def _headers(server: DevServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token('alice')}"}


def _scheduled_runs(api: str, headers: dict[str, str], workflow_id: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{api}/executions?workflow_id={workflow_id}", headers=headers).json()
    return [e for e in listed["executions"] if e["trigger"]["type"] == "schedule"]


def _wait_for_runs(
    api: str, headers: dict[str, str], workflow_id: str, count: int, timeout: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = _scheduled_runs(api, headers, workflow_id)
        done = [r for r in runs if r["status"] == "SUCCEEDED"]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(1)


def test_a_deployed_rate_schedule_fires_within_a_minute(dev_server: DevServer) -> None:
    api = f"{dev_server.url}/api/v1"
    headers = _headers(dev_server)
    created = httpx.post(f"{api}/workflows", json=WORKFLOW, headers=headers)
    workflow_id = created.json()["workflow"]["id"]
    deployed = httpx.post(
        f"{api}/workflow/deployments", json={"workflow_id": workflow_id}, headers=headers
    )
    assert deployed.status_code == 201, deployed.text
    [trigger] = deployed.json()["triggers"]
    started = time.monotonic()

    [run] = _wait_for_runs(api, headers, workflow_id, 1, timeout=75)

    assert time.monotonic() - started <= 75
    record = httpx.get(f"{api}/executions/{run['execution_id']}", headers=headers).json()
    assert record["output"]["fired_for"].endswith("Z")
    events = httpx.get(
        f"{api}/triggers/{trigger['trigger']['trigger_id']}/events", headers=headers
    ).json()["events"]
    assert [e["execution_id"] for e in events] == [run["execution_id"]]
    assert events[0]["outcome"] == "SUCCEEDED"
    assert events[0]["catch_up"] is False
