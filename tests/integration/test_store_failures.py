"""When AWS fails, the client gets 502 UPSTREAM_ERROR and nothing is half-written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from fastapi.testclient import TestClient

from flowlane.runtime.embedded import EmbeddedRuntime
from tests.conftest import workflow_body

BIG = {"static_data": {"blob": "y" * 400_000}}  # over the 300 KB offload threshold


def _objects(runtime: EmbeddedRuntime) -> list[str]:
    listed = runtime.clients.s3.list_objects_v2(Bucket=runtime.store.payload_bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture
def fail_dynamodb(runtime: EmbeddedRuntime) -> Iterator[Callable[[str], None]]:
    """Make one DynamoDB operation answer as DynamoDB does when it is unavailable."""
    events = runtime.clients.dynamodb.meta.events
    registered: list[tuple[str, Any]] = []

    def fail(operation: str) -> None:
        def unavailable(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            http = AWSResponse("https://dynamodb", 500, {}, None)
            parsed = {
                "Error": {"Code": "InternalServerError", "Message": "try again"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            }
            return http, parsed

        name = f"before-call.dynamodb.{operation}"
        events.register(name, unavailable)
        registered.append((name, unavailable))

    yield fail
    for name, handler in registered:
        events.unregister(name, handler)


def test_failing_create_is_502_and_stores_nothing(
    client: TestClient,
    alice: dict[str, str],
    runtime: EmbeddedRuntime,
    fail_dynamodb: Callable[[str], None],
) -> None:
    fail_dynamodb("PutItem")

    response = client.post("/api/v1/workflows", json=workflow_body(**BIG), headers=alice)

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "UPSTREAM_ERROR"
    assert error["details"]["service"] == "dynamodb"
    scan = runtime.clients.dynamodb.scan(TableName=runtime.store.table_name)
    assert scan["Count"] == 0
    assert _objects(runtime) == []  # the offloaded document was removed again


def test_failing_update_leaves_the_previous_revision(
    client: TestClient,
    alice: dict[str, str],
    runtime: EmbeddedRuntime,
    fail_dynamodb: Callable[[str], None],
) -> None:
    created = client.post("/api/v1/workflows", json=workflow_body(), headers=alice).json()
    workflow = created["workflow"]
    fail_dynamodb("PutItem")

    response = client.put(
        f"/api/v1/workflows/{workflow['id']}", json={"name": "never"}, headers=alice
    )

    assert response.status_code == 502
    item = runtime.clients.dynamodb.get_item(
        TableName=runtime.store.table_name,
        Key={"pk": {"S": "USER#alice"}, "sk": {"S": f"WORKFLOW#{workflow['id']}"}},
    )["Item"]
    assert item["revision"]["N"] == "1"
    assert item["name"]["S"] == workflow["name"]


def test_failing_reads_are_502(
    client: TestClient, alice: dict[str, str], fail_dynamodb: Callable[[str], None]
) -> None:
    fail_dynamodb("Query")
    fail_dynamodb("GetItem")

    assert client.get("/api/v1/workflows", headers=alice).status_code == 502
    assert client.get("/api/v1/workflows/x", headers=alice).status_code == 502


def test_a_missing_table_is_502_and_health_says_unhealthy(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    runtime.clients.dynamodb.delete_table(TableName=runtime.store.table_name)

    response = client.post("/api/v1/workflows", json=workflow_body(), headers=alice)
    health = client.get("/api/v1/health").json()

    assert response.status_code == 502
    assert response.json()["error"]["details"]["aws_code"] == "ResourceNotFoundException"
    assert health["status"] == "unhealthy"


def test_large_documents_round_trip_through_s3(
    client: TestClient, alice: dict[str, str], runtime: EmbeddedRuntime
) -> None:
    created = client.post("/api/v1/workflows", json=workflow_body(**BIG), headers=alice)
    workflow = created.json()["workflow"]
    path = f"/api/v1/workflows/{workflow['id']}"

    assert created.status_code == 201
    assert client.get(path, headers=alice).json()["workflow"] == workflow
    assert len(_objects(runtime)) == 1
    updated = client.put(path, json={"name": "bigger"}, headers=alice).json()["workflow"]
    assert client.get(path, headers=alice).json()["workflow"] == updated
    listed = client.get("/api/v1/workflows", headers=alice).json()["workflows"]
    assert listed == [updated]

    assert client.delete(path, headers=alice).status_code == 200
    assert _objects(runtime) == []
