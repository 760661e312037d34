"""The offline planner (flowlane.agent.offline): plain words to valid, connected workflows.

The corpus (tests/data/automation_requests.json) holds requests people wrote on public pages;
each must become a workflow with no validation error, every node reachable from its trigger,
and the trigger, node kinds, schedule and missing information the request calls for.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flowlane.agent.draft import Draft, DraftNode
from flowlane.agent.offline import StepKind, TriggerKind, compose, plan, understand
from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.engine.expressions import resolve
from flowlane.engine.graph import WorkflowGraph
from flowlane.engine.interpreter import dry_run
from flowlane.engine.schedule import parse_schedule
from flowlane.engine.validation import validate_workflow
from flowlane.models.workflow import NodeType, WorkflowData

CORPUS = json.loads(
    (Path(__file__).parent.parent / "data" / "automation_requests.json").read_text(encoding="utf-8")
)["requests"]
FLAGSHIP = next(r["text"] for r in CORPUS if r.get("flagship"))
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
NODE_REF = re.compile(r"nodes\.`([^`]+)`")


def kinds(draft: Draft) -> set[str]:
    return {f"{n.type.value}.{n.subtype}" for n in draft.nodes}


def trigger_of(draft: Draft) -> DraftNode:
    return next(n for n in draft.nodes if n.type is NodeType.TRIGGER)


def edges(draft: Draft) -> set[tuple[str, str, str]]:
    return {(e.source, e.port, e.target) for e in draft.edges}


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def check_well_formed(draft: Draft) -> None:
    """Valid, connected, readable, and expressions only read what runs before them."""
    workflow = draft.to_workflow()
    report = validate_workflow(workflow)
    assert report.errors == [], [e.message for e in report.errors]
    assert len(report.warnings) <= 1, [w.message for w in report.warnings]
    graph = WorkflowGraph(workflow.nodes, workflow.connections)
    reachable = graph.reachable_from_triggers | graph.attached_only
    assert {n.id for n in draft.nodes} <= reachable
    assert draft.name.strip()
    assert draft.description
    ids = {n.id for n in draft.nodes}
    upstream: dict[str, set[str]] = {i: set() for i in ids}
    changed = True
    while changed:  # ancestors over main edges (loop back edges add the loop's own ancestors)
        changed = False
        for e in draft.edges:
            before = len(upstream[e.target])
            upstream[e.target] |= {e.source} | upstream[e.source]
            changed |= len(upstream[e.target]) != before
    for node in draft.nodes:
        assert KEBAB.match(node.id), node.id
        assert node.name
        assert node.name != node.id
        for text in strings(node.parameters):
            for expression in TEMPLATE.findall(text):
                for ref in NODE_REF.findall(expression):
                    assert ref in ids, f"{node.id} reads unknown node {ref}"
                    assert ref in upstream[node.id] or node.type is NodeType.MEMORY, (
                        f"{node.id} reads {ref}, which does not run before it"
                    )
                assert not re.search(r"\$json|\$node\[|\{\{\s*\$\(", expression)


# -- the corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_request_becomes_the_workflow_it_asks_for(case: dict[str, Any]) -> None:
    draft = plan(case["text"])
    expect = case["expect"]

    check_well_formed(draft)
    trigger = trigger_of(draft)
    assert trigger.subtype == expect["trigger"]
    missing_kinds = set(expect["kinds"]) - kinds(draft)
    assert not missing_kinds, f"missing {missing_kinds}; got {sorted(kinds(draft))}"
    if "expression" in expect:
        assert trigger.parameters["expression"] == expect["expression"]
    if "timezone" in expect:
        assert draft.timezone == expect["timezone"]
        assert trigger.parameters["timezone"] == expect["timezone"]
    for words in expect.get("missing_info_mentions", []):
        assert any(words.lower() in m.lower() for m in draft.missing_info), (
            words,
            draft.missing_info,
        )


def test_corpus_is_large_and_cited() -> None:
    assert len(CORPUS) >= 30
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)
    cited = [c for c in CORPUS if not c.get("flagship")]
    assert all(c["source"].startswith("https://") for c in cited)
    assert {c["expect"]["trigger"] for c in CORPUS} == {"SCHEDULE", "WEBHOOK", "MANUAL"}


# -- dry runs on plausible data --------------------------------------------------------------


class PureServices:
    """Nodes that call out are pinned below, so the settings are all a dry run needs."""

    engine = EngineSettings()
    integrations = IntegrationSettings()


ISSUES = [
    {"number": 1, "id": 11, "title": "Crash on start", "labels": [{"name": "bug"}]},
    {"number": 2, "id": 12, "title": "Add dark mode", "labels": []},
]
HTTP_BODY = {
    "values": [["https://example.com"]],
    "messages": [{"text": "hi", "ts": "1"}],
    "records": [],
    "results": [{"id": 1}],
}


def sample_output(node: DraftNode) -> Any:
    """What a node that calls a service outputs (shapes of flowlane.nodes)."""
    subtype = node.subtype
    if subtype == "GITHUB":
        if node.parameters.get("operation") == "list_issues":
            return ISSUES
        return {"number": 3, "html_url": "https://github.com/acme/widgets/issues/3"}
    if subtype == "HTTP_REQUEST" or (
        subtype == "WEBHOOK" and node.type is NodeType.EXTERNAL_ACTION
    ):
        return {"status_code": 200, "headers": {}, "body": HTTP_BODY}
    if subtype == "CHAT":
        return {
            "text": "- one\n- two",
            "data": {"label": "bug", "reason": "it crashes"},
            "usage": {},
        }
    if subtype == "SLACK":
        return {"ok": True, "ts": "1.2"}
    if subtype == "EMAIL":
        return {"message_id": "m-1"}
    if subtype == "KEY_VALUE":
        return {"key": node.parameters.get("key"), "value": None}
    if subtype == "CONVERSATION":
        return {"messages": []}
    return None


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_workflow_expressions_evaluate_on_plausible_data(case: dict[str, Any]) -> None:
    draft = plan(case["text"])
    document = draft.to_workflow().model_dump()
    workflow = WorkflowData.model_validate(
        {**document, "id": "wf-test", "created_at": 0, "updated_at": 0}
    )
    pins = {n.id: out for n in draft.nodes if (out := sample_output(n)) is not None}
    webhook = trigger_of(draft).subtype == "WEBHOOK"
    data = (
        {"body": {"message": "Billing question", "email": "a@b.com", "score": 90, "user_id": "u1"}}
        if webhook
        else {}
    )

    record = dry_run(
        workflow, PureServices(), owner="alice", trigger_data=data, pin_data=pins, max_retry_wait=0
    )

    failures = [(r.node_id, r.error.message) for r in record.node_runs if r.error is not None]
    assert failures == []
    assert record.status.value == "SUCCEEDED"
    # Pinned nodes did not evaluate their own parameters: do it here, outside loop bodies.
    graph = WorkflowGraph(workflow.nodes, workflow.connections)
    outputs = {r.node_id: r.output for r in record.node_runs if not r.iteration}
    trigger_output = outputs[trigger_of(draft).id]
    for run in record.node_runs:
        node = draft.node(run.node_id)
        if (
            node is None
            or run.iteration
            or run.node_id in graph.enclosing_loop
            or node.id not in pins
        ):
            continue
        scope = {
            "input": run.input,
            "nodes": outputs,
            "trigger": trigger_output,
            "item": None,
            "index": None,
        }
        resolve(node.parameters, scope, "parameters", EngineSettings())


# -- schedules in words ----------------------------------------------------------------------

SCHEDULES = [
    ("every weekday at 9am post the standup reminder to Slack", "cron(0 9 ? * MON-FRI *)", "UTC"),
    ("every Monday morning email me the sales report", "cron(0 9 ? * MON *)", "UTC"),
    ("nightly back up the database export to our API", "cron(0 2 ? * * *)", "UTC"),
    ("every night at midnight fetch the prices", "cron(0 0 ? * * *)", "UTC"),
    ("every 6 hours fetch the exchange rates", "rate(6 hours)", "UTC"),
    ("every 15 minutes check https://status.example.com", "rate(15 minutes)", "UTC"),
    ("hourly check the health endpoint", "rate(1 hour)", "UTC"),
    ("daily at 5:30pm send a summary to Slack", "cron(30 17 ? * * *)", "UTC"),
    ("on the 1st of every month email the invoices report", "cron(0 9 1 * ? *)", "UTC"),
    ("every Friday at 4pm post the weekly wins to #team", "cron(0 16 ? * FRI *)", "UTC"),
    ("twice a day check the queue", "cron(0 9,17 ? * * *)", "UTC"),
    ("every day at 9am Paris time post the weather to Slack", "cron(0 9 ? * * *)", "Europe/Paris"),
    ("every weekday at 9am CET post to Slack", "cron(0 9 ? * MON-FRI *)", "Europe/Paris"),
    ("every Monday at 8am EST email the team", "cron(0 8 ? * MON *)", "America/New_York"),
    ("every morning in Tokyo fetch the news", "cron(0 9 ? * * *)", "Asia/Tokyo"),
    ("every Tuesday at 10:00 Europe/Berlin post to Slack", "cron(0 10 ? * TUE *)", "Europe/Berlin"),
    ("every hour between 9 and 5 on weekdays check the site", "cron(0 9-17 ? * MON-FRI *)", "UTC"),
    ("every 3 days at 7am fetch the report", "cron(0 7 */3 * ? *)", "UTC"),
    ("the first Monday of every month email the board", "cron(0 9 ? * MON#1 *)", "UTC"),
    ("on the last day of the month at 6pm email the totals", "cron(0 18 L * ? *)", "UTC"),
    ("on 2031-01-15 at 10:00 send the launch email", "at(2031-01-15T10:00:00)", "UTC"),
]


@pytest.mark.parametrize(("words", "expression", "zone"), SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_words_become_eventbridge_expressions(
    words: str, expression: str, zone: str
) -> None:
    understood = understand(words)
    draft = compose(understood)
    trigger = trigger_of(draft)

    assert trigger.subtype == "SCHEDULE"
    assert trigger.parameters == {"expression": expression, "timezone": zone}
    assert draft.timezone == zone
    parse_schedule(expression, zone)  # EventBridge Scheduler would take it
    if zone == "UTC":
        assert any("UTC" in s for s in draft.suggestions)


def test_morning_and_nightly_defaults_are_said() -> None:
    morning = understand("every Monday morning post the plan to Slack")
    nightly = understand("nightly export the orders to our API")

    assert any("09:00" in a for a in morning.suggestions)
    assert any("02:00" in a for a in nightly.suggestions)


# -- the flagship --------------------------------------------------------------------------------


def test_flagship_graph_shape() -> None:
    draft = plan(FLAGSHIP)
    by_subtype = {n.subtype: n for n in draft.nodes}

    assert [n.subtype for n in draft.nodes] == [
        "SCHEDULE",
        "GITHUB",
        "SET",
        "IF",
        "APPROVAL",
        "CHAT",
        "SLACK",
    ]
    assert by_subtype["SCHEDULE"].parameters["expression"] == "cron(0 9 ? * MON-FRI *)"
    assert by_subtype["GITHUB"].parameters["operation"] == "list_issues"
    assert by_subtype["GITHUB"].credentials == {"github": "github-token"}
    assert by_subtype["SLACK"].credentials == {"slack": "slack-bot"}
    assert by_subtype["SET"].parameters["values"]["count"] == "{{ $count(input) }}"  # type: ignore[index]
    assert by_subtype["IF"].parameters["conditions"] == [
        {"left": "{{ input.count }}", "op": "gt", "right": 10}
    ]
    assert edges(draft) == {
        ("every-weekday", "main", "fetch-issues"),
        ("fetch-issues", "main", "count-issues"),
        ("count-issues", "main", "more-than-10"),
        ("more-than-10", "true", "manager-approves"),
        ("manager-approves", "approved", "summarise-issues"),
        ("more-than-10", "false", "summarise-issues"),
        ("summarise-issues", "main", "post-to-slack"),
    }
    # After the join the summary reads the counted issues by node id, never `input`.
    prompt = str(by_subtype["CHAT"].parameters["prompt"])
    assert "nodes.`count-issues`.items" in prompt
    assert "{{ input" not in prompt
    assert by_subtype["SLACK"].parameters["text"].endswith("{{ input.text }}")  # type: ignore[union-attr]


def test_flagship_understanding() -> None:
    understood = understand(FLAGSHIP)

    assert understood.trigger.kind is TriggerKind.SCHEDULE
    assert [s.kind for s in understood.steps] == [
        StepKind.GITHUB_LIST_ISSUES,
        StepKind.CONDITION,
        StepKind.AI_SUMMARISE,
        StepKind.SLACK,
    ]
    condition = understood.steps[1]
    assert condition.condition is not None
    assert (condition.condition.subject, condition.condition.op, condition.condition.value) == (
        "count",
        "gt",
        10,
    )
    assert [s.kind for s in condition.then] == [StepKind.APPROVAL]
    assert understood.services == ["GitHub", "Slack", "AI"]


# -- what the planner understands ----------------------------------------------------------------

UNKNOWN_SERVICES = [
    ("When a new lead arrives, add it to Notion", "https://api.notion.com/v1/", "Notion"),
    (
        "Every morning read the new rows from Airtable and post them to Slack",
        "https://api.airtable.com/v0/",
        "Airtable",
    ),
    (
        "When someone submits our contact form, create a contact in HubSpot",
        "https://api.hubapi.com/",
        "HubSpot",
    ),
    (
        "When a GitHub issue is labelled bug, create a card in Trello",
        "https://api.trello.com/",
        "Trello",
    ),
    (
        "Every Friday create a Jira ticket for the release checklist",
        "atlassian.net/rest/api/3/issue",
        "Jira",
    ),
    ("When an order is paid, text the customer with Twilio", "https://api.twilio.com/", "Twilio"),
    (
        "Post the daily summary to Discord every day at 6pm",
        "https://discord.com/api/webhooks/",
        "Discord",
    ),
    (
        "Send me a Telegram message every morning with the weather",
        "https://api.telegram.org/",
        "Telegram",
    ),
    (
        "When a deal closes, update the opportunity in Salesforce",
        "salesforce.com/services/data/",
        "Salesforce",
    ),
    (
        "Every night append the orders to Google Sheets",
        "https://sheets.googleapis.com/",
        "Google Sheets",
    ),
    (
        "Every hour list the new charges from Stripe and email them to finance@acme.com",
        "https://api.stripe.com/",
        "Stripe",
    ),
]


@pytest.mark.parametrize(
    ("words", "url", "service"), UNKNOWN_SERVICES, ids=[u[2] for u in UNKNOWN_SERVICES]
)
def test_unknown_services_become_http_requests_with_missing_info(
    words: str, url: str, service: str
) -> None:
    draft = plan(words)

    check_well_formed(draft)
    requests = [n for n in draft.nodes if n.subtype == "HTTP_REQUEST"]
    assert any(url in str(n.parameters["url"]) for n in requests), [
        n.parameters["url"] for n in requests
    ]
    assert any(service in m and "no built-in node" in m for m in draft.missing_info)


def test_a_given_url_is_fetched_and_a_missing_one_is_asked_for() -> None:
    given = plan("Every hour fetch https://api.example.org/v2/prices and post them to #pricing")
    missing = plan("Every hour fetch the prices from our API and post them to #pricing")

    fetch = next(n for n in given.nodes if n.subtype == "HTTP_REQUEST")
    assert fetch.parameters["url"] == "https://api.example.org/v2/prices"
    assert not any("URL" in m for m in given.missing_info)
    assert any(n.parameters.get("url") == "https://api.example.com/data" for n in missing.nodes)
    assert any("URL" in m for m in missing.missing_info)
    slack = next(n for n in given.nodes if n.subtype == "SLACK")
    assert slack.parameters["channel"] == "#pricing"
    assert "nodes.`fetch-prices`.body" in str(slack.parameters["text"]) or "input.body" in str(
        slack.parameters["text"]
    )


@pytest.mark.parametrize(
    ("words", "path"),
    [
        ("When someone submits our contact form, email sales@acme.com", "contact-form"),
        ("When Stripe sends an event, post it to #billing", "stripe-events"),
        ("When we receive a POST, summarise the body with AI and post it to Slack", "incoming"),
        ("When a webhook is called, store the payload in Airtable", "incoming"),
        (
            "When someone fills out our Typeform, add the answers to Google Sheets",
            "typeform-submissions",
        ),
    ],
)
def test_webhooks_and_forms_get_a_path_from_the_words(words: str, path: str) -> None:
    draft = plan(words)

    check_well_formed(draft)
    trigger = trigger_of(draft)
    assert trigger.subtype == "WEBHOOK"
    assert trigger.parameters["path"] == path
    assert trigger.parameters["method"] == "POST"


def test_no_trigger_words_is_manual() -> None:
    draft = plan("Summarise this text with AI and email it to me@acme.com")

    assert trigger_of(draft).subtype == "MANUAL"
    email = next(n for n in draft.nodes if n.subtype == "EMAIL")
    assert email.parameters["to"] == ["me@acme.com"]


def test_condition_with_otherwise_has_both_branches() -> None:
    draft = plan(
        "When a support ticket arrives, if the subject contains urgent post it to #oncall, "
        "otherwise email support@acme.com"
    )

    check_well_formed(draft)
    test = next(n for n in draft.nodes if n.subtype == "IF")
    condition = test.parameters["conditions"][0]  # type: ignore[index]
    assert condition["op"] == "contains"
    assert condition["right"] == "urgent"
    ports = {e.port: e.target for e in draft.edges if e.source == test.id}
    assert draft.node(ports["true"]).subtype == "SLACK"  # type: ignore[union-attr]
    assert draft.node(ports["false"]).subtype == "EMAIL"  # type: ignore[union-attr]


def test_condition_without_else_has_only_a_true_edge() -> None:
    draft = plan(
        "Every hour fetch https://api.example.org/errors and if there are more than 5, post to"
        " #alerts"
    )

    check_well_formed(draft)
    test = next(n for n in draft.nodes if n.subtype == "IF")
    assert {e.port for e in draft.edges if e.source == test.id} == {"true"}


def test_for_each_becomes_a_loop_with_each_and_done() -> None:
    draft = plan(
        "Every morning fetch https://api.example.org/orders, for each order write a thank-you note "
        "with AI, then post a summary to #sales"
    )

    check_well_formed(draft)
    loop = next(n for n in draft.nodes if n.subtype == "LOOP")
    assert loop.parameters["items"] == "{{ input.body }}"
    ports = {e.port for e in draft.edges if e.source == loop.id}
    assert ports == {"each", "done"}
    body = next(e.target for e in draft.edges if e.source == loop.id and e.port == "each")
    assert draft.node(body).subtype == "CHAT"  # type: ignore[union-attr]
    assert "item" in str(draft.node(body).parameters["prompt"])  # type: ignore[union-attr]
    assert (body, "main", loop.id) in edges(draft)


def test_approval_goes_on_from_approved() -> None:
    draft = plan(
        "When a refund request arrives, ask my manager to approve, then email the customer"
    )

    check_well_formed(draft)
    approval = next(n for n in draft.nodes if n.subtype == "APPROVAL")
    assert {e.port for e in draft.edges if e.source == approval.id} == {"approved"}
    assert any("manager" in m for m in draft.missing_info)


def test_memory_for_duplicates_and_conversations() -> None:
    dedupe = plan(
        "Every 10 minutes fetch https://example.com/feed.xml and post new items to #news, don't"
        " send duplicates"
    )
    chat = plan("When a user messages the bot, answer with AI and keep the conversation history")

    check_well_formed(dedupe)
    memory = [n for n in dedupe.nodes if n.subtype == "KEY_VALUE"]
    assert [n.parameters["operation"] for n in memory] == ["get", "set"]
    check_well_formed(chat)
    attached = [e for e in chat.edges if e.kind == "ai_memory"]
    assert len(attached) == 1
    assert chat.node(attached[0].source).subtype == "CONVERSATION"


def test_wait_then() -> None:
    draft = plan("When someone signs up, wait 10 minutes then email them a welcome message")

    check_well_formed(draft)
    wait = next(n for n in draft.nodes if n.subtype == "WAIT")
    assert wait.parameters == {"seconds": 600}


def test_github_create_issue_and_repository_from_words() -> None:
    draft = plan(
        "When a Sentry alert arrives, create a GitHub issue in acme/widgets with an AI summary"
    )

    check_well_formed(draft)
    issue = next(n for n in draft.nodes if n.subtype == "GITHUB")
    assert issue.parameters["operation"] == "create_issue"
    assert (issue.parameters["owner"], issue.parameters["repo"]) == ("acme", "widgets")


def test_ai_classify_and_extract_answer_json_with_named_labels() -> None:
    draft = plan(
        "When an email arrives, classify it as billing, bug or other with AI and extract the "
        "customer name, order number and amount"
    )

    chats = [n for n in draft.nodes if n.subtype == "CHAT"]
    assert all(n.parameters["output_format"] == "json" for n in chats)
    prompts = " ".join(str(n.parameters["prompt"]) for n in chats)
    assert "billing, bug, other" in prompts
    assert "customer_name, order_number, amount" in prompts


def test_slack_channel_from_words() -> None:
    assert (
        plan("Every day at 5pm post the summary in the sales channel")
        .nodes[-1]
        .parameters["channel"]
        == "#sales"
    )


def test_determinism() -> None:
    for case in CORPUS[:10]:
        assert plan(case["text"]).model_dump() == plan(case["text"]).model_dump()


def test_understand_alone_gives_missing_info_and_keywords() -> None:
    understood = understand(
        "Every morning summarise new Zendesk tickets with AI and post them to Slack"
    )

    assert understood.trigger.kind is TriggerKind.SCHEDULE
    assert "zendesk" in understood.keywords
    assert "slack" in understood.keywords
    assert "ai" in understood.keywords
    assert any("Zendesk" in m for m in understood.missing_info)
    assert any("Slack channel" in m for m in understood.missing_info)
    assert understood.title


def test_preferences_fill_what_the_words_leave_out() -> None:
    draft = plan(
        "every weekday at 9 fetch our open GitHub issues and post them to Slack",
        preferences={
            "timezone": "Europe/Paris",
            "slack_channel": "#eng",
            "github_repo": "acme/widgets",
        },
    )

    assert draft.timezone == "Europe/Paris"
    assert next(n for n in draft.nodes if n.subtype == "SLACK").parameters["channel"] == "#eng"
    assert next(n for n in draft.nodes if n.subtype == "GITHUB").parameters["owner"] == "acme"
    assert draft.missing_info == []


def test_unrecognised_request_still_gives_a_valid_draft() -> None:
    draft = plan("hmm")

    check_well_formed(draft)
    assert any("No action was recognised" in m for m in draft.missing_info)


ODD_INPUTS = [
    "",
    "if",
    "for each",
    "every 0 minutes",
    "at 25:99 on the 45th of every month",
    "→ → otherwise else",
    "approve approve remember remember wait wait",
    "https:// #  @ EMAIL1 URL9",
    "word " * 2000,
]


@pytest.mark.parametrize("words", ODD_INPUTS, ids=range(len(ODD_INPUTS)))
def test_odd_words_still_give_a_valid_draft(words: str) -> None:
    draft = plan(words)

    report = validate_workflow(draft.to_workflow())
    assert report.errors == []
    assert trigger_of(draft) is not None
