"""functions/workflows/handler.py invoked as Lambda does, with API Gateway HTTP API v2 events."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from flowlane import config
from flowlane.api.auth import issue_dev_token
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.lambdas import LambdaContext
from tests.conftest import DEV_SECRET, REPO_ROOT, workflow_body

FIXTURE = json.loads((REPO_ROOT / "tests/fixtures/apigw_v2_post_workflows.json").read_text())
ALICE_SUB = FIXTURE["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
Invoke = Callable[..., dict[str, Any]]


def _cold_start() -> ModuleType:
    config.api_settings.cache_clear()
    path = REPO_ROOT / "functions/workflows/handler.py"
    spec = importlib.util.spec_from_file_location("workflows_handler_under_test", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler_module(runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A cold start of the workflows function, configured as the CDK app deploys it."""
    monkeypatch.delenv("FLOWLANE_AUTH_MODE")
    monkeypatch.delenv("FLOWLANE_DEV_JWT_SECRET")
    return _cold_start()


@pytest.fixture
def invoke(handler_module: ModuleType) -> Invoke:
    def call(
        method: str,
        path: str,
        body: Any = None,
        *,
        sub: str = ALICE_SUB,
        headers: dict[str, str] | None = None,
        query: str = "",
        base64_body: bool = False,
    ) -> dict[str, Any]:
        event = copy.deepcopy(FIXTURE)
        event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = method
        event["rawQueryString"] = query
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = sub
        raw = "" if body is None else json.dumps(body)
        if base64_body:
            event["body"] = base64.b64encode(raw.encode()).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw
        event["headers"]["content-length"] = str(len(raw))
        event["headers"].update(headers or {})
        context = LambdaContext(
            function_name="flowlane-workflows",
            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:flowlane-workflows",
        )
        response: dict[str, Any] = handler_module.handler(event, context)
        return response

    return call


def test_create_through_the_handler_uses_the_authorizer_identity(invoke: Invoke) -> None:
    response = invoke("POST", "/api/v1/workflows", workflow_body())

    assert response["statusCode"] == 201
    assert response["headers"]["x-request-id"]
    workflow = json.loads(response["body"])["workflow"]
    fetched = invoke("GET", f"/api/v1/workflows/{workflow['id']}")
    assert fetched["statusCode"] == 200
    assert json.loads(fetched["body"])["workflow"] == workflow


def test_another_cognito_user_gets_404(invoke: Invoke) -> None:
    created = json.loads(invoke("POST", "/api/v1/workflows", workflow_body())["body"])["workflow"]

    response = invoke("GET", f"/api/v1/workflows/{created['id']}", sub="someone-else")

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "NOT_FOUND"


def test_base64_bodies_and_query_strings(invoke: Invoke) -> None:
    invoke("POST", "/api/v1/workflows", workflow_body(tags=["a"]), base64_body=True)
    invoke("POST", "/api/v1/workflows", workflow_body(tags=["b"]))

    response = invoke("GET", "/api/v1/workflows", query="tags=a&limit=10")

    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert [w["tags"] for w in body["workflows"]] == [["a"]]


def _without_authorizer(token: str) -> dict[str, Any]:
    event = copy.deepcopy(FIXTURE)
    del event["requestContext"]["authorizer"]
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /api/v1/workflows"
    event["requestContext"]["http"]["method"] = "GET"
    event["headers"]["authorization"] = f"Bearer {token}"
    return event


def test_without_authorizer_claims_a_deployed_function_refuses_any_token(
    handler_module: ModuleType,
) -> None:
    dev_token = issue_dev_token(DEV_SECRET, "alice")

    response = handler_module.handler(
        _without_authorizer(dev_token), LambdaContext("flowlane-workflows", "arn")
    )

    assert response["statusCode"] == 401


@pytest.mark.parametrize("mode", ["auto", "dev"])
def test_with_a_dev_secret_the_handler_accepts_dev_tokens(
    runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FLOWLANE_AUTH_MODE", mode)
    module = _cold_start()

    good = module.handler(
        _without_authorizer(issue_dev_token(DEV_SECRET, "alice")),
        LambdaContext("flowlane-workflows", "arn"),
    )
    forged = module.handler(
        _without_authorizer(issue_dev_token("x" * 40, "alice")),
        LambdaContext("flowlane-workflows", "arn"),
    )

    assert good["statusCode"] == 200
    assert forged["statusCode"] == 401


def test_cognito_mode_ignores_dev_tokens(
    runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWLANE_AUTH_MODE", "cognito")
    module = _cold_start()

    response = module.handler(
        _without_authorizer(issue_dev_token(DEV_SECRET, "alice")),
        LambdaContext("flowlane-workflows", "arn"),
    )

    assert response["statusCode"] == 401


def test_invalid_body_is_400_naming_the_field(invoke: Invoke) -> None:
    response = invoke("POST", "/api/v1/workflows", workflow_body(name=" "))

    error = json.loads(response["body"])["error"]
    assert response["statusCode"] == 400
    assert ["body", "name"] in [e["loc"] for e in error["details"]["errors"]]


def test_without_a_client_request_id_the_gateway_one_is_used(invoke: Invoke) -> None:
    response = invoke("GET", "/api/v1/health")

    assert response["headers"]["x-request-id"] == FIXTURE["requestContext"]["requestId"]


def test_each_invocation_emits_emf_metrics(
    invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke("GET", "/api/v1/workflows/missing")
    invoke("GET", "/api/v1/health")

    emitted = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "_aws" in line
    ]
    metric_names = [
        m["Name"]
        for blob in emitted
        for d in blob["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
    ]
    assert "Http4xx" in metric_names
    assert "Http2xx" in metric_names
    assert all(blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] for blob in emitted)


def test_request_id_from_the_client_is_kept(invoke: Invoke) -> None:
    response = invoke("GET", "/api/v1/health", headers={"x-request-id": "client-req-1"})

    assert response["statusCode"] == 200
    assert response["headers"]["x-request-id"] == "client-req-1"
