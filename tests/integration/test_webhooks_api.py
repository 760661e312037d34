"""The public webhook entry (CONTRACT.md section 6): `/api/v1/webhooks/{path}` needs no bearer
token; a trigger with a secret takes only calls signed `X-Flowlane-Signature: t=UNIX,v1=HEX`
(HMAC-SHA256 of `t + "." + raw body`, 300 s tolerance); a retried delivery starts one execution.
The workflow sees the request as `{body, headers, query, method}`; executions run for real on the
embedded runtime."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowlane.api.app import create_app
from flowlane.config import RuntimeSettings
from flowlane.runtime.services import Services
from flowlane.runtime.webhook_signature import sign
from tests.integration.test_execute_api import wait_for
from tests.workflows import connections, node, set_node

HOOKS = "/api/v1/webhooks"
ORDER = {"order": 42, "items": ["tea", "milk"]}
RAW_ORDER = json.dumps(ORDER).encode()
JSON = {"content-type": "application/json"}
# What the TestClient answers (an httpx Response).
Response = Any
SMALL_LIMIT = 1_024  # the smallest limit the settings allow


# -- helpers ---------------------------------------------------------------------------------------


def create_workflow(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    """A WEBHOOK trigger node feeding `echo`, whose output is the request it received."""
    body = {
        "name": "hooked",
        "nodes": [node("hook", "TRIGGER", "WEBHOOK"), set_node("echo", {"request": "{{ input }}"})],
        "connections": connections(("hook", "main", "echo")),
        **fields,
    }
    response = client.post("/api/v1/workflows", json=body, headers=headers)
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["workflow"]["id"]
    return workflow_id


def create_hook(
    client: TestClient, headers: dict[str, str], workflow_id: str, **config: Any
) -> dict[str, Any]:
    """A webhook trigger of the workflow: the creation answer {trigger, webhook_url, secret}."""
    response = client.post(
        "/api/v1/triggers",
        json={"workflow_id": workflow_id, "type": "webhook", "config": config},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def signed(secret: str, body: bytes, *, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {"X-Flowlane-Signature": sign(secret, body, timestamp)}


def call(
    client: TestClient, path: str, body: bytes = RAW_ORDER, headers: dict[str, str] | None = None
) -> Response:
    """POST `body` to the webhook at `path`, with no bearer token."""
    return client.post(f"{HOOKS}/{path}", content=body, headers=headers)


def started(response: Response) -> str:
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "running"
    execution_id: str = answer["execution_id"]
    return execution_id


def refused(response: Response, status: int, code: str) -> dict[str, Any]:
    """The error envelope of a refusal (CONTRACT.md section 1); its `error` object."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def executions_of(client: TestClient, headers: dict[str, str], workflow_id: str) -> list[Any]:
    response = client.get(f"/api/v1/workflows/{workflow_id}/executions", headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["executions"]
    return found


def events(client: TestClient, headers: dict[str, str], trigger_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/triggers/{trigger_id}/events", headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


@pytest.fixture
def workflow_id(client: TestClient, alice: dict[str, str]) -> str:
    return create_workflow(client, alice)


@pytest.fixture
def hook(client: TestClient, alice: dict[str, str], workflow_id: str) -> dict[str, Any]:
    """A signed webhook at `orders/new`."""
    return create_hook(client, alice, workflow_id, path="orders/new")


@pytest.fixture
def small_limit(services: Services) -> int:
    """The webhook body limit of the Services the client serves, set to its minimum."""
    services.runtime = RuntimeSettings(webhook_max_body_bytes=SMALL_LIMIT)
    return SMALL_LIMIT


# -- calls that start ------------------------------------------------------------------------------


def test_a_signed_call_starts_the_workflow_with_the_request(
    client: TestClient, alice: dict[str, str], workflow_id: str, hook: dict[str, Any]
) -> None:
    # No bearer token: the signature is the webhook's authentication.
    response = client.post(
        f"{HOOKS}/orders/new",
        params={"source": "shop"},
        content=RAW_ORDER,
        headers={**JSON, **signed(hook["secret"], RAW_ORDER), "X-Shop": "north"},
    )

    execution_id = started(response)
    record = wait_for(client, alice, execution_id)
    assert record["status"] == "SUCCEEDED", record
    assert record["workflow_id"] == workflow_id
    assert record["trigger"] == {"node_id": "hook", "type": "webhook"}
    request = record["output"]["request"]
    assert set(request) == {"body", "headers", "query", "method"}
    assert request["body"] == ORDER
    assert request["query"] == {"source": "shop"}
    assert request["method"] == "POST"
    assert request["headers"]["x-shop"] == "north"
    assert request["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("content_type", "raw", "body"),
    [
        ("application/json; charset=utf-8", b'{"caf\xc3\xa9": [1, 2]}', {"café": [1, 2]}),
        (
            "application/x-www-form-urlencoded",
            b"name=Ada+L&empty=&n=1",
            {"name": "Ada L", "empty": "", "n": "1"},
        ),
        ("text/plain", b"hello, hook", "hello, hook"),
        ("application/json", b"", {}),
    ],
    ids=["json-with-charset", "form", "text", "empty"],
)
def test_the_body_arrives_parsed_by_its_content_type(
    client: TestClient,
    alice: dict[str, str],
    hook: dict[str, Any],
    content_type: str,
    raw: bytes,
    body: Any,
) -> None:
    headers = {"content-type": content_type, **signed(hook["secret"], raw)}

    execution_id = started(call(client, "orders/new", raw, headers))

    record = wait_for(client, alice, execution_id)
    assert record["status"] == "SUCCEEDED", record
    assert record["output"]["request"]["body"] == body


def test_the_callers_credentials_are_not_passed_to_the_workflow(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any]
) -> None:
    headers = {
        **JSON,
        **signed(hook["secret"], RAW_ORDER),
        # A bearer token that is not valid: the open route does not even read it.
        "Authorization": "Bearer not-a-token",
        "Cookie": "session=s3cr3t",
        "Proxy-Authorization": "Basic dXNlcjpwYXNz",
        "X-Keep": "me",
    }

    execution_id = started(call(client, "orders/new", headers=headers))

    record = wait_for(client, alice, execution_id)
    seen = record["output"]["request"]["headers"]
    assert seen["x-keep"] == "me"
    assert not {"authorization", "cookie", "proxy-authorization"} & set(seen)
    assert "s3cr3t" not in json.dumps(record)
    assert "not-a-token" not in json.dumps(record)


def test_a_replayed_delivery_answers_the_same_execution_and_starts_no_other(
    client: TestClient, alice: dict[str, str], workflow_id: str, hook: dict[str, Any]
) -> None:
    headers = {**JSON, **signed(hook["secret"], RAW_ORDER)}
    first = started(call(client, "orders/new", headers=headers))

    again = started(call(client, "orders/new", headers=headers))

    assert again == first
    assert wait_for(client, alice, first)["status"] == "SUCCEEDED"
    assert [e["execution_id"] for e in executions_of(client, alice, workflow_id)] == [first]
    log = events(client, alice, hook["trigger"]["trigger_id"])
    assert [e["execution_id"] for e in log] == [first]
    # The same body signed at another time is another delivery: another execution.
    resigned = signed(hook["secret"], RAW_ORDER, at=int(time.time()) - 5)
    later = started(call(client, "orders/new", headers={**JSON, **resigned}))
    assert later != first
    assert wait_for(client, alice, later)["status"] == "SUCCEEDED"


def test_a_replay_with_the_signature_header_reformatted_starts_no_other_execution(
    client: TestClient, alice: dict[str, str], workflow_id: str, hook: dict[str, Any]
) -> None:
    header = signed(hook["secret"], RAW_ORDER)["X-Flowlane-Signature"]
    stamp, digest = header.split(",")
    variants = [
        header,
        f"{stamp}, {digest}",
        f"{stamp},v1={digest.removeprefix('v1=').upper()}",
        f"{header},v0=legacy",
    ]

    answers = [
        call(client, "orders/new", headers={**JSON, "X-Flowlane-Signature": variant})
        for variant in variants
    ]

    assert [a.status_code for a in answers] == [202] * len(variants)  # each one verifies
    for answer in answers:
        assert wait_for(client, alice, answer.json()["execution_id"])["status"] == "SUCCEEDED"
    assert len(executions_of(client, alice, workflow_id)) == 1
    assert len({a.json()["execution_id"] for a in answers}) == 1


def test_an_unsigned_call_is_accepted_when_no_signature_is_required(
    client: TestClient, alice: dict[str, str], workflow_id: str
) -> None:
    answer = create_hook(client, alice, workflow_id, path="open/door", require_signature=False)
    assert answer["secret"] is None

    execution_id = started(call(client, "open/door", headers=JSON))

    record = wait_for(client, alice, execution_id)
    assert record["status"] == "SUCCEEDED", record
    assert record["output"]["request"]["body"] == ORDER


def test_a_get_webhook_takes_its_query_and_answers_other_methods_404(
    client: TestClient, alice: dict[str, str], workflow_id: str
) -> None:
    create_hook(client, alice, workflow_id, path="ping", method="get", require_signature=False)

    execution_id = started(client.get(f"{HOOKS}/ping", params={"who": "monitor"}))
    wrong = call(client, "ping", headers=JSON)

    record = wait_for(client, alice, execution_id)
    assert record["output"]["request"]["method"] == "GET"
    assert record["output"]["request"]["query"] == {"who": "monitor"}
    assert record["output"]["request"]["body"] == {}
    error = refused(wrong, 404, "NOT_FOUND")
    assert error["details"]["allowed_method"] == "GET"
    assert len(executions_of(client, alice, workflow_id)) == 1


def test_last_node_mode_answers_200_with_the_executions_output(
    client: TestClient, alice: dict[str, str], workflow_id: str
) -> None:
    answer = create_hook(client, alice, workflow_id, path="sync", response_mode="last_node")
    headers = {**JSON, **signed(answer["secret"], RAW_ORDER)}

    response = call(client, "sync", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["error"] is None
    assert body["output"]["request"]["body"] == ORDER
    record = client.get(f"/api/v1/executions/{body['execution_id']}", headers=alice).json()
    assert record["status"] == "SUCCEEDED"
    assert record["output"] == body["output"]


def test_the_event_log_records_the_callers_address(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any]
) -> None:
    execution_id = started(
        call(client, "orders/new", headers={**JSON, **signed(hook["secret"], RAW_ORDER)})
    )
    assert wait_for(client, alice, execution_id)["status"] == "SUCCEEDED"

    [event] = events(client, alice, hook["trigger"]["trigger_id"])

    assert event["source_ip"] == "testclient"
    assert event["execution_id"] == execution_id
    assert event["status"] == "started"
    assert event["outcome"] == "SUCCEEDED"


# -- refusals --------------------------------------------------------------------------------------


def bad_signature(kind: str, secret: str) -> tuple[dict[str, str], bytes]:
    """The signature header and the body of a call that must be refused."""
    now = int(time.time())
    if kind == "unsigned":
        return {}, RAW_ORDER
    if kind == "wrong-secret":
        return signed("whsec_not-the-secret", RAW_ORDER), RAW_ORDER
    if kind == "body-changed":
        return signed(secret, RAW_ORDER), RAW_ORDER.replace(b"42", b"43")
    if kind == "stale":
        return signed(secret, RAW_ORDER, at=now - 301), RAW_ORDER
    if kind == "from-the-future":
        return signed(secret, RAW_ORDER, at=now + 310), RAW_ORDER
    assert kind == "malformed"
    return {"X-Flowlane-Signature": "sha256=abc"}, RAW_ORDER


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("unsigned", "missing"),
        ("wrong-secret", "mismatch"),
        ("body-changed", "mismatch"),
        ("stale", "expired"),
        ("from-the-future", "future"),
        ("malformed", "malformed"),
    ],
)
def test_a_call_without_a_valid_signature_is_a_401_and_starts_nothing(
    client: TestClient,
    alice: dict[str, str],
    workflow_id: str,
    hook: dict[str, Any],
    kind: str,
    reason: str,
) -> None:
    headers, body = bad_signature(kind, hook["secret"])

    response = call(client, "orders/new", body, {**JSON, **headers})

    error = refused(response, 401, "UNAUTHORIZED")
    assert error["details"]["reason"] == reason
    assert hook["secret"] not in response.text
    assert executions_of(client, alice, workflow_id) == []
    assert events(client, alice, hook["trigger"]["trigger_id"]) == []


