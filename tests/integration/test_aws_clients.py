"""The client factory against an endpoint (AWS_ENDPOINT_URL: LocalStack, a moto server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from flowlane.config import AwsSettings
from flowlane.models.workflow import WorkflowCreate
from flowlane.runtime.aws import AwsClients
from flowlane.store.dynamo import DynamoTable
from flowlane.store.payloads import PayloadStore
from flowlane.store.schema import create_table_request
from flowlane.store.workflows import WorkflowRepository
from tests.conftest import workflow_body


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_every_client_uses_the_endpoint_over_http(endpoint: str) -> None:
    clients = AwsClients(AwsSettings(AWS_ENDPOINT_URL=endpoint, FLOWLANE_RUNTIME="aws"))
    clients.dynamodb.create_table(**create_table_request("over-http"))
    clients.s3.create_bucket(Bucket="over-http")
    repo = WorkflowRepository(
        DynamoTable(clients.dynamodb, "over-http"),
        PayloadStore(clients.s3, "over-http"),
        offload_threshold_bytes=1_000,
    )

    created = repo.create("alice", WorkflowCreate.model_validate(workflow_body()))

    assert clients.dynamodb.meta.endpoint_url == endpoint
    assert clients.s3.meta.endpoint_url == endpoint
    assert repo.get("alice", created.id) == created  # offloaded to S3, read back over HTTP


def test_clients_are_created_once_per_service(endpoint: str) -> None:
    clients = AwsClients(AwsSettings(AWS_ENDPOINT_URL=endpoint, FLOWLANE_RUNTIME="aws"))

    assert clients.client("dynamodb") is clients.dynamodb
    assert clients.client("s3") is not clients.dynamodb


def test_the_embedded_runtime_never_uses_a_configured_endpoint() -> None:
    settings = AwsSettings(AWS_ENDPOINT_URL="http://localhost:4566", FLOWLANE_RUNTIME="embedded")

    client = AwsClients(settings).dynamodb

    assert client.meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
    assert client._request_signer._credentials.access_key == "testing"
