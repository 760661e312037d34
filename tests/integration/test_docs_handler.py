"""functions/docs/handler.py, as API Gateway invokes it for the two open documentation routes:
the whole API's OpenAPI document and its Swagger UI, with no AWS call."""

from __future__ import annotations

import copy
import importlib.util
import json
from types import ModuleType
from typing import Any

import pytest

from flowlane.api.domains import DOMAINS, routers_for
from flowlane.runtime.aws import add_after_call_listener, remove_after_call_listener
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.lambdas import LambdaContext
from tests.conftest import REPO_ROOT

FIXTURE = json.loads((REPO_ROOT / "tests/fixtures/apigw_v2_post_workflows.json").read_text())


@pytest.fixture
def docs_handler(runtime: EmbeddedRuntime) -> ModuleType:
    path = REPO_ROOT / "functions/docs/handler.py"
    spec = importlib.util.spec_from_file_location("docs_handler_under_test", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _get(module: ModuleType, path: str) -> dict[str, Any]:
    """An open route's event: no authorizer in the request context, no body."""
    event = copy.deepcopy(FIXTURE)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "GET"
    event["requestContext"].pop("authorizer", None)
    event["headers"] = {"host": "api.example.com"}
    event.pop("body", None)
    event["isBase64Encoded"] = False
    response: dict[str, Any] = module.handler(
        event,
        LambdaContext(
            "flowlane-dev-docs", "arn:aws:lambda:us-east-1:123456789012:function:flowlane-dev-docs"
        ),
    )
    return response


def test_openapi_document_lists_every_domains_routes_without_calling_aws(
    docs_handler: ModuleType,
) -> None:
    calls: list[str] = []
    listener = lambda model=None, **_: calls.append(getattr(model, "name", "?"))  # noqa: E731
    add_after_call_listener(listener)
    try:
        response = _get(docs_handler, "/openapi.json")
    finally:
        remove_after_call_listener(listener)

    assert response["statusCode"] == 200
    paths = json.loads(response["body"])["paths"]
    for domain in DOMAINS:
        for router in routers_for([domain]):
            for route in router.routes:
                documented = getattr(route, "path", "").replace("{path:path}", "{path}")
                assert documented in paths, (domain, documented)
    assert calls == []  # its role grants nothing but its log group


def test_swagger_ui_points_at_the_document(docs_handler: ModuleType) -> None:
    response = _get(docs_handler, "/docs")

    assert response["statusCode"] == 200
    assert "text/html" in response["headers"]["content-type"]
    assert "/openapi.json" in response["body"]
