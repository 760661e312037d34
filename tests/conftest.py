"""Shared fixtures. Every test runs on the embedded runtime (moto in process), never on AWS."""

from __future__ import annotations

import os

# Before anything imports flowlane: the tests must never reach a developer's real AWS account,
# whatever their shell says.
for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "FLOWLANE_RUNTIME": "embedded",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "FLOWLANE_AUTH_MODE": "dev",
        "FLOWLANE_DEV_JWT_SECRET": "test-secret-0123456789abcdef0123456789",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "FlowlaneTest",
    }
)

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from flowlane import config  # noqa: E402
from flowlane.api.app import create_app  # noqa: E402
from flowlane.api.auth import issue_dev_token  # noqa: E402
from flowlane.config import (  # noqa: E402
    ApiSettings,
    EngineSettings,
    IntegrationSettings,
    LocalSettings,
    StoreSettings,
)
from flowlane.runtime.embedded import EmbeddedRuntime  # noqa: E402
from flowlane.runtime.node_services import RuntimeNodeServices  # noqa: E402
from flowlane.runtime.services import Services  # noqa: E402

DEV_SECRET = os.environ["FLOWLANE_DEV_JWT_SECRET"]


def _clear_settings() -> None:
    for cached in (
        config.aws_settings,
        config.store_settings,
        config.api_settings,
        config.local_settings,
        config.engine_settings,
        config.integration_settings,
        config.execution_settings,
        config.runtime_settings,
        config.agent_settings,
    ):
        cached.cache_clear()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    _clear_settings()
    yield
    _clear_settings()


@pytest.fixture
def runtime() -> Iterator[EmbeddedRuntime]:
    """moto in process with the table and bucket created; nothing persisted."""
    with EmbeddedRuntime(state_dir=None, store=StoreSettings(), local=LocalSettings()) as rt:
        yield rt


@pytest.fixture
def services(runtime: EmbeddedRuntime) -> Services:
    api = ApiSettings(auth_mode="dev", dev_jwt_secret=DEV_SECRET)
    return Services(api=api, aws=runtime.aws, store=runtime.store, clients=runtime.clients)


@pytest.fixture
def node_services(services: Services) -> RuntimeNodeServices:
    """The real node services on the embedded runtime (moto), private network allowed so nodes
    can reach the local fake servers the tests start on 127.0.0.1."""
    return RuntimeNodeServices(
        services,
        engine=EngineSettings(allow_private_network=True),
        integrations=IntegrationSettings(),
    )


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(None, services), raise_server_exceptions=False) as test_client:
        yield test_client


def auth(user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_dev_token(DEV_SECRET, user)}"}


@pytest.fixture
def alice() -> dict[str, str]:
    return auth("alice")


@pytest.fixture
def bob() -> dict[str, str]:
    return auth("bob")


def workflow_body(name: str = "Daily digest", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "description": "Fetch issues and post a summary",
        "nodes": [
            {
                "id": "start",
                "name": "Every morning",
                "type": "TRIGGER_NODE",
                "subtype": "SCHEDULE",
                "parameters": {"expression": "cron(0 9 ? * MON-FRI *)"},
            },
            {
                "id": "fetch",
                "name": "Fetch issues",
                "type": "ACTION",
                "subtype": "HTTP_REQUEST",
                "parameters": {"method": "GET", "url": "https://api.github.com/repos/o/r/issues"},
            },
        ],
        "connections": {
            "connections": {
                "start": {"connection_types": {"main": {"connections": [{"node": "fetch"}]}}}
            }
        },
        "tags": ["digest"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_workflow(client: TestClient) -> Callable[..., dict[str, Any]]:
    def create(headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
        response = client.post(
            "/api/v1/workflows", json=workflow_body(**overrides), headers=headers
        )
        assert response.status_code == 201, response.text
        workflow: dict[str, Any] = response.json()["workflow"]
        return workflow

    return create


REPO_ROOT = Path(__file__).resolve().parents[1]
