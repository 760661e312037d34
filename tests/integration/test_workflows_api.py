"""The workflows routes over the full app, on moto (CONTRACT.md section 5, first bullet)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import workflow_body

MakeWorkflow = Callable[..., dict[str, Any]]


def test_create_answers_201_with_the_stored_document(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.post("/api/v1/workflows", json=workflow_body(), headers=alice)

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    workflow = body["workflow"]
    assert workflow["name"] == "Daily digest"
    assert workflow["revision"] == 1
    assert workflow["version"] == "1.0"
    assert workflow["nodes"][0]["type"] == "TRIGGER"
    assert isinstance(workflow["created_at"], int)
    assert workflow["created_at"] == workflow["updated_at"]
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/api/v1/workflows/{workflow['id']}"


def test_get_returns_what_was_created(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)

    response = client.get(f"/api/v1/workflows/{created['id']}", headers=alice)

    assert response.status_code == 200
    assert response.json() == {"workflow": created, "found": True, "message": "workflow found"}


def test_client_chosen_id_is_kept_and_cannot_be_taken_twice(
    client: TestClient, alice: dict[str, str]
) -> None:
    first = client.post("/api/v1/workflows", json=workflow_body(id="digest"), headers=alice)
    second = client.post("/api/v1/workflows", json=workflow_body(id="digest"), headers=alice)

    assert first.status_code == 201
    assert first.json()["workflow"]["id"] == "digest"
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "CONFLICT"


def test_update_is_partial_and_bumps_the_revision(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)

    response = client.put(
        f"/api/v1/workflows/{created['id']}",
        json={"description": "Now with Slack", "active": False},
        headers={**alice, "If-Match": '"1"'},
    )

    assert response.status_code == 200, response.text
    updated = response.json()["workflow"]
    assert updated["description"] == "Now with Slack"
    assert updated["active"] is False
    assert updated["name"] == created["name"]
    assert updated["nodes"] == created["nodes"]
    assert updated["revision"] == 2
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]
    assert response.headers["ETag"] == '"2"'


def test_stale_if_match_is_409_with_the_current_revision(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)
    path = f"/api/v1/workflows/{created['id']}"
    assert client.put(path, json={"name": "v2"}, headers={**alice, "If-Match": "1"}).is_success

    response = client.put(path, json={"name": "v3"}, headers={**alice, "If-Match": "1"})

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "CONFLICT"
    assert error["details"]["current_revision"] == 2
    assert client.get(path, headers=alice).json()["workflow"]["name"] == "v2"


def test_update_without_if_match_applies_to_the_latest(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)
    path = f"/api/v1/workflows/{created['id']}"

    client.put(path, json={"name": "renamed"}, headers=alice)
    response = client.put(path, json={"tags": ["x"]}, headers=alice)

    assert response.json()["workflow"] | {"updated_at": 0} == {
        **created,
        "name": "renamed",
        "tags": ["x"],
        "revision": 3,
        "updated_at": 0,
    }


def _put_together(
    client: TestClient, path: str, requests: list[tuple[dict[str, Any], dict[str, str]]]
) -> list[Any]:
    """Send the PUTs at the same moment, one thread each; answers in request order."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def send(i: int) -> None:
        body, headers = requests[i]
        barrier.wait()
        answers[i] = client.put(path, json=body, headers=headers)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_updates_one_wins_the_other_conflicts(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)
    path = f"/api/v1/workflows/{created['id']}"
    if_match = {**alice, "If-Match": "1"}

    left, right = _put_together(
        client, path, [({"name": "left"}, if_match), ({"name": "right"}, if_match)]
    )

    assert sorted([left.status_code, right.status_code]) == [200, 409]
    winner = "left" if left.status_code == 200 else "right"
    loser = right if winner == "left" else left
    assert loser.json()["error"]["details"]["current_revision"] == 2
    stored = client.get(path, headers=alice).json()["workflow"]
    assert stored["name"] == winner
    assert stored["revision"] == 2


def test_concurrent_updates_without_if_match_both_apply(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)
    path = f"/api/v1/workflows/{created['id']}"

    answers = _put_together(
        client, path, [({"description": "changed"}, alice), ({"tags": ["changed"]}, alice)]
    )

    assert [a.status_code for a in answers] == [200, 200]
    stored = client.get(path, headers=alice).json()["workflow"]
    assert stored["description"] == "changed"
    assert stored["tags"] == ["changed"]
    assert stored["revision"] == 3


def test_an_update_that_changes_nothing_keeps_the_revision(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)
    path = f"/api/v1/workflows/{created['id']}"

    same_name = client.put(path, json={"name": created["name"]}, headers=alice)
    empty = client.put(path, json={}, headers={**alice, "If-Match": "1"})

    assert same_name.json()["workflow"] == created
    assert empty.json()["workflow"] == created
    assert empty.headers["ETag"] == '"1"'


