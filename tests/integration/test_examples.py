"""The workflows in examples/ (they double as docs) run through the API: saved, validated,
dry-run with POST /workflows/{id}/test and executed as compiled state machines with the same
results, against local fakes of Slack, GitHub and partner APIs, moto's SES and Secrets Manager,
and the offline LLM provider."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowlane import config
from flowlane.runtime.services import Services
from flowlane.store.credentials import CredentialStore
from tests.conftest import REPO_ROOT
from tests.fakes.services_server import FakeServices

EXAMPLES = REPO_ROOT / "examples"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServices]:
    with FakeServices() as server:
        # Settings are read on first use, after this: nodes reach the fakes on 127.0.0.1.
        monkeypatch.setenv("FLOWLANE_ALLOW_PRIVATE_NETWORK", "true")
        monkeypatch.setenv("FLOWLANE_SLACK_BASE_URL", server.slack_base_url)
        monkeypatch.setenv("FLOWLANE_GITHUB_BASE_URL", server.github_base_url)
        for name in (
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "FLOWLANE_OPENAI_API_KEY",
            "FLOWLANE_ANTHROPIC_API_KEY",
        ):
            monkeypatch.delenv(name, raising=False)
        config.engine_settings.cache_clear()
        config.integration_settings.cache_clear()
        yield server


@pytest.fixture
def credentials(services: Services) -> None:
    store = CredentialStore(services.clients.secretsmanager, "flowlane/credentials/", "alice")
    store.put("slack-bot", {"token": "xoxb-test-token"})
    store.put("github-token", "ghp_test_token")


def load(name: str, urls: dict[str, str] | None = None) -> dict[str, Any]:
    text = (EXAMPLES / name).read_text()
    for original, replacement in (urls or {}).items():
        text = text.replace(original, replacement)
    document: dict[str, Any] = json.loads(text)
    return document


def dry_run(
    client: TestClient, headers: dict[str, str], document: dict[str, Any], **body: Any
) -> dict[str, Any]:
    created = client.post("/api/v1/workflows", json=document, headers=headers)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["workflow"]["id"]
    report = client.post("/api/v1/workflows/validate", json={"workflow": document}, headers=headers)
    assert report.status_code == 200, report.text
    assert report.json()["errors"] == []
    response = client.post(f"/api/v1/workflows/{workflow_id}/test", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def live_run(
    client: TestClient, headers: dict[str, str], document: dict[str, Any], trigger_data: Any
) -> dict[str, Any]:
    """Execute as a compiled state machine on the embedded runtime (a workflow of its own, so
    memory nodes start empty as in the dry run), approving what waits for approval."""
    created = client.post("/api/v1/workflows", json=document, headers=headers)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["workflow"]["id"]
    started = client.post(
        f"/api/v1/workflows/{workflow_id}/execute",
        json={"trigger_data": trigger_data},
        headers=headers,
    )
    assert started.status_code == 202, started.text
    execution_id = started.json()["execution_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record: dict[str, Any] = client.get(
            f"/api/v1/executions/{execution_id}", headers=headers
        ).json()
        if record["status"] in ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"):
            return record
        if record["status"] == "WAITING":
            pending = client.get("/api/v1/approvals?status=pending", headers=headers).json()
            for approval in pending["approvals"]:
                if approval["execution_id"] == execution_id:
                    client.post(
                        f"/api/v1/approvals/{approval['approval_id']}",
                        json={"decision": "approve"},
                        headers=headers,
                    )
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} did not finish: {record}")


def assert_same_results(dry: dict[str, Any], live: dict[str, Any], *, output: bool = True) -> None:
    """The compiled run ends as the dry run did: status, output, and which nodes ran (per
    loop iteration) with which status and port. (Where a person approved, the decision's
    author and time differ from the dry run's automatic one, and flow into the output.)"""

    def untimed(value: Any) -> Any:
        # Slack stamps each message (`ts`), SES each email (`message_id`), HTTP answers carry
        # their `date`: two sends differ there and nowhere else.
        if isinstance(value, dict):
            return {
                k: untimed(v) for k, v in value.items() if k not in ("ts", "message_id", "date")
            }
        if isinstance(value, list):
            return [untimed(v) for v in value]
        return value

    def shape(record: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": record["status"],
            "output": untimed(record["output"]) if output else None,
            "runs": sorted(
                (r["node_id"], tuple(r["iteration"]), r["status"], r["port"])
                for r in record["node_runs"]
            ),
        }

    assert shape(live) == shape(dry)


def runs(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["node_id"]: r for r in record["node_runs"]}


def test_every_example_is_valid(client: TestClient, alice: dict[str, str]) -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert len(names) >= 5
    for name in names:
        response = client.post(
            "/api/v1/workflows/validate", json={"workflow": load(name)}, headers=alice
        )
        assert response.status_code == 200, response.text
        assert response.json()["valid"], (name, response.json())


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("issues", [3, 12])
def test_github_issues_digest(
    client: TestClient, alice: dict[str, str], fake: FakeServices, issues: int
) -> None:
    repo = fake.github_repos[("acme", "widgets")]
    repo.issues.extend(
        {"number": n, "title": f"Bug {n}", "state": "open", "labels": []} for n in range(issues)
    )
    record = dry_run(
        client,
        alice,
        load("github-issues-digest.json"),
        trigger_data={"scheduled_time": "2026-11-23T09:00:00Z"},
    )
    assert record["status"] == "SUCCEEDED", record
    ran = runs(record)
    assert ran["count"]["output"]["open"] == issues, ran["fetch-issues"]
    # More than 10 open: a manager approves first (approved automatically in a dry run).
    assert ("manager-ok" in ran) == (issues > 10)
    assert ran["summarise"]["output"]["provider"] == "offline"
    posted = fake.last("/slack/api/chat.postMessage").json
    assert posted["channel"] == "#general"
    assert f"Open issues today ({issues})" in posted["text"]
    assert record["output"]["ok"] is True
    live = live_run(
        client, alice, load("github-issues-digest.json"), {"scheduled_time": "2026-11-23T09:00:00Z"}
    )
    assert_same_results(record, live, output=issues <= 10)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"plan": "enterprise", "seats": 10}, "alert-sales"),
        ({"plan": "pro", "seats": 80}, "alert-sales"),
        ({"plan": "pro", "seats": 5}, "email-team"),
        ({"plan": "free", "seats": 1}, "remember"),
    ],
)
@pytest.mark.usefixtures("credentials")
def test_webhook_lead_router(
    client: TestClient,
    alice: dict[str, str],
    fake: FakeServices,
    body: dict[str, Any],
    expected: str,
) -> None:
    lead = {"company": "Initech", "email": "bill@initech.test", **body}
    record = dry_run(client, alice, load("webhook-lead-router.json"), trigger_data={"body": lead})
    assert record["status"] == "SUCCEEDED", record
    ran = runs(record)
    assert set(ran) == {"form", "by-plan", expected}
    if expected == "alert-sales":
        assert "Initech" in fake.last("/slack/api/chat.postMessage").json["text"]
    if expected == "email-team":
        assert ran["email-team"]["output"]["message_id"]
    if expected == "remember":
        assert ran["remember"]["output"]["value"] == [
            {"company": "Initech", "email": "bill@initech.test"}
        ]
    live = live_run(client, alice, load("webhook-lead-router.json"), {"body": lead})
    assert_same_results(record, live)


