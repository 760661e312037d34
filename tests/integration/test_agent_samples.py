"""The agent's dry run on sample data (flowlane.agent.samples): every example dry-runs to
SUCCEEDED with sample trigger data and sample outputs pinned on the nodes that reach outside,
nothing leaves the process (no HTTP, email, memory, credentials or LLM), and the pure nodes
really run on the samples.

The samples are also compared with what the real nodes return (against the local fakes of
Slack and partner APIs, moto's SES and the offline LLM), so an expression written against a
sample reads the same fields on real data.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flowlane.agent.samples import leaf_value, needs_pin, sample_pins, sample_trigger_data
from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.engine.interpreter import dry_run
from flowlane.models.execution import ExecutionRecord, ExecutionStatus, NodeRun, NodeRunStatus
from flowlane.models.workflow import WorkflowCreate, WorkflowData
from flowlane.nodes import ai_agent
from flowlane.runtime.node_services import RuntimeNodeServices
from flowlane.runtime.services import Services
from flowlane.store.credentials import CredentialStore
from tests.conftest import REPO_ROOT
from tests.fakes.services_server import FakeServices

EXAMPLES = REPO_ROOT / "examples"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.glob("*.json"))
OWNER = "alice"


# -- helpers -------------------------------------------------------------------------------------


def load(name: str) -> WorkflowCreate:
    return WorkflowCreate.model_validate(json.loads((EXAMPLES / name).read_text()))


def as_data(document: WorkflowCreate, workflow_id: str = "sample-test") -> WorkflowData:
    """The stored form of a document, as POST /workflows would save it."""
    now = int(time.time() * 1000)
    body = document.model_dump(exclude={"id", "user_id", "session_id"})
    return WorkflowData.model_validate(
        {**body, "id": workflow_id, "created_at": now, "updated_at": now}
    )


def document(nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]]) -> WorkflowData:
    """A workflow from nodes and (source, port, target) edges."""
    connections: dict[str, Any] = {}
    for source, port, target in edges:
        ports = connections.setdefault(source, {"connection_types": {}})["connection_types"]
        ports.setdefault(port, {"connections": []})["connections"].append({"node": target})
    return as_data(
        WorkflowCreate.model_validate(
            {"name": "Sample test", "nodes": nodes, "connections": {"connections": connections}}
        )
    )


def runs(record: ExecutionRecord) -> dict[str, NodeRun]:
    return {r.node_id: r for r in record.node_runs}


class OutsideCalls:
    """Everything a dry run on samples must not do, recorded (and refused)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def refuse(self, what: str) -> None:
        self.calls.append(what)
        raise RuntimeError(f"a dry run on samples reached outside: {what}")


