"""GET /node-templates, POST /workflows/validate and POST /workflows/{id}/test over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from flowlane.nodes.registry import catalogue
from tests.workflows import connections, manual, node, set_node


def test_node_templates_list_every_subtype_with_its_schema(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.get("/api/v1/node-templates", headers=alice)
    assert response.status_code == 200
    templates = response.json()["templates"]
    assert {(t["type"], t["subtype"]) for t in templates} == {
        (kind.value, subtype) for kind, subtype in catalogue()
    }
    assert response.json()["total_count"] == len(templates) >= 21
    by_id = {t["id"]: t for t in templates}
    http = by_id["ACTION.HTTP_REQUEST"]
    assert http["parameters_schema"]["type"] == "object"
    assert "url" in http["parameters_schema"]["required"]
    assert http["default_parameters"]["timeout_seconds"] == 30
    assert by_id["FLOW.IF"]["ports"]["outputs"] == ["true", "false", "error"]
    assert by_id["FLOW.SWITCH"]["ports"]["dynamic_outputs"] is True
    assert by_id["TRIGGER.MANUAL"]["ports"]["inputs"] == []
    assert set(by_id["AI_AGENT.CHAT"]["ports"]["inputs"]) >= {"main", "ai_tool", "ai_memory"}
    assert by_id["TOOL.HTTP_TOOL"]["attachable_as"] == ["ai_tool"]


def test_node_templates_filter_by_type(client: TestClient, alice: dict[str, str]) -> None:
    for value in ("FLOW", "flow_node"):
        response = client.get("/api/v1/node-templates", params={"type": value}, headers=alice)
        assert response.status_code == 200
        assert {t["subtype"] for t in response.json()["templates"]} == {
            "IF",
            "SWITCH",
            "FILTER",
            "MERGE",
            "LOOP",
            "WAIT",
        }
    bad = client.get("/api/v1/node-templates", params={"type": "ROBOT"}, headers=alice)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "TRIGGER" in bad.json()["error"]["message"]
    assert client.get("/api/v1/node-templates").status_code == 401


def draft(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": "draft",
        "nodes": [
            manual(),
            node("fetch", "ACTION", "HTTP_REQUEST", parameters={"url": "https://example.com"}),
        ],
        "connections": connections(("start", "main", "fetch")),
    }
    document.update(overrides)
    return document


def test_validate_reports_errors_naming_node_and_field(
    client: TestClient, alice: dict[str, str]
) -> None:
    ok = client.post("/api/v1/workflows/validate", json={"workflow": draft()}, headers=alice)
    assert ok.status_code == 200
    assert ok.json() == {"valid": True, "errors": [], "warnings": []}

    broken = draft(
        nodes=[
            manual(),
            node("fetch", "ACTION", "HTTP_REQUEST", parameters={"method": "FETCH"}),
            set_node("lonely", {"x": "{{ (1 }}"}),
        ],
        connections=connections(("start", "main", "fetch"), ("fetch", "sideways", "ghost")),
    )
    report = client.post(
        "/api/v1/workflows/validate", json={"workflow_data": broken}, headers=alice
    ).json()
    assert report["valid"] is False
    codes = {(e["code"], e["node_id"], e["field"]) for e in report["errors"]}
    assert ("INVALID_PARAMETER", "fetch", "parameters.url") in codes
    assert ("INVALID_PARAMETER", "fetch", "parameters.method") in codes
    assert ("EXPRESSION_SYNTAX", "lonely", "parameters.values.x") in codes
    assert any(e["code"] in ("DANGLING_CONNECTION", "UNKNOWN_PORT") for e in report["errors"])
    assert {w["code"] for w in report["warnings"]} >= {"UNREACHABLE_NODE"}


def test_validate_answers_a_document_that_does_not_parse(
    client: TestClient, alice: dict[str, str]
) -> None:
    report = client.post(
        "/api/v1/workflows/validate", json={"workflow": {"name": " ", "nodes": []}}, headers=alice
    )
    assert report.status_code == 200
    assert report.json()["valid"] is False
    assert report.json()["errors"][0]["code"] == "INVALID_DOCUMENT"
    missing = client.post("/api/v1/workflows/validate", json={}, headers=alice)
    assert missing.status_code == 400
    other = client.post(
        "/api/v1/workflows/validate", json={"workflow": draft(), "user_id": "bob"}, headers=alice
    )
    assert other.status_code == 403


def test_a_dry_run_answers_with_the_execution_shape(
    client: TestClient, alice: dict[str, str], make_workflow: Callable[..., dict[str, Any]]
) -> None:
    workflow = make_workflow(
        alice,
        nodes=[manual(), set_node("greet", {"text": "hi {{ input.name }}"})],
        connections=connections(("start", "main", "greet")),
    )
    response = client.post(
        f"/api/v1/workflows/{workflow['id']}/test",
        json={"trigger_data": {"name": "Ada"}},
        headers=alice,
    )
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["status"] == "SUCCEEDED"
    assert record["workflow_id"] == workflow["id"]
    assert record["mode"] == "test"
    assert record["output"] == {"text": "hi Ada"}
    assert record["input"] == {"name": "Ada"}
    run = record["node_runs"][1]
    assert set(run) >= {
        "node_id",
        "status",
        "input",
        "output",
        "error",
        "attempts",
        "port",
        "started_at",
        "ended_at",
    }
    assert run["input"] == {"name": "Ada"}


def test_a_dry_run_of_a_draft_with_errors_is_refused_with_the_list(
    client: TestClient,
    alice: dict[str, str],
    bob: dict[str, str],
    make_workflow: Callable[..., dict[str, Any]],
) -> None:
    workflow = make_workflow(
        alice,
        nodes=[manual(), node("fetch", "ACTION", "HTTP_REQUEST", parameters={})],
        connections=connections(("start", "main", "fetch")),
    )
    # Saving keeps the draft; running it is refused.
    response = client.post(f"/api/v1/workflows/{workflow['id']}/test", json={}, headers=alice)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert ["nodes", "fetch", "parameters", "url"] in [e["loc"] for e in error["details"]["errors"]]
    # Another user's workflow does not exist for them.
    assert (
        client.post(f"/api/v1/workflows/{workflow['id']}/test", json={}, headers=bob).status_code
        == 404
    )


def test_a_dry_run_can_start_at_a_named_trigger(
    client: TestClient, alice: dict[str, str], make_workflow: Callable[..., dict[str, Any]]
) -> None:
    workflow = make_workflow(
        alice,
        nodes=[
            manual(),
            node("hook", "TRIGGER", "WEBHOOK", parameters={"path": "in"}),
            set_node("a", {"via": "manual"}),
            set_node("b", {"got": "{{ input.body }}"}),
        ],
        connections=connections(("start", "main", "a"), ("hook", "main", "b")),
    )
    url = f"/api/v1/workflows/{workflow['id']}/test"
    response = client.post(
        url, json={"trigger_data": {"k": 1}, "trigger_node": "hook"}, headers=alice
    )
    assert response.json()["output"] == {"got": {"k": 1}}
    bad = client.post(url, json={"trigger_node": "a"}, headers=alice)
    assert bad.status_code == 400


def test_a_stored_workflow_keeps_its_error_policy(
    client: TestClient, alice: dict[str, str], make_workflow: Callable[..., dict[str, Any]]
) -> None:
    workflow = make_workflow(
        alice,
        nodes=[
            manual(),
            set_node("bad", {"x": "{{ $uppercase }}"}),
            set_node("after", {"saw": "{{ input }}"}),
            set_node("pinned", {"never": "run"}),
        ],
        connections=connections(
            ("start", "main", "bad"), ("bad", "main", "after"), ("start", "main", "pinned")
        ),
        settings={"error_policy": "stop"},
        pin_data={"pinned": {"from": "the workflow"}},
    )
    record = client.post(f"/api/v1/workflows/{workflow['id']}/test", json={}, headers=alice).json()
    # The workflow-wide policy stops the run even though the node says continue (the default).
    assert record["status"] == "FAILED"
    assert record["error"]["code"] == "EXPRESSION_ERROR"
    assert "function" in record["error"]["message"]
    runs = {r["node_id"]: r for r in record["node_runs"]}
    assert "after" not in runs


def test_the_workflows_pin_data_is_used_and_the_requests_wins(
    client: TestClient, alice: dict[str, str], make_workflow: Callable[..., dict[str, Any]]
) -> None:
    workflow = make_workflow(
        alice,
        nodes=[manual(), set_node("a", {"never": "run"}), set_node("b", {"never": "run"})],
        connections=connections(("start", "main", "a"), ("start", "main", "b")),
        pin_data={"a": {"from": "the workflow"}, "b": {"from": "the workflow"}},
    )
    url = f"/api/v1/workflows/{workflow['id']}/test"
    record = client.post(url, json={"pin_data": {"b": {"from": "the request"}}}, headers=alice)
    assert record.json()["output"] == {"a": {"from": "the workflow"}, "b": {"from": "the request"}}


def test_a_chat_node_can_lend_its_model_to_an_agent(
    client: TestClient, alice: dict[str, str]
) -> None:
    document = draft(
        nodes=[
            manual(),
            node("agent", "AI_AGENT", "CHAT", parameters={"prompt": "hi"}),
            node("model", "AI_AGENT", "CHAT", parameters={"provider": "offline", "prompt": "-"}),
        ],
        connections=connections(
            ("start", "main", "agent"), ("model", "main", "agent", 0, "ai_model")
        ),
    )
    report = client.post("/api/v1/workflows/validate", json={"workflow": document}, headers=alice)
    assert report.json()["errors"] == []
