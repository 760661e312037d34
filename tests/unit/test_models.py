"""The workflow document's validators (CONTRACT.md section 2, the seed's rules)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowlane.models.workflow import (
    NodeType,
    WorkflowCreate,
    WorkflowData,
    WorkflowSettingsData,
    WorkflowUpdate,
    parse_revision,
)
from tests.conftest import workflow_body


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[tuple[object, ...], str]:
    return {tuple(e["loc"]): e["msg"] for e in exc.value.errors()}


def test_node_type_aliases_are_normalised() -> None:
    body = workflow_body(
        nodes=[
            {"id": "a", "type": "TRIGGER_NODE"},
            {"id": "b", "type": "ai_agent_node"},
            {"id": "c", "type": "Flow"},
        ]
    )
    workflow = WorkflowCreate.model_validate(body)
    assert [n.type for n in workflow.nodes] == [NodeType.TRIGGER, NodeType.AI_AGENT, NodeType.FLOW]
    assert workflow.model_dump(mode="json")["nodes"][0]["type"] == "TRIGGER"


def test_unknown_node_type_names_the_valid_ones() -> None:
    with pytest.raises(ValidationError) as exc:
        WorkflowCreate.model_validate(workflow_body(nodes=[{"id": "a", "type": "ROBOT"}]))
    message = _errors(exc)[("nodes", 0, "type")]
    assert "ROBOT" in message
    assert "HUMAN_IN_THE_LOOP" in message


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_blank_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        WorkflowCreate.model_validate(workflow_body(name=name))
    assert ("name",) in _errors(exc)


def test_name_is_trimmed() -> None:
    assert WorkflowCreate.model_validate(workflow_body(name="  Digest  ")).name == "Digest"


def test_a_workflow_needs_a_node() -> None:
    with pytest.raises(ValidationError) as exc:
        WorkflowCreate.model_validate(workflow_body(nodes=[]))
    assert "at least one node" in _errors(exc)[("nodes",)]


def test_node_ids_must_be_unique() -> None:
    nodes = [
        {"id": "a", "type": "ACTION"},
        {"id": "b", "type": "ACTION"},
        {"id": "a", "type": "FLOW"},
    ]
    with pytest.raises(ValidationError) as exc:
        WorkflowCreate.model_validate(workflow_body(nodes=nodes))
    assert "repeated: a" in _errors(exc)[("nodes",)]


def test_node_defaults_follow_the_seed() -> None:
    node = WorkflowCreate.model_validate(
        workflow_body(nodes=[{"id": "x", "type": "ACTION", "subtype": "set"}])
    ).nodes[0]
    assert node.name == "x"
    assert node.subtype == "SET"
    assert node.on_error == "continue"
    assert node.type_version == 1
    assert node.position.x == 0
    assert node.position.y == 0
    assert node.retry_policy is None


def test_parameters_hold_any_json() -> None:
    params = {"values": {"n": 2, "list": [1, "a", None], "ok": True}, "url": "https://x"}
    node = WorkflowCreate.model_validate(
        workflow_body(nodes=[{"id": "x", "type": "ACTION", "parameters": params}])
    ).nodes[0]
    assert node.parameters == params


@pytest.mark.parametrize(
    ("policy", "loc"),
    [
        ({"max_tries": 0}, "max_tries"),
        ({"max_tries": 11}, "max_tries"),
        ({"wait_between_tries": 301}, "wait_between_tries"),
    ],
)
def test_retry_policy_bounds(policy: dict[str, int], loc: str) -> None:
    nodes = [{"id": "x", "type": "ACTION", "retry_policy": policy}]
    with pytest.raises(ValidationError) as exc:
        WorkflowCreate.model_validate(workflow_body(nodes=nodes))
    assert ("nodes", 0, "retry_policy", loc) in _errors(exc)


def test_on_error_is_continue_or_stop() -> None:
    nodes = [{"id": "x", "type": "ACTION", "on_error": "explode"}]
    with pytest.raises(ValidationError) as exc:
        WorkflowCreate.model_validate(workflow_body(nodes=nodes))
    assert ("nodes", 0, "on_error") in _errors(exc)


@pytest.mark.parametrize("timeout", [59, 86401])
def test_settings_timeout_bounds(timeout: int) -> None:
    with pytest.raises(ValidationError):
        WorkflowSettingsData(timeout=timeout)


def test_settings_timezone_is_checked_and_seed_dict_accepted() -> None:
    assert WorkflowSettingsData.model_validate(
        {"timezone": {"timezone": "Europe/Paris"}}
    ).timezone == ("Europe/Paris")
    assert WorkflowSettingsData.model_validate({"timezone": {}}).timezone == "UTC"
    with pytest.raises(ValidationError, match="unknown time zone"):
        WorkflowSettingsData.model_validate({"timezone": "Mars/Olympus"})


def test_tags_are_trimmed_and_deduplicated() -> None:
    created = WorkflowCreate.model_validate(workflow_body(tags=[" a", "b", "a ", ""]))
    assert created.tags == ["a", "b"]


def test_client_chosen_ids_must_be_safe() -> None:
    with pytest.raises(ValidationError):
        WorkflowCreate.model_validate(workflow_body(id="../etc"))
    assert WorkflowCreate.model_validate(workflow_body(id="daily-digest")).id == "daily-digest"


def test_document_round_trips_through_json() -> None:
    created = WorkflowCreate.model_validate(workflow_body())
    doc = WorkflowData.model_validate(
        {
            **created.model_dump(exclude={"id", "user_id", "session_id"}),
            "id": "w1",
            "created_at": 1,
            "updated_at": 2,
            "revision": 3,
        }
    )
    assert WorkflowData.model_validate_json(doc.model_dump_json()) == doc


def test_update_reports_only_what_was_sent() -> None:
    update = WorkflowUpdate.model_validate({"name": " New ", "active": False, "user_id": "alice"})
    assert update.changes() == {"name": "New", "active": False}


def test_update_validates_like_create() -> None:
    with pytest.raises(ValidationError):
        WorkflowUpdate.model_validate({"name": "  "})
    with pytest.raises(ValidationError):
        WorkflowUpdate.model_validate({"nodes": []})


@pytest.mark.parametrize(("header", "revision"), [("3", 3), ('"3"', 3), ('W/"12"', 12)])
def test_if_match_forms(header: str, revision: int) -> None:
    assert parse_revision(header) == revision


def test_if_match_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="revision number"):
        parse_revision("abc")