def test_an_unknown_path_is_a_404(client: TestClient, hook: dict[str, Any]) -> None:
    for path in ("orders/old", "orders", "orders/new/extra"):
        error = refused(call(client, path, headers=JSON), 404, "NOT_FOUND")
        assert path in error["message"]


def test_a_body_over_the_limit_is_a_413(
    client: TestClient, alice: dict[str, str], workflow_id: str, small_limit: int
) -> None:
    create_hook(client, alice, workflow_id, path="small", require_signature=False)
    text = {"content-type": "text/plain"}

    at_limit = call(client, "small", b"x" * small_limit, text)
    over = call(client, "small", b"x" * (small_limit + 1), text)

    assert wait_for(client, alice, started(at_limit))["status"] == "SUCCEEDED"
    error = refused(over, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"]["limit_bytes"] == small_limit
    assert len(executions_of(client, alice, workflow_id)) == 1


def test_the_default_limit_is_one_mebibyte(
    client: TestClient, alice: dict[str, str], workflow_id: str
) -> None:
    create_hook(client, alice, workflow_id, path="big", require_signature=False)
    text = {"content-type": "text/plain"}

    at_limit = call(client, "big", b"x" * 1_048_576, text)
    over = call(client, "big", b"x" * (1_048_576 + 1), text)

    record = wait_for(client, alice, started(at_limit))
    assert record["status"] == "SUCCEEDED", record["error"]
    assert record["input"]["body"] == "x" * 1_048_576
    refused(over, 413, "PAYLOAD_TOO_LARGE")


def test_a_webhook_limit_above_the_api_limit_is_honoured(
    services: Services, alice: dict[str, str]
) -> None:
    # Given webhooks allowed 2 MB while the rest of the API keeps its 1 MiB.
    services.runtime = RuntimeSettings(webhook_max_body_bytes=2_000_000)
    with TestClient(create_app(None, services), raise_server_exceptions=False) as client:
        workflow_id = create_workflow(client, alice)
        create_hook(client, alice, workflow_id, path="large", require_signature=False)
        body = b"x" * 1_500_000

        # When a 1.5 MB body goes to the webhook, and the same to a workflow route.
        accepted = call(client, "large", body, {"content-type": "text/plain"})
        elsewhere = client.post(
            "/api/v1/workflows", content=body, headers={**alice, "content-type": "text/plain"}
        )

    # Then the webhook takes it; the API refuses it at its own limit.
    assert accepted.status_code == 202, accepted.text
    error = refused(elsewhere, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"]["limit_bytes"] == 1_048_576


def test_invalid_json_sent_as_json_is_a_400_and_starts_nothing(
    client: TestClient, alice: dict[str, str], workflow_id: str, hook: dict[str, Any]
) -> None:
    raw = b'{"order": 42,'

    response = call(client, "orders/new", raw, {**JSON, **signed(hook["secret"], raw)})

    error = refused(response, 400, "VALIDATION_ERROR")
    assert error["details"]["errors"][0]["loc"] == ["body"]
    assert "JSON" in error["details"]["errors"][0]["msg"]
    assert executions_of(client, alice, workflow_id) == []


def test_a_call_while_the_workflow_is_inactive_is_a_409_and_a_skipped_event(
    client: TestClient, alice: dict[str, str], workflow_id: str, hook: dict[str, Any]
) -> None:
    off = client.put(f"/api/v1/workflows/{workflow_id}", json={"active": False}, headers=alice)
    assert off.status_code == 200, off.text
    headers = {**JSON, **signed(hook["secret"], RAW_ORDER)}

    response = call(client, "orders/new", headers=headers)

    refused(response, 409, "CONFLICT")
    [event] = events(client, alice, hook["trigger"]["trigger_id"])
    assert event["status"] == "skipped"
    assert event["source_ip"] == "testclient"
    assert executions_of(client, alice, workflow_id) == []
    # The refused delivery was not remembered: once active, its retry starts the run.
    on = client.put(f"/api/v1/workflows/{workflow_id}", json={"active": True}, headers=alice)
    assert on.status_code == 200, on.text
    retried = started(call(client, "orders/new", headers=headers))
    assert wait_for(client, alice, retried)["status"] == "SUCCEEDED"
    assert [e["execution_id"] for e in executions_of(client, alice, workflow_id)] == [retried]


def test_slashes_around_a_path_name_the_same_webhook(
    client: TestClient, alice: dict[str, str], workflow_id: str
) -> None:
    made = create_hook(client, alice, workflow_id, path="/slashed/hook/", require_signature=False)

    assert made["trigger"]["webhook_path"] == "slashed/hook"
    assert made["webhook_url"].endswith("/api/v1/webhooks/slashed/hook")
    started(call(client, "slashed/hook/", b"{}", JSON))
    again = client.post(
        "/api/v1/triggers",
        json={"workflow_id": workflow_id, "type": "webhook", "config": {"path": "slashed/hook"}},
        headers=alice,
    )
    assert again.status_code == 409
