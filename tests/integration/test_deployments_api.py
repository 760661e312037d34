"""Deployments (CONTRACT.md sections 5 "Runtime" and 6): a deployment pins a revision, makes
its state machine and its triggers; PUT redeploys or rolls back; DELETE cleans up. Everything
runs on the embedded runtime, so schedules are real EventBridge Scheduler schedules on moto and
executions run the compiled machines for real."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient

from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.services import Services
from flowlane.runtime.webhook_signature import sign
from tests.integration.test_execute_api import wait_for
from tests.workflows import connections, manual, node, set_node

DEPLOYMENTS = "/api/v1/workflow/deployments"


def hook(node_id: str = "hook", **parameters: Any) -> dict[str, Any]:
    return node(node_id, "TRIGGER", "WEBHOOK", parameters=parameters)


def schedule(node_id: str = "tick", expression: str = "rate(5 minutes)") -> dict[str, Any]:
    return node(node_id, "TRIGGER", "SCHEDULE", parameters={"expression": expression})


def labelled(label: str, *triggers: dict[str, Any]) -> dict[str, Any]:
    """A workflow whose output says which revision ran: {label}."""
    nodes = [*triggers, set_node("out", {"label": label})]
    edges = [(t["id"], "main", "out") for t in triggers]
    return {"name": f"labelled {label}", "nodes": nodes, "connections": connections(*edges)}


def create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = client.post("/api/v1/workflows", json=body, headers=headers)
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["workflow"]["id"]
    return workflow_id


def deploy(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(DEPLOYMENTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def schedules(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    client = runtime.clients.client("scheduler")
    found: list[dict[str, Any]] = []
    for group in client.list_schedule_groups()["ScheduleGroups"]:
        found.extend(client.list_schedules(GroupName=group["Name"])["Schedules"])
    return found


def machine_exists(runtime: EmbeddedRuntime, arn: str) -> bool:
    sfn = runtime.clients.stepfunctions
    try:
        sfn.describe_state_machine(stateMachineArn=arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        return False
    return True


def signed_call(client: TestClient, path: str, secret: str, payload: Any) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    response = client.post(
        f"/api/v1/webhooks/{path}",
        content=body,
        headers={
            "content-type": "application/json",
            "X-Flowlane-Signature": sign(secret, body, int(time.time())),
        },
    )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def fire(client: TestClient, headers: dict[str, str], trigger_id: str) -> str:
    response = client.post(f"/api/v1/triggers/{trigger_id}/fire", json={}, headers=headers)
    assert response.status_code == 202, response.text
    execution_id: str = response.json()["execution_id"]
    return execution_id


# -- deploy ------------------------------------------------------------------------------------


def test_deploying_pins_the_revision_creates_the_machine_and_the_node_triggers(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create(client, alice, labelled("v1", hook(path="orders/new"), schedule()))

    answer = deploy(client, alice, workflow_id=workflow_id)

    assert answer["status"] == "active"
    assert answer["version"] == 1
    assert answer["revision"] == 1
    assert answer["webhook_url"] == "http://testserver/api/v1/webhooks/orders/new"
    assert answer["created_at"].endswith("Z")
    assert machine_exists(runtime, answer["state_machine_arn"])
    kinds = {t["trigger"]["type"]: t for t in answer["triggers"]}
    assert set(kinds) == {"webhook", "schedule"}
    assert kinds["webhook"]["secret"].startswith("whsec_")  # shown once, here
    assert kinds["schedule"]["secret"] is None
    [made] = schedules(runtime)
    assert made["Name"] == kinds["schedule"]["trigger"]["trigger_id"]
    assert made["GroupName"] == "flowlane-dev"
    detail = runtime.clients.client("scheduler").get_schedule(
        Name=made["Name"], GroupName="flowlane-dev"
    )
    assert detail["ScheduleExpression"] == "rate(5 minutes)"
    assert detail["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert detail["Target"]["Arn"].endswith(":stateMachine:flowlane-schedule-start")
    assert json.loads(detail["Target"]["Input"])["scheduled_time"] == (
        "<aws.scheduler.scheduled-time>"
    )

    read = client.get(f"{DEPLOYMENTS}/{answer['deployment_id']}", headers=alice).json()
    assert read["versions"][0]["revision"] == 1
    assert all(t.get("secret") is None for t in read["triggers"])  # never again


def test_a_signed_webhook_call_runs_the_deployed_revision(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create(client, alice, labelled("v1", hook(path="deployed/hook")))
    answer = deploy(client, alice, workflow_id=workflow_id)
    secret = answer["triggers"][0]["secret"]

    started = signed_call(client, "deployed/hook", secret, {"order": 7})

    record = wait_for(client, alice, started["execution_id"])
    assert record["status"] == "SUCCEEDED", record
    assert record["output"] == {"label": "v1"}
    assert record["trigger"]["type"] == "webhook"
    assert record["input"]["body"] == {"order": 7}


def test_the_seed_request_saves_the_workflow_and_creates_the_listed_triggers(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    definition = labelled("seed", manual())

    answer = deploy(
        client,
        alice,
        workflow_definition=definition,
        name="Seed deployment",
        description="from the gateway's request shape",
        triggers=[
            {
                "type": "schedule",
                "config": {"expression": "cron(0 9 ? * MON-FRI *)", "timezone": "Europe/Paris"},
            },
            {"type": "webhook", "config": {"path": "seed/path", "require_signature": False}},
        ],
    )

    assert answer["name"] == "Seed deployment"
    saved = client.get(f"/api/v1/workflows/{answer['workflow_id']}", headers=alice).json()
    assert saved["workflow"]["name"] == "Seed deployment"
    assert saved["workflow"]["description"] == "from the gateway's request shape"
    assert answer["webhook_url"].endswith("/api/v1/webhooks/seed/path")
    [made] = schedules(runtime)
    detail = runtime.clients.client("scheduler").get_schedule(
        Name=made["Name"], GroupName="flowlane-dev"
    )
    assert detail["ScheduleExpressionTimezone"] == "Europe/Paris"
    # Unsigned by choice: the call needs no signature, and runs the deployed revision.
    response = client.post("/api/v1/webhooks/seed/path", json={"x": 1})
    assert response.status_code == 202, response.text
    record = wait_for(client, alice, response.json()["execution_id"])
    assert record["output"] == {"label": "seed"}


def test_a_workflow_is_deployed_once(client: TestClient, alice: dict[str, str]) -> None:
    workflow_id = create(client, alice, labelled("v1", manual()))
    first = deploy(client, alice, workflow_id=workflow_id)

    again = client.post(DEPLOYMENTS, json={"workflow_id": workflow_id}, headers=alice)

    assert again.status_code == 409
    assert again.json()["error"]["details"]["deployment_id"] == first["deployment_id"]


def test_bad_deploy_requests_are_refused_and_leave_nothing_behind(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    # Neither or both sources.
    assert client.post(DEPLOYMENTS, json={}, headers=alice).status_code == 400
    # An unknown workflow.
    assert client.post(DEPLOYMENTS, json={"workflow_id": "nope"}, headers=alice).status_code == 404
    # An invalid schedule in the listed triggers: 400 at that field, and nothing written.
    workflow_id = create(client, alice, labelled("v1", manual()))
    response = client.post(
        DEPLOYMENTS,
        json={
            "workflow_id": workflow_id,
            "triggers": [{"type": "schedule", "config": {"expression": "cron(0 9 * * *)"}}],
        },
        headers=alice,
    )
    assert response.status_code == 400
    [error] = response.json()["error"]["details"]["errors"]
    assert error["loc"] == ["body", "triggers", 0, "config", "expression"]
    assert "6 fields" in error["msg"]
    # An invalid workflow definition in the seed form: 400, no workflow saved.
    response = client.post(
        DEPLOYMENTS,
        json={"workflow_definition": {"name": "", "nodes": []}, "triggers": []},
        headers=alice,
    )
    assert response.status_code == 400
    assert client.get(DEPLOYMENTS, headers=alice).json()["total_count"] == 0
    listed = client.get("/api/v1/workflows?active_only=false", headers=alice).json()
    assert listed["total_count"] == 1  # only the one created above
    assert schedules(runtime) == []


def test_a_taken_webhook_path_undoes_the_whole_deploy(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    # Bob holds the path.
    deploy(client, bob, workflow_id=create(client, bob, labelled("bob", hook(path="shared"))))
    # Alice's seed deploy wants it too, after a schedule that was already made.
    definition = labelled("alice", schedule(), hook(path="shared"))

    response = client.post(DEPLOYMENTS, json={"workflow_definition": definition}, headers=alice)

    assert response.status_code == 409
    assert response.json()["error"]["details"]["path"] == "shared"
    assert client.get(DEPLOYMENTS, headers=alice).json()["deployments"] == []
    assert client.get("/api/v1/triggers", headers=alice).json()["triggers"] == []
    listed = client.get("/api/v1/workflows?active_only=false", headers=alice).json()
    assert listed["workflows"] == []  # the definition saved for this request is gone again
    assert schedules(runtime) == []  # bob's workflow has no schedule; alice's was undone


def test_another_users_deployment_is_not_found(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    answer = deploy(client, alice, workflow_id=create(client, alice, labelled("v1", manual())))
    url = f"{DEPLOYMENTS}/{answer['deployment_id']}"

    assert client.get(url, headers=bob).status_code == 404
    assert client.put(url, json={}, headers=bob).status_code == 404
    assert client.delete(url, headers=bob).status_code == 404
    assert client.get(DEPLOYMENTS, headers=bob).json()["deployments"] == []
    # Nor may bob deploy alice's workflow.
    refused = client.post(DEPLOYMENTS, json={"workflow_id": answer["workflow_id"]}, headers=bob)
    assert refused.status_code == 404


def test_deployments_are_listed_newest_first_with_paging(
    client: TestClient, alice: dict[str, str]
) -> None:
    ids = [
        deploy(client, alice, workflow_id=create(client, alice, labelled(str(i), manual())))[
            "deployment_id"
        ]
        for i in range(3)
    ]

    page = client.get(f"{DEPLOYMENTS}?limit=2", headers=alice).json()
    rest = client.get(f"{DEPLOYMENTS}?limit=2&offset=2", headers=alice).json()

    assert page["total_count"] == 3
    assert page["has_more"] is True
    assert [d["deployment_id"] for d in page["deployments"] + rest["deployments"]] == ids[::-1]
    assert rest["has_more"] is False


# -- redeploy and roll back --------------------------------------------------------------------


def test_redeploy_pins_the_new_revision_and_rollback_runs_the_older_one(
    client: TestClient, alice: dict[str, str]
) -> None:
    workflow_id = create(client, alice, labelled("v1", manual()))
    answer = deploy(client, alice, workflow_id=workflow_id)
    url = f"{DEPLOYMENTS}/{answer['deployment_id']}"
    trigger = client.post(
        "/api/v1/triggers", json={"workflow_id": workflow_id, "type": "manual"}, headers=alice
    ).json()["trigger"]["trigger_id"]
    # The workflow moves on: revision 2 says v2. Its deployment still runs revision 1.
    changed = labelled("v2", manual())
    client.put(f"/api/v1/workflows/{workflow_id}", json=changed, headers=alice)
    assert wait_for(client, alice, fire(client, alice, trigger))["output"] == {"label": "v1"}

    redeployed = client.put(url, json={}, headers=alice).json()

    assert (redeployed["version"], redeployed["revision"]) == (2, 2)
    assert [v["action"] for v in redeployed["versions"]] == ["deploy", "redeploy"]
    record = wait_for(client, alice, fire(client, alice, trigger))
    assert record["output"] == {"label": "v2"}

    rolled = client.put(url, json={"rollback_to_version": 1}, headers=alice).json()

    assert (rolled["version"], rolled["revision"]) == (1, 1)
    assert rolled["message"].startswith("rolled back to version 1")
    record = wait_for(client, alice, fire(client, alice, trigger))
    assert record["status"] == "SUCCEEDED"
    assert record["output"] == {"label": "v1"}
    # The API's own execute still runs the workflow's latest revision.
    started = client.post(
        f"/api/v1/workflows/{workflow_id}/execute", json={"trigger_data": {}}, headers=alice
    ).json()
    assert wait_for(client, alice, started["execution_id"])["output"] == {"label": "v2"}


def test_rolling_back_to_a_version_that_does_not_exist_is_a_400(
    client: TestClient, alice: dict[str, str]
) -> None:
    answer = deploy(client, alice, workflow_id=create(client, alice, labelled("v1", manual())))

    response = client.put(
        f"{DEPLOYMENTS}/{answer['deployment_id']}",
        json={"rollback_to_version": 5},
        headers=alice,
    )

    assert response.status_code == 400
    [error] = response.json()["error"]["details"]["errors"]
    assert error["loc"] == ["body", "rollback_to_version"]
    assert "versions 1 to 1" in error["msg"]
    bad = client.put(
        f"{DEPLOYMENTS}/{answer['deployment_id']}",
        json={"rollback_to_version": 0},
        headers=alice,
    )
    assert bad.status_code == 400


def test_node_triggers_follow_the_revision_that_runs(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create(
        client, alice, labelled("v1", hook(path="follow/me"), schedule(expression="rate(1 hour)"))
    )
    answer = deploy(client, alice, workflow_id=workflow_id)
    url = f"{DEPLOYMENTS}/{answer['deployment_id']}"
    secret = next(t["secret"] for t in answer["triggers"] if t["trigger"]["type"] == "webhook")
    # Revision 2: the schedule changes, the webhook node is gone.
    client.put(
        f"/api/v1/workflows/{workflow_id}",
        json=labelled("v2", schedule(expression="rate(2 hours)")),
        headers=alice,
    )

    client.put(url, json={}, headers=alice)

    [made] = schedules(runtime)
    detail = runtime.clients.client("scheduler").get_schedule(
        Name=made["Name"], GroupName="flowlane-dev"
    )
    assert detail["ScheduleExpression"] == "rate(2 hours)"
    assert client.post("/api/v1/webhooks/follow/me", json={}).status_code == 404

    # Back to version 1: the webhook returns (same path), the schedule is hourly again.
    rolled = client.put(url, json={"rollback_to_version": 1}, headers=alice).json()

    [made] = schedules(runtime)
    detail = runtime.clients.client("scheduler").get_schedule(
        Name=made["Name"], GroupName="flowlane-dev"
    )
    assert detail["ScheduleExpression"] == "rate(1 hour)"
    [new_hook] = [t for t in rolled["triggers"] if t["trigger"]["type"] == "webhook"]
    assert new_hook["trigger"]["webhook_path"] == "follow/me"
    assert new_hook["secret"] != secret  # a new trigger, a new secret, shown once
    started = signed_call(client, "follow/me", new_hook["secret"], {})
    assert wait_for(client, alice, started["execution_id"])["output"] == {"label": "v1"}


# -- delete ------------------------------------------------------------------------------------


def test_deleting_a_deployment_removes_its_schedules_paths_and_machines(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime, services: Services
) -> None:
    workflow_id = create(client, alice, labelled("v1", hook(path="gone/soon"), schedule()))
    answer = deploy(client, alice, workflow_id=workflow_id)
    url = f"{DEPLOYMENTS}/{answer['deployment_id']}"
    # Revision 2 has another shape, so another machine (machines are named by their content).
    longer = labelled("v2", hook(path="gone/soon"), schedule())
    longer["nodes"].append(set_node("more", {"n": 2}))
    longer["connections"] = connections(
        ("hook", "main", "out"), ("tick", "main", "out"), ("out", "main", "more")
    )
    changed = client.put(f"/api/v1/workflows/{workflow_id}", json=longer, headers=alice)
    assert changed.status_code == 200, changed.text
    redeployed = client.put(url, json={}, headers=alice).json()
    machines = {v["state_machine_arn"] for v in redeployed["versions"]}
    assert len(machines) == 2

    response = client.delete(url, headers=alice)

    assert response.status_code == 200, response.text
    assert response.json()["removed_triggers"] == 2
    assert response.json()["removed_state_machines"] == 2
    assert schedules(runtime) == []
    assert client.post("/api/v1/webhooks/gone/soon", json={}).status_code == 404
    assert not any(machine_exists(runtime, arn) for arn in machines)
    assert client.get(url, headers=alice).status_code == 404
    assert client.get(f"/api/v1/workflows/{workflow_id}", headers=alice).status_code == 200
    # The workflow can be deployed afresh, and its machine is made again.
    again = deploy(client, alice, workflow_id=workflow_id)
    assert machine_exists(runtime, again["state_machine_arn"])


def test_deleting_the_workflow_removes_its_deployment_first(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    workflow_id = create(client, alice, labelled("v1", hook(path="wf/delete"), schedule()))
    answer = deploy(client, alice, workflow_id=workflow_id)
    secret = next(t["secret"] for t in answer["triggers"] if t["trigger"]["type"] == "webhook")
    started = signed_call(client, "wf/delete", secret, {})
    wait_for(client, alice, started["execution_id"])

    assert client.delete(f"/api/v1/workflows/{workflow_id}", headers=alice).status_code == 200

    assert schedules(runtime) == []
    assert client.get(f"{DEPLOYMENTS}/{answer['deployment_id']}", headers=alice).status_code == 404
    assert client.get("/api/v1/triggers", headers=alice).json()["triggers"] == []
    assert client.post("/api/v1/webhooks/wf/delete", json={}).status_code == 404
    # Its executions stay readable.
    kept = client.get(f"/api/v1/executions/{started['execution_id']}", headers=alice)
    assert kept.status_code == 200


def test_a_redeploy_refused_for_a_taken_path_moves_nothing(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    deploy(client, bob, workflow_id=create(client, bob, labelled("bob", hook(path="bobs/path"))))
    workflow_id = create(client, alice, labelled("v1", hook(path="alices/path")))
    answer = deploy(client, alice, workflow_id=workflow_id)
    url = f"{DEPLOYMENTS}/{answer['deployment_id']}"
    before = client.get("/api/v1/triggers", headers=alice).json()["triggers"]
    # Revision 2 moves its webhook onto bob's path.
    client.put(
        f"/api/v1/workflows/{workflow_id}",
        json=labelled("v2", hook(path="bobs/path")),
        headers=alice,
    )

    response = client.put(url, json={}, headers=alice)

    assert response.status_code == 409
    assert response.json()["error"]["details"]["path"] == "bobs/path"
    read = client.get(url, headers=alice).json()
    assert (read["version"], read["revision"]) == (1, 1)
    assert [v["version"] for v in read["versions"]] == [1]
    assert client.get("/api/v1/triggers", headers=alice).json()["triggers"] == before
    assert client.post("/api/v1/webhooks/alices/path", json={}).status_code == 401  # still hers


def test_a_machine_with_a_running_execution_is_kept_when_its_deployment_goes(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    body = labelled("slow", manual())
    body["nodes"].append(node("pause", "FLOW", "WAIT", parameters={"seconds": 2}))
    body["connections"] = connections(("start", "main", "pause"), ("pause", "main", "out"))
    workflow_id = create(client, alice, body)
    answer = deploy(client, alice, workflow_id=workflow_id)
    started = client.post(
        f"/api/v1/workflows/{workflow_id}/execute", json={"trigger_data": {}}, headers=alice
    ).json()

    response = client.delete(f"{DEPLOYMENTS}/{answer['deployment_id']}", headers=alice)

    # Step Functions would terminate the running execution: the machine stays, the run ends well.
    assert response.json()["removed_state_machines"] == 0
    assert machine_exists(runtime, answer["state_machine_arn"])
    record = wait_for(client, alice, started["execution_id"])
    assert record["status"] == "SUCCEEDED"
    assert record["output"] == {"label": "slow"}