def test_order_batch(client: TestClient, alice: dict[str, str]) -> None:
    orders = [
        {
            "id": "A1",
            "customer": "ann",
            "lines": [{"qty": 2, "price": 30}, {"qty": 1, "price": 50}],
        },
        {"id": "A2", "customer": "bo", "lines": [{"qty": 1, "price": 20}]},
        {"id": "A3", "customer": "cy", "lines": [{"qty": 10, "price": 12.5}]},
    ]
    record = dry_run(client, alice, load("order-batch.json"), trigger_data={"orders": orders})
    assert record["status"] == "SUCCEEDED", record
    assert [r["iteration"] for r in record["node_runs"] if r["node_id"] == "total"] == [
        [0],
        [1],
        [2],
    ]
    assert record["output"] == {
        "orders": 3,
        "big": 2,
        "big_ids": ["A1", "A3"],
        "summary": "2 of 3 orders are over 100",
    }
    assert_same_results(
        record, live_run(client, alice, load("order-batch.json"), {"orders": orders})
    )


def test_support_agent_calls_its_tool_and_remembers(
    client: TestClient, alice: dict[str, str], fake: FakeServices
) -> None:
    document = load("support-agent.json", {"https://api.acme.test/v1/orders": f"{fake.url}/echo"})
    question = {"message": "Where is my order?", "order_id": "A1", "customer": "ann"}
    record = dry_run(client, alice, document, trigger_data=question)
    assert record["status"] == "SUCCEEDED", record
    assert record["output"]["tools_used"] == ["lookup_order"]
    assert record["output"]["answer"].startswith("[offline]")
    assert fake.last("/echo").query == {"order_id": ["A1"]}
    live = live_run(client, alice, document, question)
    # The offline answer quotes the tool's HTTP answer, `Date` header included: it may differ
    # by a second between the two runs, so the answer's text is compared without it.
    assert_same_results(record, live, output=False)
    assert live["output"]["tools_used"] == record["output"]["tools_used"]
    assert live["output"]["answer"].startswith("[offline] lookup_order returned")


def test_resilient_fetch_falls_back_after_its_retries(
    client: TestClient, alice: dict[str, str], fake: FakeServices
) -> None:
    document = load(
        "resilient-fetch.json",
        {
            "https://prices.partner.test/v1/prices": f"{fake.url}/status/503",
            "https://hooks.acme.test/alerts": f"{fake.url}/echo",
        },
    )
    record = dry_run(client, alice, document, trigger_data={"day": "2026-11-21"})
    assert record["status"] == "SUCCEEDED", record
    ran = runs(record)
    assert ran["fetch-prices"]["status"] == "FAILED"
    assert ran["fetch-prices"]["attempts"] == 3
    assert ran["fetch-prices"]["port"] == "error"
    assert "use-prices" not in ran
    assert ran["fallback"]["output"]["source"] == "cache"
    assert "503" in fake.last("/echo").json["text"]
    assert len([r for r in fake.requests if r.path == "/status/503"]) == 3
    live = live_run(client, alice, document, {"day": "2026-11-21"})
    assert_same_results(record, live)
    assert runs(live)["fetch-prices"]["attempts"] == 3
    assert len([r for r in fake.requests if r.path == "/status/503"]) == 6
