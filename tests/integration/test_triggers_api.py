"""Triggers (CONTRACT.md sections 5 "Runtime" and 6): manual, webhook and schedule triggers are
created, listed, read, fired and deleted through the API; a schedule is a real EventBridge
Scheduler schedule on moto whose target, the schedule-start state machine, runs for real; every
firing lands in the trigger's event log. A trigger is live while its workflow is active."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from flowlane.errors import NotFound
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.store.executions import ExecutionRepository
from tests.integration.test_execute_api import FINAL, wait_for
from tests.workflows import connections, manual, node, set_node

TRIGGERS = "/api/v1/triggers"
GROUP = "flowlane-dev"
WEEKDAYS_AT_NINE = "cron(0 9 ? * MON-FRI *)"
OCCURRENCE = "2026-11-23T09:00:00Z"
# What the TestClient answers (an httpx Response).
Response = Any


# -- helpers ---------------------------------------------------------------------------------------


def triggered_workflow(**fields: Any) -> dict[str, Any]:
    """One trigger node of each kind feeding `echo`, whose output is what it received. `echo`
    stops the run when `input.n` is not a number, so a firing can be made to fail."""
    echo = set_node(
        "echo", {"received": "{{ input }}", "n": "{{ $number(input.n) }}"}, on_error="stop"
    )
    return {
        "name": "triggered",
        "nodes": [
            manual(),
            node("hook", "TRIGGER", "WEBHOOK"),
            node("tick", "TRIGGER", "SCHEDULE", parameters={"expression": "rate(5 minutes)"}),
            echo,
        ],
        "connections": connections(
            ("start", "main", "echo"), ("hook", "main", "echo"), ("tick", "main", "echo")
        ),
        **fields,
    }


def create_workflow(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    response = client.post("/api/v1/workflows", json=triggered_workflow(**fields), headers=headers)
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["workflow"]["id"]
    return workflow_id


def post_trigger(
    client: TestClient, headers: dict[str, str], workflow_id: str, kind: str, **body: Any
) -> Response:
    return client.post(
        TRIGGERS, json={"workflow_id": workflow_id, "type": kind, **body}, headers=headers
    )


def create_trigger(
    client: TestClient, headers: dict[str, str], workflow_id: str, kind: str, **config: Any
) -> dict[str, Any]:
    """The creation answer: {trigger, webhook_url, secret}."""
    response = post_trigger(client, headers, workflow_id, kind, config=config)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def fire(client: TestClient, headers: dict[str, str], trigger_id: str, data: Any = None) -> str:
    body = {} if data is None else {"data": data}
    response = client.post(f"{TRIGGERS}/{trigger_id}/fire", json=body, headers=headers)
    assert response.status_code == 202, response.text
    execution_id: str = response.json()["execution_id"]
    return execution_id


def events(
    client: TestClient, headers: dict[str, str], trigger_id: str, **params: Any
) -> dict[str, Any]:
    response = client.get(f"{TRIGGERS}/{trigger_id}/events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def refused(response: Response, status: int, code: str) -> dict[str, Any]:
    """The error envelope of a refusal (CONTRACT.md section 1); its `error` object."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def schedules(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    """Every EventBridge Scheduler schedule, across groups."""
    scheduler = runtime.clients.client("scheduler")
    found: list[dict[str, Any]] = []
    for group in scheduler.list_schedule_groups()["ScheduleGroups"]:
        found.extend(scheduler.list_schedules(GroupName=group["Name"])["Schedules"])
    return found


def get_schedule(runtime: EmbeddedRuntime, trigger_id: str) -> dict[str, Any]:
    schedule: dict[str, Any] = runtime.clients.client("scheduler").get_schedule(
        Name=trigger_id, GroupName=GROUP
    )
    return schedule


def deliver(
    runtime: EmbeddedRuntime, trigger_id: str, scheduled_time: str, *names: str
) -> list[dict[str, Any]]:
    """Start the schedule's target once per name, all at once, with the input Scheduler sends
    (its placeholders filled in); each Step Functions execution once it has ended."""
    schedule = get_schedule(runtime, trigger_id)
    payload = (
        schedule["Target"]["Input"]
        .replace("<aws.scheduler.scheduled-time>", scheduled_time)
        .replace("<aws.scheduler.schedule-arn>", schedule["Arn"])
    )
    sfn = runtime.clients.stepfunctions
    arns = [
        sfn.start_execution(stateMachineArn=schedule["Target"]["Arn"], name=name, input=payload)[
            "executionArn"
        ]
        for name in names
    ]
    ended = []
    for arn in arns:
        deadline = time.monotonic() + 30
        described = sfn.describe_execution(executionArn=arn)
        while described["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
            described = sfn.describe_execution(executionArn=arn)
        ended.append(described)
    return ended


def executions_of(client: TestClient, headers: dict[str, str], workflow_id: str) -> list[Any]:
    response = client.get(f"/api/v1/workflows/{workflow_id}/executions", headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["executions"]
    return found


# -- create ----------------------------------------------------------------------------------------


def test_a_manual_trigger_is_created_with_no_secret_and_no_url(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)

    response = post_trigger(client, alice, workflow_id, "manual", node_id="start")

    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"trigger", "webhook_url", "secret"}
    trigger = answer["trigger"]
    assert trigger["trigger_id"].startswith("trg_")
    assert trigger["workflow_id"] == workflow_id
    assert trigger["type"] == "manual"
    assert trigger["node_id"] == "start"
    assert trigger["has_secret"] is False
    assert trigger["next_runs"] is None
    assert trigger["created_at"].endswith("Z")
    assert answer["webhook_url"] is None
    assert answer["secret"] is None


def test_a_webhook_trigger_shows_its_secret_at_creation_and_never_again(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)

    answer = create_trigger(client, alice, workflow_id, "webhook", path="orders/new")

    secret = answer["secret"]
    assert secret.startswith("whsec_")
    assert answer["webhook_url"] == "http://testserver/api/v1/webhooks/orders/new"
    trigger = answer["trigger"]
    assert trigger["has_secret"] is True
    assert trigger["webhook_path"] == "orders/new"
    assert trigger["config"] == {
        "path": "orders/new",
        "method": "POST",
        "response_mode": "immediate",
        "require_signature": True,
    }
    read = client.get(f"{TRIGGERS}/{trigger['trigger_id']}", headers=alice)
    assert read.status_code == 200, read.text
    assert read.json() == {"trigger": trigger, "webhook_url": answer["webhook_url"]}
    listed = client.get(TRIGGERS, params={"workflow_id": workflow_id}, headers=alice)
    assert listed.json()["triggers"] == [trigger]
    for later in (read, listed):
        assert secret not in later.text


def test_a_webhook_trigger_without_a_path_or_signature_gets_a_path_and_no_secret(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)

    answer = create_trigger(client, alice, workflow_id, "webhook", require_signature=False)

    path = answer["trigger"]["webhook_path"]
    assert path
    assert answer["webhook_url"] == f"http://testserver/api/v1/webhooks/{path}"
    assert answer["secret"] is None
    assert answer["trigger"]["has_secret"] is False


def test_a_schedule_trigger_answers_its_next_runs_in_its_time_zone(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)
    before = datetime.now(UTC)

    answer = create_trigger(
        client, alice, workflow_id, "schedule", expression=WEEKDAYS_AT_NINE, timezone="Europe/Paris"
    )

    assert answer["secret"] is None
    assert answer["webhook_url"] is None
    runs = [
        datetime.fromisoformat(r.replace("Z", "+00:00")) for r in answer["trigger"]["next_runs"]
    ]
    assert len(runs) == 3
    assert runs == sorted(set(runs))
    assert runs[0] > before
    paris = [r.astimezone(ZoneInfo("Europe/Paris")) for r in runs]
    assert all((p.hour, p.minute, p.second) == (9, 0, 0) for p in paris)
    assert all(p.weekday() < 5 for p in paris)  # Monday to Friday


def test_a_schedule_trigger_becomes_an_eventbridge_schedule_that_starts_the_starter(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)

    answer = create_trigger(
        client, alice, workflow_id, "schedule", expression=WEEKDAYS_AT_NINE, timezone="Asia/Tokyo"
    )

    trigger_id = answer["trigger"]["trigger_id"]
    [listed] = schedules(runtime)
    assert listed["Name"] == trigger_id
    assert listed["GroupName"] == GROUP
    schedule = get_schedule(runtime, trigger_id)
    assert schedule["ScheduleExpression"] == WEEKDAYS_AT_NINE
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    machine = runtime.clients.stepfunctions.describe_state_machine(stateMachineArn=target["Arn"])
    assert machine["name"].endswith("schedule-start")
    assert json.loads(target["Input"]) == {
        "owner": "alice",
        "trigger_id": trigger_id,
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "schedule_arn": "<aws.scheduler.schedule-arn>",
    }


def test_a_schedule_without_a_time_zone_runs_in_utc(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)

    answer = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 hour)")

    schedule = get_schedule(runtime, answer["trigger"]["trigger_id"])
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ScheduleExpression"] == "rate(1 hour)"


def test_a_schedule_of_an_inactive_workflow_is_created_disabled(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice, active=False)

    answer = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 hour)")

    assert get_schedule(runtime, answer["trigger"]["trigger_id"])["State"] == "DISABLED"


@pytest.mark.parametrize(
    ("config", "field", "hint"),
    [
        ({"expression": "cron(0 9 * * MON *)"}, "expression", "'?'"),
        ({"expression": "rate(0 minutes)"}, "expression", "at least 1"),
        ({"expression": "every day at nine"}, "expression", "rate(value unit)"),
        ({"expression": "rate(5 minutes)", "timezone": "Mars/Olympus"}, "timezone", "IANA"),
    ],
    ids=["cron-both-days", "rate-zero", "not-an-expression", "unknown-zone"],
)
def test_an_invalid_schedule_is_a_400_naming_the_field_and_the_fault(
    client: TestClient,
    alice: dict[str, str],
    runtime: EmbeddedRuntime,
    config: dict[str, str],
    field: str,
    hint: str,
) -> None:
    workflow_id = create_workflow(client, alice)

    response = post_trigger(client, alice, workflow_id, "schedule", config=config)

    error = refused(response, 400, "VALIDATION_ERROR")
    [item] = error["details"]["errors"]
    assert item["loc"][-2:] == ["config", field]
    assert hint in item["msg"]
    assert schedules(runtime) == []
    assert client.get(TRIGGERS, headers=alice).json()["total_count"] == 0


def test_an_unknown_trigger_type_is_a_400_at_type(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)

    response = post_trigger(client, alice, workflow_id, "email")

    error = refused(response, 400, "VALIDATION_ERROR")
    assert error["details"]["errors"][0]["loc"][-1] == "type"


def test_a_missing_or_another_users_workflow_is_not_found(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    alices = create_workflow(client, alice)

    for workflow_id, headers in (("no-such-workflow", alice), (alices, bob)):
        response = post_trigger(client, headers, workflow_id, "manual")
        refused(response, 404, "NOT_FOUND")
    assert client.get(TRIGGERS, headers=bob).json()["total_count"] == 0


def test_a_node_id_that_is_not_a_trigger_node_is_a_400(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)

    response = post_trigger(client, alice, workflow_id, "manual", node_id="echo")

    error = refused(response, 400, "VALIDATION_ERROR")
    [item] = error["details"]["errors"]
    assert item["loc"][-1] == "node_id"
    assert "echo" in item["msg"]


def test_a_user_id_other_than_the_caller_is_forbidden(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)

    response = post_trigger(client, alice, workflow_id, "manual", user_id="bob")

    refused(response, 403, "FORBIDDEN")


def test_a_taken_webhook_path_is_a_409_for_its_owner_and_for_anyone_else(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    alices = create_workflow(client, alice)
    bobs = create_workflow(client, bob)
    first = create_trigger(client, alice, alices, "webhook", path="shared/hook")

    again = post_trigger(client, alice, alices, "webhook", config={"path": "shared/hook"})
    stolen = post_trigger(client, bob, bobs, "webhook", config={"path": "shared/hook"})

    refused(again, 409, "CONFLICT")
    refused(stolen, 409, "CONFLICT")
    assert client.get(TRIGGERS, headers=bob).json()["triggers"] == []
    assert client.get(TRIGGERS, headers=alice).json()["triggers"] == [first["trigger"]]


# -- list, read, delete ----------------------------------------------------------------------------


def test_triggers_are_listed_by_workflow_and_read_one_at_a_time(
    client: TestClient, alice: dict[str, str]
) -> None:
    one = create_workflow(client, alice)
    other = create_workflow(client, alice)
    manual_one = create_trigger(client, alice, one, "manual")["trigger"]
    schedule_one = create_trigger(client, alice, one, "schedule", expression="rate(1 day)")[
        "trigger"
    ]
    manual_other = create_trigger(client, alice, other, "manual")["trigger"]

    of_one = client.get(TRIGGERS, params={"workflow_id": one}, headers=alice).json()
    everything = client.get(TRIGGERS, headers=alice).json()
    read = client.get(f"{TRIGGERS}/{schedule_one['trigger_id']}", headers=alice).json()

    assert [t["trigger_id"] for t in of_one["triggers"]] == [
        manual_one["trigger_id"],
        schedule_one["trigger_id"],
    ]
    assert of_one["total_count"] == 2
    assert of_one["has_more"] is False
    assert {t["trigger_id"] for t in everything["triggers"]} == {
        manual_one["trigger_id"],
        schedule_one["trigger_id"],
        manual_other["trigger_id"],
    }
    assert read["trigger"]["config"] == {"expression": "rate(1 day)", "timezone": "UTC"}
    assert read["webhook_url"] is None


def test_deleting_a_trigger_removes_its_schedule_and_frees_its_path(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)
    schedule = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)")
    hook = create_trigger(client, alice, workflow_id, "webhook", path="orders/paid")
    ids = [schedule["trigger"]["trigger_id"], hook["trigger"]["trigger_id"]]

    for trigger_id in ids:
        response = client.delete(f"{TRIGGERS}/{trigger_id}", headers=alice)
        assert response.status_code == 200, response.text
        assert response.json()["success"] is True

    assert schedules(runtime) == []
    for trigger_id in ids:
        refused(client.get(f"{TRIGGERS}/{trigger_id}", headers=alice), 404, "NOT_FOUND")
        refused(client.delete(f"{TRIGGERS}/{trigger_id}", headers=alice), 404, "NOT_FOUND")
        refused(client.get(f"{TRIGGERS}/{trigger_id}/events", headers=alice), 404, "NOT_FOUND")
        refused(
            client.post(f"{TRIGGERS}/{trigger_id}/fire", json={}, headers=alice), 404, "NOT_FOUND"
        )
    refused(client.post("/api/v1/webhooks/orders/paid", json={}), 404, "NOT_FOUND")
    again = create_trigger(client, alice, workflow_id, "webhook", path="orders/paid")
    assert again["trigger"]["trigger_id"] not in ids


def test_another_user_can_neither_see_nor_fire_nor_delete_a_trigger(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)")[
        "trigger"
    ]["trigger_id"]

    for response in (
        client.get(f"{TRIGGERS}/{trigger_id}", headers=bob),
        client.get(f"{TRIGGERS}/{trigger_id}/events", headers=bob),
        client.post(f"{TRIGGERS}/{trigger_id}/fire", json={}, headers=bob),
        client.delete(f"{TRIGGERS}/{trigger_id}", headers=bob),
    ):
        refused(response, 404, "NOT_FOUND")

    assert client.get(TRIGGERS, headers=bob).json()["triggers"] == []
    assert client.get(f"{TRIGGERS}/{trigger_id}", headers=alice).status_code == 200
    assert [s["Name"] for s in schedules(runtime)] == [trigger_id]
    assert events(client, alice, trigger_id)["events"] == []
    assert executions_of(client, alice, workflow_id) == []


# -- fire and the event log ------------------------------------------------------------------------


def test_firing_a_manual_trigger_runs_the_workflow_with_its_data(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "manual")["trigger"]["trigger_id"]

    response = client.post(
        f"{TRIGGERS}/{trigger_id}/fire", json={"data": {"order": 42}}, headers=alice
    )

    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    record = wait_for(client, alice, execution_id)
    assert record["status"] == "SUCCEEDED", record
    assert record["workflow_id"] == workflow_id
    assert record["trigger"] == {"node_id": "start", "type": "manual"}
    assert record["input"] == {"order": 42}
    assert record["output"] == {"received": {"order": 42}, "n": None}
    # `trigger_data`, as execute names it, is the same thing.
    again = client.post(
        f"{TRIGGERS}/{trigger_id}/fire", json={"trigger_data": {"order": 7}}, headers=alice
    )
    assert wait_for(client, alice, again.json()["execution_id"])["input"] == {"order": 7}


def test_firing_a_schedule_trigger_starts_at_the_schedule_node_with_a_scheduled_time(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)")[
        "trigger"
    ]["trigger_id"]
    before = datetime.now(UTC).replace(microsecond=0)

    record = wait_for(client, alice, fire(client, alice, trigger_id, {"note": "by hand"}))

    assert record["status"] == "SUCCEEDED", record
    assert record["trigger"] == {"node_id": "tick", "type": "schedule"}
    assert record["input"]["note"] == "by hand"
    scheduled = datetime.fromisoformat(record["input"]["scheduled_time"].replace("Z", "+00:00"))
    assert before <= scheduled <= datetime.now(UTC)


def test_the_event_log_lists_firings_newest_first_with_their_outcome(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "manual")["trigger"]["trigger_id"]
    good = fire(client, alice, trigger_id, {"n": "7"})
    assert wait_for(client, alice, good)["status"] == "SUCCEEDED"
    bad = fire(client, alice, trigger_id, {"n": "seven"})  # `echo` stops: not a number
    assert wait_for(client, alice, bad)["status"] == "FAILED"

    log = events(client, alice, trigger_id)

    assert [e["execution_id"] for e in log["events"]] == [bad, good]
    assert [e["outcome"] for e in log["events"]] == ["FAILED", "SUCCEEDED"]
    assert {e["status"] for e in log["events"]} == {"started"}
    assert {e["trigger_id"] for e in log["events"]} == {trigger_id}
    assert log["events"][0]["fired_at"] > log["events"][1]["fired_at"]
    assert log["has_more"] is False
    assert log["next_cursor"] is None


def test_firing_while_the_workflow_is_inactive_is_a_409_and_a_skipped_event(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice, active=False)
    trigger_id = create_trigger(client, alice, workflow_id, "manual")["trigger"]["trigger_id"]

    response = client.post(f"{TRIGGERS}/{trigger_id}/fire", json={}, headers=alice)

    refused(response, 409, "CONFLICT")
    [event] = events(client, alice, trigger_id)["events"]
    assert event["status"] == "skipped"
    assert event["execution_id"] is None
    assert event["error"]["code"] == "CONFLICT"
    assert executions_of(client, alice, workflow_id) == []


def test_the_event_log_pages_with_limit_and_cursor(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "manual")["trigger"]["trigger_id"]
    fired = [fire(client, alice, trigger_id, {"i": i}) for i in range(3)]
    for execution_id in fired:
        assert wait_for(client, alice, execution_id)["status"] in FINAL

    first = events(client, alice, trigger_id, limit=2)
    second = events(client, alice, trigger_id, limit=2, cursor=first["next_cursor"])
    whole = events(client, alice, trigger_id, limit=3)

    assert [e["execution_id"] for e in first["events"]] == fired[:0:-1]
    assert first["has_more"] is True
    assert first["next_cursor"]
    assert [e["execution_id"] for e in second["events"]] == fired[:1]
    assert second["has_more"] is False
    assert second["next_cursor"] is None
    assert [e["execution_id"] for e in whole["events"]] == fired[::-1]
    assert whole["has_more"] is False
    bad_cursor = client.get(
        f"{TRIGGERS}/{trigger_id}/events", params={"cursor": "not-ours"}, headers=alice
    )
    error = refused(bad_cursor, 400, "VALIDATION_ERROR")
    assert error["details"]["errors"][0]["loc"] == ["query", "cursor"]


# -- the workflow's state --------------------------------------------------------------------------


def test_deactivating_a_workflow_disables_its_schedules_and_reactivating_enables_them(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)
    ids = [
        create_trigger(client, alice, workflow_id, "schedule", **config)["trigger"]["trigger_id"]
        for config in (
            {"expression": "rate(1 day)"},
            {"expression": WEEKDAYS_AT_NINE, "timezone": "Europe/Paris"},
        )
    ]
    url = f"/api/v1/workflows/{workflow_id}"

    off = client.put(url, json={"active": False}, headers=alice)

    assert off.status_code == 200, off.text
    disabled = [get_schedule(runtime, i) for i in ids]
    assert [s["State"] for s in disabled] == ["DISABLED", "DISABLED"]
    # Only the state changed: the expression, zone and target stay.
    assert disabled[1]["ScheduleExpression"] == WEEKDAYS_AT_NINE
    assert disabled[1]["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert disabled[1]["Target"]["Arn"].endswith(":stateMachine:flowlane-schedule-start")

    on = client.put(url, json={"active": True}, headers=alice)

    assert on.status_code == 200, on.text
    assert [get_schedule(runtime, i)["State"] for i in ids] == ["ENABLED", "ENABLED"]


def test_an_occurrence_delivered_while_the_workflow_is_inactive_is_skipped(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice, active=False)
    trigger_id = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)")[
        "trigger"
    ]["trigger_id"]

    [ended] = deliver(runtime, trigger_id, OCCURRENCE, "late-delivery")

    assert ended["status"] == "SUCCEEDED"  # a refusal is final: no retry, no failed machine
    assert json.loads(ended["output"])["started"] is False
    [event] = events(client, alice, trigger_id)["events"]
    assert event["status"] == "skipped"
    assert event["scheduled_time"] == OCCURRENCE
    assert executions_of(client, alice, workflow_id) == []


def test_deleting_the_workflow_removes_its_triggers_schedules_and_paths_first(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)
    deployed = client.post(
        "/api/v1/workflow/deployments", json={"workflow_id": workflow_id}, headers=alice
    )
    assert deployed.status_code == 201, deployed.text
    node_hook = next(t for t in deployed.json()["triggers"] if t["trigger"]["type"] == "webhook")
    made = [
        create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)"),
        create_trigger(client, alice, workflow_id, "webhook", path="orders/in"),
        create_trigger(client, alice, workflow_id, "manual"),
    ]
    ran = fire(client, alice, made[2]["trigger"]["trigger_id"], {"n": "1"})
    assert wait_for(client, alice, ran)["status"] == "SUCCEEDED"
    all_ids = [t["trigger"]["trigger_id"] for t in [*deployed.json()["triggers"], *made]]
    assert len(schedules(runtime)) == 2  # the node's and the API's

    response = client.delete(f"/api/v1/workflows/{workflow_id}", headers=alice)

    assert response.status_code == 200, response.text
    assert schedules(runtime) == []
    assert client.get(TRIGGERS, headers=alice).json()["triggers"] == []
    for trigger_id in all_ids:
        refused(client.get(f"{TRIGGERS}/{trigger_id}", headers=alice), 404, "NOT_FOUND")
    for path in (node_hook["trigger"]["webhook_path"], "orders/in"):
        refused(client.post(f"/api/v1/webhooks/{path}", json={}), 404, "NOT_FOUND")
    # Its executions stay readable.
    kept = client.get(f"/api/v1/executions/{ran}", headers=alice)
    assert kept.status_code == 200
    assert kept.json()["status"] == "SUCCEEDED"
    # And its paths are free for anyone.
    other = create_workflow(client, bob)
    assert create_trigger(client, bob, other, "webhook", path="orders/in")["secret"]


# -- scheduled firings -----------------------------------------------------------------------------


def test_an_occurrence_runs_the_workflow_with_its_scheduled_time(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)")[
        "trigger"
    ]["trigger_id"]

    [ended] = deliver(runtime, trigger_id, OCCURRENCE, "on-time")

    assert ended["status"] == "SUCCEEDED", ended
    answer = json.loads(ended["output"])
    assert answer["started"] is True
    record = wait_for(client, alice, answer["execution_id"])
    assert record["status"] == "SUCCEEDED", record
    assert record["trigger"] == {"node_id": "tick", "type": "schedule"}
    assert record["input"] == {"scheduled_time": OCCURRENCE}
    [event] = events(client, alice, trigger_id)["events"]
    assert event["execution_id"] == answer["execution_id"]
    assert event["scheduled_time"] == OCCURRENCE
    assert event["outcome"] == "SUCCEEDED"


def test_an_occurrence_delivered_twice_starts_one_execution(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)")[
        "trigger"
    ]["trigger_id"]

    # Scheduler delivers at least once: the same occurrence twice, at the same moment.
    ended = deliver(runtime, trigger_id, OCCURRENCE, "delivery-1", "delivery-2")

    assert [e["status"] for e in ended] == ["SUCCEEDED", "SUCCEEDED"], ended
    answers = [json.loads(e["output"]) for e in ended]
    assert answers[0]["execution_id"] == answers[1]["execution_id"]
    [execution] = executions_of(client, alice, workflow_id)
    assert execution["execution_id"] == answers[0]["execution_id"]
    record = wait_for(client, alice, answers[0]["execution_id"])
    assert record["status"] == "SUCCEEDED", record
    # A later delivery of the same occurrence, once the first has ended, joins it too.
    [late] = deliver(runtime, trigger_id, OCCURRENCE, "delivery-3")
    assert json.loads(late["output"])["execution_id"] == answers[0]["execution_id"]
    assert len(executions_of(client, alice, workflow_id)) == 1


@pytest.fixture
def racing_delivery(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The next delivery that finds its occurrence's execution already claimed sees that
    execution's record as not written yet, once: what a delivery racing the first one sees
    (two concurrent deliveries hit this about one time in three on the embedded runtime)."""
    claim = ExecutionRepository.claim_idempotency_key
    read = ExecutionRepository.get
    seen = threading.local()
    armed = [True]

    def claiming(
        self: ExecutionRepository, owner: str, workflow_id: str, key: str, execution_id: str
    ) -> str:
        claimed = claim(self, owner, workflow_id, key, execution_id)
        seen.other = claimed if claimed != execution_id else None
        return claimed

    def reading(self: ExecutionRepository, owner: str, execution_id: str) -> Any:
        if armed[0] and getattr(seen, "other", None) == execution_id:
            armed[0] = False
            raise NotFound(f"execution {execution_id!r} not found")
        return read(self, owner, execution_id)

    monkeypatch.setattr(ExecutionRepository, "claim_idempotency_key", claiming)
    monkeypatch.setattr(ExecutionRepository, "get", reading)
    yield
    assert not armed[0], "no delivery raced"


def test_a_delivery_racing_the_first_one_logs_no_failed_firing(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime, racing_delivery: None
) -> None:
    workflow_id = create_workflow(client, alice)
    trigger_id = create_trigger(client, alice, workflow_id, "schedule", expression="rate(1 day)")[
        "trigger"
    ]["trigger_id"]
    [first] = deliver(runtime, trigger_id, OCCURRENCE, "first")
    started = json.loads(first["output"])["execution_id"]
    assert wait_for(client, alice, started)["status"] == "SUCCEEDED"

    # A second delivery of the occurrence, as it runs when it races the first.
    [second] = deliver(runtime, trigger_id, OCCURRENCE, "second")

    assert second["status"] == "SUCCEEDED", second
    assert json.loads(second["output"])["execution_id"] == started
    log = events(client, alice, trigger_id)["events"]
    assert [(e["status"], e["execution_id"]) for e in log] == [("started", started)]