def test_update_revalidates_the_whole_document(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)
    nodes = [{"id": "a", "type": "ACTION"}, {"id": "a", "type": "ACTION"}]

    response = client.put(
        f"/api/v1/workflows/{created['id']}", json={"nodes": nodes}, headers=alice
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["loc"] == ["body", "nodes"]
    stored = client.get(f"/api/v1/workflows/{created['id']}", headers=alice).json()["workflow"]
    assert stored["revision"] == 1


def test_delete_then_get_is_404(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    created = make_workflow(alice)
    path = f"/api/v1/workflows/{created['id']}"

    response = client.delete(path, headers=alice)

    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "workflow deleted"}
    assert client.get(path, headers=alice).status_code == 404
    assert client.delete(path, headers=alice).status_code == 404


def test_users_cannot_see_each_other(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    mine = make_workflow(alice)
    path = f"/api/v1/workflows/{mine['id']}"

    for response in (
        client.get(path, headers=bob),
        client.put(path, json={"name": "stolen"}, headers=bob),
        client.delete(path, headers=bob),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/api/v1/workflows", headers=bob).json()["workflows"] == []
    assert client.get(path, headers=alice).json()["workflow"]["name"] == mine["name"]


def test_user_id_in_a_body_or_query_must_be_the_caller(
    client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
) -> None:
    forged = client.post("/api/v1/workflows", json=workflow_body(user_id="bob"), headers=alice)
    own = client.post("/api/v1/workflows", json=workflow_body(user_id="alice"), headers=alice)
    listed = client.get("/api/v1/workflows?user_id=bob", headers=alice)
    fetched = client.get(
        f"/api/v1/workflows/{own.json()['workflow']['id']}?user_id=bob", headers=alice
    )
    updated = client.put(
        f"/api/v1/workflows/{own.json()['workflow']['id']}",
        json={"user_id": "bob", "name": "x"},
        headers=alice,
    )

    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "FORBIDDEN"
    assert own.status_code == 201
    assert listed.status_code == 403
    assert fetched.status_code == 403
    assert updated.status_code == 403
    assert client.get("/api/v1/workflows?user_id=alice", headers=alice).status_code == 200


class TestList:
    def test_newest_first_with_counts(
        self, client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
    ) -> None:
        ids = [make_workflow(alice, name=f"wf {i}")["id"] for i in range(3)]

        body = client.get("/api/v1/workflows", headers=alice).json()

        assert [w["id"] for w in body["workflows"]] == ids[::-1]
        assert body["total_count"] == 3
        assert body["has_more"] is False

    def test_active_only_defaults_to_true_as_in_the_seed(
        self, client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
    ) -> None:
        active = make_workflow(alice, name="on")
        inactive = make_workflow(alice, name="off", active=False)

        default = client.get("/api/v1/workflows", headers=alice).json()
        everything = client.get("/api/v1/workflows?active_only=false", headers=alice).json()

        assert [w["id"] for w in default["workflows"]] == [active["id"]]
        assert {w["id"] for w in everything["workflows"]} == {active["id"], inactive["id"]}

    def test_tags_filter_needs_every_tag(
        self, client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
    ) -> None:
        both = make_workflow(alice, tags=["sales", "daily"])
        make_workflow(alice, tags=["sales"])

        repeated = client.get("/api/v1/workflows?tags=sales&tags=daily", headers=alice).json()
        comma = client.get("/api/v1/workflows?tags=sales,daily", headers=alice).json()

        assert [w["id"] for w in repeated["workflows"]] == [both["id"]]
        assert [w["id"] for w in comma["workflows"]] == [both["id"]]

    def test_offset_pages(
        self, client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
    ) -> None:
        ids = [make_workflow(alice, name=f"wf {i}")["id"] for i in range(5)][::-1]

        first = client.get("/api/v1/workflows?limit=2", headers=alice).json()
        last = client.get("/api/v1/workflows?limit=2&offset=4", headers=alice).json()

        assert [w["id"] for w in first["workflows"]] == ids[:2]
        assert first["has_more"] is True
        assert first["total_count"] == 5
        assert [w["id"] for w in last["workflows"]] == ids[4:]
        assert last["has_more"] is False

    def test_cursor_pages_visit_each_workflow_once(
        self, client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
    ) -> None:
        ids = {make_workflow(alice, name=f"wf {i}")["id"] for i in range(7)}
        seen: list[str] = []
        url = "/api/v1/workflows?limit=3"
        while True:
            page = client.get(url, headers=alice).json()
            seen.extend(w["id"] for w in page["workflows"])
            if not page["has_more"]:
                assert page["next_cursor"] is None
                break
            url = f"/api/v1/workflows?limit=3&cursor={page['next_cursor']}"

        assert sorted(seen) == sorted(ids)
        assert len(seen) == len(ids)

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("offset=-1", "offset"),
            ("cursor=%21%21", "cursor"),
            ("offset=1&cursor=abc", "cursor"),
        ],
    )
    def test_bad_paging_is_400_naming_the_field(
        self, client: TestClient, alice: dict[str, str], query: str, field: str
    ) -> None:
        response = client.get(f"/api/v1/workflows?{query}", headers=alice)

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert field in [loc for e in error["details"]["errors"] for loc in e["loc"]]


class TestBadInput:
    def test_malformed_json(self, client: TestClient, alice: dict[str, str]) -> None:
        response = client.post(
            "/api/v1/workflows",
            content=b'{"name": "x", nodes: [}',
            headers={**alice, "Content-Type": "application/json"},
        )

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert "JSON" in error["message"]
        assert error["request_id"] == response.headers["X-Request-ID"]

    @pytest.mark.parametrize(
        ("overrides", "loc"),
        [
            ({"name": "  "}, ["body", "name"]),
            ({"nodes": []}, ["body", "nodes"]),
            (
                {"nodes": [{"id": "a", "type": "ACTION"}, {"id": "a", "type": "FLOW"}]},
                ["body", "nodes"],
            ),
            ({"nodes": [{"id": "a", "type": "NOPE"}]}, ["body", "nodes", 0, "type"]),
        ],
    )
    def test_invalid_documents_name_the_field(
        self, client: TestClient, alice: dict[str, str], overrides: dict[str, Any], loc: list[Any]
    ) -> None:
        response = client.post("/api/v1/workflows", json=workflow_body(**overrides), headers=alice)

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert loc in [e["loc"] for e in error["details"]["errors"]]
        assert ".".join(str(p) for p in loc) in error["message"]
        assert (
            client.get("/api/v1/workflows?active_only=false", headers=alice).json()["total_count"]
            == 0
        )

    def test_deeply_nested_json_is_400(self, client: TestClient, alice: dict[str, str]) -> None:
        deep = "[" * 100_000 + "]" * 100_000
        body = '{"name": "x", "nodes": [{"id": "a", "type": "ACTION", "parameters": {"p": %s}}]}'

        response = client.post(
            "/api/v1/workflows",
            content=(body % deep).encode(),
            headers={**alice, "Content-Type": "application/json"},
        )

        assert response.status_code == 400
        assert response.json()["error"]["details"]["errors"][0]["loc"] == ["body"]

    @pytest.mark.parametrize("body", ["[]", '"text"', "null"])
    def test_a_body_that_is_not_an_object(
        self, client: TestClient, alice: dict[str, str], body: str
    ) -> None:
        response = client.post(
            "/api/v1/workflows",
            content=body.encode(),
            headers={**alice, "Content-Type": "application/json"},
        )

        assert response.status_code == 400
        assert response.json()["error"]["details"]["errors"][0]["loc"] == ["body"]

    def test_a_form_encoded_body_says_to_send_json(
        self, client: TestClient, alice: dict[str, str]
    ) -> None:
        response = client.post(
            "/api/v1/workflows",
            content=b'{"name": "x"}',
            headers={**alice, "Content-Type": "application/x-www-form-urlencoded"},
        )

        assert response.status_code == 400
        assert "Content-Type: application/json" in response.json()["error"]["message"]

    def test_missing_name(self, client: TestClient, alice: dict[str, str]) -> None:
        body = workflow_body()
        del body["name"]

        response = client.post("/api/v1/workflows", json=body, headers=alice)

        assert response.status_code == 400
        assert ["body", "name"] in [e["loc"] for e in response.json()["error"]["details"]["errors"]]

    def test_bad_if_match(
        self, client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
    ) -> None:
        created = make_workflow(alice)

        response = client.put(
            f"/api/v1/workflows/{created['id']}",
            json={"name": "x"},
            headers={**alice, "If-Match": "yesterday"},
        )

        assert response.status_code == 400
        assert response.json()["error"]["details"]["errors"][0]["loc"] == ["header", "If-Match"]

    def test_body_workflow_id_must_match_the_path(
        self, client: TestClient, alice: dict[str, str], make_workflow: MakeWorkflow
    ) -> None:
        created = make_workflow(alice)

        response = client.put(
            f"/api/v1/workflows/{created['id']}",
            json={"workflow_id": "other", "name": "x"},
            headers=alice,
        )

        assert response.status_code == 400

    def test_unknown_workflow_is_404(self, client: TestClient, alice: dict[str, str]) -> None:
        response = client.get("/api/v1/workflows/nope", headers=alice)

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
