"""functions/runtime, functions/webhooks and functions/schedule_start invoked as Lambda invokes
them: API Gateway HTTP API v2 events (the webhook one without an authorizer, as its route has
none) and the schedule-start machine's Task payload."""

from __future__ import annotations

import copy
import importlib.util
import json
import time
from types import ModuleType
from typing import Any

import pytest

from flowlane import config
from flowlane.runtime.embedded import EmbeddedRuntime
from flowlane.runtime.lambdas import LambdaContext
from flowlane.runtime.services import Services
from flowlane.runtime.webhook_signature import sign
from tests.conftest import REPO_ROOT
from tests.workflows import connections, node, set_node

FIXTURE = json.loads((REPO_ROOT / "tests/fixtures/apigw_v2_post_workflows.json").read_text())
OWNER = FIXTURE["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
HOST = FIXTURE["headers"]["host"]


def cold_start(function: str) -> ModuleType:
    config.api_settings.cache_clear()
    path = REPO_ROOT / f"functions/{function}/handler.py"
    spec = importlib.util.spec_from_file_location(f"{function}_handler_under_test", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(
    method: str, path: str, body: bytes, *, headers: dict[str, str], authorized: bool
) -> dict[str, Any]:
    built = copy.deepcopy(FIXTURE)
    built["routeKey"] = built["requestContext"]["routeKey"] = f"{method} {path}"
    built["rawPath"] = built["requestContext"]["http"]["path"] = path
    built["requestContext"]["http"]["method"] = method
    built["requestContext"]["http"]["sourceIp"] = "198.51.100.7"
    built["body"] = body.decode()
    built["headers"]["content-length"] = str(len(body))
    built["headers"].update(headers)
    if not authorized:
        del built["requestContext"]["authorizer"]
        del built["headers"]["authorization"]
    return built


def context(name: str) -> LambdaContext:
    return LambdaContext(
        function_name=name,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
    )


@pytest.fixture
def deployed_cold(runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured as the CDK app deploys the functions: identity only from the authorizer."""
    monkeypatch.delenv("FLOWLANE_AUTH_MODE")
    monkeypatch.delenv("FLOWLANE_DEV_JWT_SECRET")


WORKFLOW = {
    "name": "hooked",
    "nodes": [
        node("hook", "TRIGGER", "WEBHOOK", parameters={"path": "lambda/hook"}),
        node("tick", "TRIGGER", "SCHEDULE", parameters={"expression": "rate(1 hour)"}),
        set_node("out", {"seen": "{{ input }}"}),
    ],
    "connections": connections(("hook", "main", "out"), ("tick", "main", "out")),
}


def wait_final(services: Services, execution_id: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        execution = services.executions.get(OWNER, execution_id)
        if execution.final or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def test_deploy_then_call_the_webhook_then_fire_the_schedule_through_the_functions(
    deployed_cold: None, services: Services
) -> None:
    runtime_fn = cold_start("runtime")
    webhooks_fn = cold_start("webhooks")
    schedule_fn = cold_start("schedule_start")
    from flowlane.models.workflow import WorkflowCreate

    workflow = services.workflows.create(OWNER, WorkflowCreate.model_validate(WORKFLOW))

    # Deploy through the runtime function, as API Gateway delivers it.
    response = runtime_fn.handler(
        event(
            "POST",
            "/api/v1/workflow/deployments",
            json.dumps({"workflow_id": workflow.id}).encode(),
            headers={},
            authorized=True,
        ),
        context("flowlane-runtime"),
    )
    assert response["statusCode"] == 201, response["body"]
    deployed = json.loads(response["body"])
    # The URL a caller uses is the one this request came through.
    assert deployed["webhook_url"] == f"https://{HOST}/api/v1/webhooks/lambda/hook"
    triggers = {t["trigger"]["type"]: t for t in deployed["triggers"]}

    # Call the webhook through its function: no authorizer, signed with the trigger's secret.
    body = json.dumps({"order": 1}).encode()
    signature = sign(triggers["webhook"]["secret"], body, int(time.time()))
    call = event(
        "POST",
        "/api/v1/webhooks/lambda/hook",
        body,
        headers={"x-flowlane-signature": signature},
        authorized=False,
    )
    answer = webhooks_fn.handler(call, context("flowlane-webhooks"))
    assert answer["statusCode"] == 202, answer["body"]
    execution_id = json.loads(answer["body"])["execution_id"]
    assert wait_final(services, execution_id).output["seen"]["body"] == {"order": 1}
    unsigned = webhooks_fn.handler(
        event("POST", "/api/v1/webhooks/lambda/hook", body, headers={}, authorized=False),
        context("flowlane-webhooks"),
    )
    assert unsigned["statusCode"] == 401
    hook_id = triggers["webhook"]["trigger"]["trigger_id"]
    [logged] = services.triggers.events(OWNER, hook_id)[0]
    assert logged.source_ip == "198.51.100.7"  # API Gateway's sourceIp, not a proxy's

    # The schedule-start machine's Task: fire one occurrence, twice (Scheduler is at least once).
    schedule_id = triggers["schedule"]["trigger"]["trigger_id"]
    payload = {
        "schedule": {
            "owner": OWNER,
            "trigger_id": schedule_id,
            "scheduled_time": "2026-11-21T09:00:00Z",
            "schedule_arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/flowlane-dev/x",
        }
    }
    first = schedule_fn.handler(payload, context("flowlane-schedule-start"))
    again = schedule_fn.handler(payload, context("flowlane-schedule-start"))

    assert first["started"] is True
    assert again["execution_id"] == first["execution_id"]
    execution = wait_final(services, first["execution_id"])
    assert execution.output["seen"]["scheduled_time"] == "2026-11-21T09:00:00Z"
    assert execution.trigger.type == "schedule"
    assert len(services.triggers.events(OWNER, schedule_id)[0]) == 1


def test_a_schedule_of_a_deleted_trigger_starts_nothing(
    deployed_cold: None, services: Services
) -> None:
    schedule_fn = cold_start("schedule_start")

    answer = schedule_fn.handler(
        {"schedule": {"owner": OWNER, "trigger_id": "trg_gone", "scheduled_time": "x"}},
        context("flowlane-schedule-start"),
    )

    assert answer == {"started": False, "reason": "trigger not found"}