class GuardedServices(RuntimeNodeServices):
    """The real node services, except that email, memory and credentials are refused."""

    def __init__(self, services: Services, outside: OutsideCalls) -> None:
        super().__init__(services, engine=EngineSettings(allow_private_network=True))
        self._outside = outside

    def send_email(self, sender: str, to: list[str], subject: str, body: str) -> str:
        self._outside.refuse(f"email to {to}")
        raise AssertionError("unreachable")

    def memory(self, owner: str, workflow_id: str) -> Any:
        self._outside.refuse("memory")

    def credentials(self, owner: str) -> Any:
        self._outside.refuse("credentials")


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> OutsideCalls:
    """Any HTTP request (from any httpx client: nodes, LLM SDKs) or LLM provider fails."""
    guard = OutsideCalls()

    def no_http(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        guard.refuse(f"HTTP {request.method} {request.url}")
        raise AssertionError("unreachable")

    def no_llm(*args: Any, **kwargs: Any) -> Any:
        guard.refuse("an LLM provider")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", no_http)
    monkeypatch.setattr(ai_agent, "open_provider", no_llm)
    return guard


@pytest.fixture
def guarded(services: Services, outside: OutsideCalls) -> GuardedServices:
    return GuardedServices(services, outside)


def sample_run(workflow: WorkflowData, node_services: Any) -> ExecutionRecord:
    return dry_run(
        workflow,
        node_services,
        owner=OWNER,
        trigger_data=sample_trigger_data(workflow),
        pin_data=sample_pins(workflow),
        max_retry_wait=0.0,
    )


# -- every example -------------------------------------------------------------------------------


def test_there_are_examples() -> None:
    assert len(EXAMPLE_NAMES) >= 5


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_dry_runs_on_samples_without_reaching_outside(
    name: str, guarded: GuardedServices, outside: OutsideCalls
) -> None:
    workflow = as_data(load(name))
    pins = sample_pins(workflow)

    record = sample_run(workflow, guarded)

    assert outside.calls == []
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert not [r for r in record.node_runs if r.status is not NodeRunStatus.SUCCEEDED]
    # Every node that would reach outside is pinned; nothing else is.
    assert set(pins) == {n.id for n in workflow.nodes if needs_pin(n)}
    for run in record.node_runs:
        if run.node_id in pins:
            assert run.pinned
            assert run.output == pins[run.node_id], run.node_id
        else:
            assert not run.pinned
    # Something besides the trigger really ran.
    kinds = {n.id: n.type.value for n in workflow.nodes}
    really_ran = [r for r in record.node_runs if not r.pinned and kinds[r.node_id] != "TRIGGER"]
    assert really_ran, name


def test_samples_are_deterministic_and_the_same_for_a_document_and_its_stored_form() -> None:
    for name in EXAMPLE_NAMES:
        created = load(name)
        stored = as_data(created)
        assert sample_pins(created) == sample_pins(stored) == sample_pins(stored)
        assert sample_trigger_data(created) == sample_trigger_data(stored)
        json.dumps([sample_pins(stored), sample_trigger_data(stored)])  # plain JSON


# -- the pure nodes run on the samples -----------------------------------------------------------


def test_digest_counts_the_sample_issues_and_its_if_takes_the_port_they_give(
    guarded: GuardedServices,
) -> None:
    workflow = as_data(load("github-issues-digest.json"))
    pins = sample_pins(workflow)
    issues = pins["fetch-issues"]

    record = sample_run(workflow, guarded)

    ran = runs(record)
    assert sample_trigger_data(workflow) == {"scheduled_time": "2026-01-05T09:00:00Z"}
    assert [
        set(i) >= {"number", "title", "state", "labels", "user", "html_url", "body"} for i in issues
    ] == [True] * 3
    assert all(i["state"] == "open" for i in issues)  # the node lists open issues
    assert ran["count"].output == {"open": 3, "titles": [i["title"] for i in issues]}
    assert ran["many"].port == "false"  # 3 is not more than 10
    assert "manager-ok" not in ran
    assert ran["summarise"].pinned
    assert record.output == pins["post"]


def test_digest_takes_the_approval_branch_when_the_sample_says_more_than_ten(
    guarded: GuardedServices,
) -> None:
    """Pins can be overridden to try another branch; the APPROVAL really runs (approved)."""
    workflow = as_data(load("github-issues-digest.json"))
    pins = sample_pins(workflow)
    pins["fetch-issues"] = pins["fetch-issues"] * 4

    record = dry_run(
        workflow, guarded, owner=OWNER, trigger_data=sample_trigger_data(workflow), pin_data=pins
    )

    ran = runs(record)
    assert record.status is ExecutionStatus.SUCCEEDED
    assert ran["count"].output["open"] == 12
    assert ran["many"].port == "true"
    assert not ran["manager-ok"].pinned
    assert ran["manager-ok"].port == "approved"


def test_lead_router_sample_body_has_what_the_switch_reads(guarded: GuardedServices) -> None:
    workflow = as_data(load("webhook-lead-router.json"))
    request = sample_trigger_data(workflow)

    record = sample_run(workflow, guarded)

    assert set(request) == {"body", "headers", "query", "method"}
    assert request["method"] == "POST"
    body = request["body"]
    assert set(body) == {"plan", "seats", "company", "email"}
    assert isinstance(body["seats"], int)  # compared with gte 50
    assert "@" in body["email"]
    ran = runs(record)
    assert set(ran) == {"form", "by-plan", "email-team"}  # plan "pro", 3 seats
    assert ran["by-plan"].port == "pro"
    assert ran["email-team"].output == sample_pins(workflow)["email-team"]


def test_order_batch_loops_over_sample_orders(guarded: GuardedServices) -> None:
    workflow = as_data(load("order-batch.json"))
    orders = sample_trigger_data(workflow)["orders"]

    record = sample_run(workflow, guarded)

    assert len(orders) == 3
    assert all({"id", "customer", "lines"} <= set(o) for o in orders)
    assert all(isinstance(line["qty"], int) for o in orders for line in o["lines"])
    totals = [r for r in record.node_runs if r.node_id == "total"]
    assert [r.iteration for r in totals] == [[0], [1], [2]]
    assert all(r.output["total"] > 100 for r in totals)
    assert record.output["orders"] == 3
    assert record.output["big_ids"] == [o["id"] for o in orders]


def test_support_agent_sample_lists_its_tool_call(guarded: GuardedServices) -> None:
    workflow = as_data(load("support-agent.json"))

    record = sample_run(workflow, guarded)

    # The attached memory's conversation_id reads input.customer in the agent's context.
    assert set(sample_trigger_data(workflow)) == {"message", "order_id", "customer"}
    ran = runs(record)
    assert ran["agent"].pinned
    # Attachments do not run on their own.
    assert "lookup-order" not in ran
    assert "chat-memory" not in ran
    assert record.output["tools_used"] == ["lookup_order"]
    assert record.output["answer"] == sample_pins(workflow)["agent"]["text"]


def test_resilient_fetch_uses_the_sample_response(guarded: GuardedServices) -> None:
    workflow = as_data(load("resilient-fetch.json"))

    record = sample_run(workflow, guarded)

    ran = runs(record)
    assert ran["fetch-prices"].pinned
    assert ran["use-prices"].output == {
        "source": "partner",
        "prices": sample_pins(workflow)["fetch-prices"]["body"],
    }
    assert "fallback" not in ran
    assert "tell-team" not in ran


# -- samples per node kind -----------------------------------------------------------------------

MANUAL = {"id": "start", "type": "TRIGGER", "subtype": "MANUAL"}


def test_manual_trigger_data_is_empty_when_nothing_reads_it() -> None:
    workflow = document([MANUAL, {"id": "s", "type": "ACTION", "subtype": "SET"}], [])
    assert sample_trigger_data(workflow) == {}


def test_webhook_without_reads_gets_a_plausible_body_and_its_method() -> None:
    workflow = document(
        [{"id": "hook", "type": "TRIGGER", "subtype": "WEBHOOK", "parameters": {"method": "put"}}],
        [],
    )
    request = sample_trigger_data(workflow)
    assert request["method"] == "PUT"
    assert request["query"] == {}
    assert "@" in request["body"]["email"]


def test_disabled_and_unknown_nodes_are_not_pinned(guarded: GuardedServices) -> None:
    workflow = document(
        [
            MANUAL,
            {
                "id": "post",
                "type": "EXTERNAL_ACTION",
                "subtype": "SLACK",
                "disabled": True,
                "parameters": {"channel": "#general", "text": "hi"},
            },
            {"id": "mystery", "type": "EXTERNAL_ACTION", "subtype": "CARRIER_PIGEON"},
        ],
        [("start", "main", "post")],
    )
    assert sample_pins(workflow) == {}
    record = dry_run(
        workflow, guarded, owner=OWNER, trigger_data={"a": 1}, pin_data=sample_pins(workflow)
    )
    assert runs(record)["post"].disabled
    assert runs(record)["post"].output == {"a": 1}


def test_chat_json_answer_holds_the_fields_and_labels_its_prompt_names(
    guarded: GuardedServices,
) -> None:
    workflow = document(
        [
            {
                "id": "ticket",
                "type": "TRIGGER",
                "subtype": "WEBHOOK",
                "parameters": {"path": "tickets"},
            },
            {
                "id": "classify",
                "type": "AI_AGENT",
                "subtype": "CHAT",
                "parameters": {
                    "system_prompt": "Classify the ticket as bug, feature or question. "
                    'Answer with {"label": ..., "confidence": ...}.',
                    "prompt": "{{ input.body.text }}",
                    "output_format": "json",
                },
            },
            {
                "id": "route",
                "type": "FLOW",
                "subtype": "SWITCH",
                "parameters": {
                    "cases": [
                        {
                            "name": "bug",
                            "conditions": [
                                {"left": "{{ input.data.label }}", "op": "equals", "right": "bug"},
                                {"left": "{{ input.data.urgency }}", "op": "gte", "right": 1},
                            ],
                        }
                    ]
                },
            },
            {"id": "bugs", "type": "ACTION", "subtype": "SET", "parameters": {"values": {}}},
        ],
        [("ticket", "main", "classify"), ("classify", "main", "route"), ("route", "bug", "bugs")],
    )
    sample = sample_pins(workflow)["classify"]

    record = sample_run(workflow, guarded)

    assert sample["data"] == {"label": "bug", "confidence": 0.92, "urgency": 3}
    assert json.loads(sample["text"]) == sample["data"]
    assert sample["provider"] == "sample"
    assert set(sample) == {"text", "data", "provider", "model", "usage", "tool_calls"}
    assert sample_trigger_data(workflow)["body"] == {"text": "Sample text"}
    assert runs(record)["route"].port == "bug"


@pytest.mark.parametrize(
    ("system_prompt", "data"),
    [
        ("Answer as JSON, briefly.", {"result": "Sample result"}),
        ("Is it positive or negative? Reply with the sentiment.", {"label": "positive"}),
        ("Say whether the text is one of spam/ham.", {"label": "spam"}),
        (
            'Exactly one of: important, normal, ignore. JSON: {"category": "...", "why": "..."}',
            {"category": "important", "why": "Sample why"},
        ),
        ("Extract the fields name, email and company.", None),
        ("Rate it with keys score and reason.", {"score": 3, "reason": "Sample reason"}),
    ],
)
def test_chat_json_answers_from_prompts(system_prompt: str, data: dict[str, Any] | None) -> None:
    chat = {
        "id": "ask",
        "type": "AI_AGENT",
        "subtype": "CHAT",
        "parameters": {"system_prompt": system_prompt, "output_format": "json"},
    }
    sample = sample_pins(document([MANUAL, chat], [("start", "main", "ask")]))["ask"]
    expected = data or {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Initech"}
    assert sample["data"] == expected


def test_http_samples_follow_the_url_and_what_is_read() -> None:
    workflow = document(
        [
            MANUAL,
            {
                "id": "feed",
                "type": "ACTION",
                "subtype": "HTTP_REQUEST",
                "parameters": {"url": "https://blog.example.com/rss.xml"},
            },
            {
                "id": "create",
                "type": "ACTION",
                "subtype": "HTTP_REQUEST",
                "parameters": {"method": "POST", "url": "https://api.example.com/v1/tickets"},
            },
            {
                "id": "search",
                "type": "ACTION",
                "subtype": "HTTP_REQUEST",
                "parameters": {"url": "https://api.example.com/search?q={{ trigger.q }}"},
            },
            {
                "id": "first",
                "type": "ACTION",
                "subtype": "SET",
                "parameters": {
                    "values": {
                        "title": "{{ nodes.search.body.results[0].title }}",
                        "total": "{{ nodes.search.body.total_count + 1 }}",
                    }
                },
            },
        ],
        [
            ("start", "main", "feed"),
            ("feed", "main", "create"),
            ("create", "main", "search"),
            ("search", "main", "first"),
        ],
    )
    pins = sample_pins(workflow)
    assert pins["feed"]["headers"]["content-type"] == "application/rss+xml"
    assert pins["feed"]["body"].startswith("<?xml")
    assert pins["create"]["body"] == {"id": "sample-1", "status": "ok"}
    body = pins["search"]["body"]
    assert isinstance(body["total_count"], int)
    assert [r["title"] for r in body["results"]] == [
        "Sample title 1",
        "Sample title 2",
        "Sample title 3",
    ]
    assert sample_trigger_data(workflow) == {"q": "Sample q"}


def test_github_samples_per_operation() -> None:
    def github(node_id: str, **parameters: Any) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": "EXTERNAL_ACTION",
            "subtype": "GITHUB",
            "parameters": {"owner": "acme", "repo": "widgets", **parameters},
        }

    workflow = document(
        [
            MANUAL,
            github("few", operation="list_issues", per_page=2, labels=["bug"], state="closed"),
            github("new", operation="create_issue", title="Broken {{ input.x }}", labels=["ops"]),
            github("say", operation="add_comment", issue_number=7, body="Thanks!"),
        ],
        [],
    )
    pins = sample_pins(workflow)
    assert len(pins["few"]) == 2
    assert {i["state"] for i in pins["few"]} == {"closed"}
    assert {label["name"] for i in pins["few"] for label in i["labels"]} == {"bug"}
    assert pins["new"]["title"] == "Broken sample"
    assert (
        pins["new"]["html_url"] == f"https://github.com/acme/widgets/issues/{pins['new']['number']}"
    )
    assert pins["say"]["body"] == "Thanks!"
    assert pins["say"]["issue_url"].endswith("/repos/acme/widgets/issues/7")


def test_memory_samples() -> None:
    def memory(node_id: str, subtype: str, **parameters: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "MEMORY", "subtype": subtype, "parameters": parameters}

    workflow = document(
        [
            MANUAL,
            memory("get", "KEY_VALUE", key="last-id"),
            memory("set", "KEY_VALUE", operation="set", key="k", value={"n": 1}),
            memory("add", "KEY_VALUE", operation="append", key="k", value="{{ input.x }}"),
            memory("read", "CONVERSATION"),
            memory("say", "CONVERSATION", operation="append", message="hello"),
        ],
        [],
    )
    assert sample_pins(workflow) == {
        "get": {"key": "last-id", "value": None},
        "set": {"key": "k", "value": {"n": 1}},
        "add": {"key": "k", "value": []},
        "read": {"messages": []},
        "say": {"messages": [{"role": "user", "content": "hello"}]},
    }


@pytest.mark.parametrize(
    ("name", "hint", "expected"),
    [
        ("email", None, "ada@example.com"),
        ("customerEmail", None, "ada@example.com"),
        ("created_at", None, "2026-01-05T09:00:00Z"),
        ("price", None, 120.0),
        ("seats", None, 3),
        ("whatever", "number", 3),
        ("is_urgent", None, True),
        ("tags", None, ["Sample tag 1", "Sample tag 2", "Sample tag 3"]),
        ("status", None, "open"),
        ("note", None, "Sample note"),
    ],
)
def test_leaf_values_by_name(name: str, hint: str | None, expected: Any) -> None:
    assert leaf_value(name, hint) == expected


# -- the samples have the shape of the real outputs ----------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    with FakeServices() as server:
        yield server


@pytest.fixture
def real_services(services: Services, fake: FakeServices) -> RuntimeNodeServices:
    """The real node services pointed at the local fakes (private network allowed), with
    alice's Slack token stored, and no LLM key (the offline provider answers)."""
    CredentialStore(services.clients.secretsmanager, "flowlane/credentials/", OWNER).put(
        "slack-bot", {"token": "xoxb-test-token"}
    )
    return RuntimeNodeServices(
        services,
        engine=EngineSettings(allow_private_network=True),
        integrations=IntegrationSettings(
            slack_base_url=fake.slack_base_url,
            github_base_url=fake.github_base_url,
            openai_api_key=None,
            anthropic_api_key=None,
        ),
    )


def keys_of(value: Any) -> Any:
    """The field names of a value, nested: what an expression can read."""
    if isinstance(value, dict):
        return {k: keys_of(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [keys_of(value[0])]
    return type(value).__name__ if value is not None else None


def test_samples_have_the_fields_of_the_real_outputs(
    fake: FakeServices, real_services: RuntimeNodeServices
) -> None:
    nodes = [
        MANUAL,
        {
            "id": "post",
            "type": "EXTERNAL_ACTION",
            "subtype": "SLACK",
            "credentials": {"slack": "slack-bot"},
            "parameters": {"channel": "#general", "text": "Hello"},
        },
        {
            "id": "mail",
            "type": "EXTERNAL_ACTION",
            "subtype": "EMAIL",
            "parameters": {"to": "team@example.com", "subject": "Hi", "body": "Hello"},
        },
        {
            "id": "ask",
            "type": "AI_AGENT",
            "subtype": "CHAT",
            "parameters": {"prompt": "Say hello", "provider": "offline"},
        },
        {
            "id": "call",
            "type": "ACTION",
            "subtype": "HTTP_REQUEST",
            "parameters": {"method": "POST", "url": f"{fake.url}/echo", "body": {"a": 1}},
        },
        {
            "id": "hook",
            "type": "EXTERNAL_ACTION",
            "subtype": "WEBHOOK",
            "parameters": {"url": f"{fake.url}/echo"},
        },
        {"id": "get", "type": "MEMORY", "subtype": "KEY_VALUE", "parameters": {"key": "k"}},
        {"id": "read", "type": "MEMORY", "subtype": "CONVERSATION"},
    ]
    chain = [n["id"] for n in nodes]
    workflow = document(nodes, [(a, "main", b) for a, b in itertools.pairwise(chain)])
    pins = sample_pins(workflow)

    real = dry_run(workflow, real_services, owner=OWNER, trigger_data={})

    assert real.status is ExecutionStatus.SUCCEEDED, real.error
    outputs = {r.node_id: r.output for r in real.node_runs}
    assert set(pins) == set(chain) - {"start"}
    for node_id, sample in pins.items():
        assert set(sample) == set(outputs[node_id]), node_id
    # Nested fields too, where the real answer's shape is fixed by the node or the fake.
    for node_id in ("post", "mail", "get", "read"):
        assert keys_of(pins[node_id]) == keys_of(outputs[node_id]), node_id
    assert keys_of(pins["ask"])["usage"] == keys_of(outputs["ask"])["usage"]


def test_the_guard_refuses_what_the_samples_stand_in_for(
    guarded: GuardedServices, outside: OutsideCalls
) -> None:
    """Without the pins the same dry run reaches outside, and the guard catches it: the
    checks above are not vacuous."""
    for name in ("github-issues-digest.json", "webhook-lead-router.json", "support-agent.json"):
        workflow = as_data(load(name))
        dry_run(
            workflow,
            guarded,
            owner=OWNER,
            trigger_data=sample_trigger_data(workflow),
            max_retry_wait=0.0,
        )
    chat = document(
        [
            MANUAL,
            {"id": "ask", "type": "AI_AGENT", "subtype": "CHAT", "parameters": {"prompt": "hi"}},
        ],
        [("start", "main", "ask")],
    )
    dry_run(chat, guarded, owner=OWNER, trigger_data={})
    assert "credentials" in outside.calls  # GitHub's token
    assert "email to ['sales@acme.test']" in outside.calls
    assert "memory" in outside.calls  # the support agent's conversation
    assert "an LLM provider" in outside.calls


def test_loops_and_filters_run_over_sampled_lists(guarded: GuardedServices) -> None:
    workflow = document(
        [
            {"id": "start", "type": "TRIGGER", "subtype": "MANUAL"},
            {
                "id": "issues",
                "type": "EXTERNAL_ACTION",
                "subtype": "GITHUB",
                "parameters": {"operation": "list_issues", "owner": "acme", "repo": "widgets"},
            },
            {
                "id": "each",
                "type": "FLOW",
                "subtype": "LOOP",
                "parameters": {"items": "{{ input }}"},
            },
            {
                "id": "tell",
                "type": "EXTERNAL_ACTION",
                "subtype": "SLACK",
                "parameters": {
                    "channel": "#dev",
                    "text": "{{ item.title }} by {{ item.user.login }}",
                },
            },
            {
                "id": "shop",
                "type": "ACTION",
                "subtype": "HTTP_REQUEST",
                "parameters": {"url": "https://shop.example.com/api/catalogue"},
            },
            {
                "id": "dear",
                "type": "FLOW",
                "subtype": "FILTER",
                "parameters": {
                    "items": "{{ input.body.products }}",
                    "conditions": [{"left": "{{ item.price }}", "op": "gt", "right": 100}],
                },
            },
            {
                "id": "names",
                "type": "ACTION",
                "subtype": "TRANSFORM",
                "parameters": {
                    "expression": "{'names': input.name, 'n': $number(nodes.shop.body.page)}"
                },
            },
        ],
        [
            ("start", "main", "issues"),
            ("issues", "main", "each"),
            ("each", "each", "tell"),
            ("each", "done", "shop"),
            ("shop", "main", "dear"),
            ("dear", "main", "names"),
        ],
    )
    pins = sample_pins(workflow)

    record = sample_run(workflow, guarded)

    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert not [r for r in record.node_runs if r.error is not None]
    told = [r for r in record.node_runs if r.node_id == "tell"]
    assert [r.iteration for r in told] == [[0], [1], [2]]  # once per sample issue
    products = pins["shop"]["body"]["products"]
    assert [p["price"] for p in products] == [120.0, 45.5, 80.0]
    assert runs(record)["dear"].output == [products[0]]
    assert runs(record)["names"].output == {"names": products[0]["name"], "n": 3}


@pytest.mark.parametrize("subtype", ["LOOP", "FILTER"])
def test_an_omitted_items_iterates_the_input(subtype: str, guarded: GuardedServices) -> None:
    flow: dict[str, Any] = {"id": "flow", "type": "FLOW", "subtype": subtype}
    if subtype == "FILTER":
        flow["parameters"] = {"conditions": [{"left": "{{ item }}", "op": "gt", "right": 1}]}
    nodes = [MANUAL, flow, {"id": "body", "type": "ACTION", "subtype": "SET"}]
    workflow = document(nodes, [("start", "main", "flow"), ("flow", "each", "body")])

    record = dry_run(workflow, guarded, owner=OWNER, trigger_data=[1, 2, 3])

    ran = runs(record)
    assert ran["flow"].error is None
    if subtype == "LOOP":
        assert len([r for r in record.node_runs if r.node_id == "body"]) == 3
    else:
        assert ran["flow"].output == [2, 3]
