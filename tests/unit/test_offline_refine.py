"""refine(draft, feedback): each kind of feedback changes what it asks and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from flowlane.agent.draft import Draft, DraftNode
from flowlane.agent.offline import plan, refine
from flowlane.agent.offline.refine import refine_with_changes
from flowlane.engine.graph import WorkflowGraph
from flowlane.engine.validation import validate_workflow
from flowlane.models.workflow import NodeType

FLAGSHIP = (
    "every weekday at 9 fetch our open GitHub issues, summarise them with AI and post to Slack; "
    "if there are more than 10, ask my manager to approve first"
)
EMAIL_DIGEST = (
    "Every Monday at 8am fetch https://api.example.org/sales, summarise it with AI and email it "
    "to boss@acme.com"
)


@pytest.fixture(scope="module")
def flagship() -> Draft:
    return plan(FLAGSHIP)


@pytest.fixture(scope="module")
def digest() -> Draft:
    return plan(EMAIL_DIGEST)


def nodes(draft: Draft) -> dict[str, dict[str, Any]]:
    return {n.id: n.model_dump() for n in draft.nodes}


def edges(draft: Draft) -> set[tuple[str, str, str, str]]:
    return {(e.source, e.port, e.target, e.kind) for e in draft.edges}


def node(draft: Draft, subtype: str) -> DraftNode:
    return next(n for n in draft.nodes if n.subtype == subtype)


def assert_valid(draft: Draft) -> None:
    workflow = draft.to_workflow()
    report = validate_workflow(workflow)
    assert report.errors == [], [e.message for e in report.errors]
    graph = WorkflowGraph(workflow.nodes, workflow.connections)
    assert {n.id for n in draft.nodes} <= graph.reachable_from_triggers | graph.attached_only


def assert_only_changed(before: Draft, after: Draft, changed: set[str]) -> None:
    """Every node outside `changed` is exactly as it was."""
    old, new = nodes(before), nodes(after)
    for node_id, dump in old.items():
        if node_id not in changed:
            assert new.get(node_id) == dump, node_id


# -- schedule --------------------------------------------------------------------------------


def test_run_it_at_8_instead(flagship: Draft) -> None:
    after = refine(flagship, "run it at 8 instead")

    assert node(after, "SCHEDULE").parameters["expression"] == "cron(0 8 ? * MON-FRI *)"
    assert_only_changed(flagship, after, {"every-weekday"})
    assert edges(after) == edges(flagship)
    assert_valid(after)


def test_every_monday_instead(flagship: Draft) -> None:
    after = refine(flagship, "every Monday instead")

    assert node(after, "SCHEDULE").parameters["expression"] == "cron(0 9 ? * MON *)"
    assert_only_changed(flagship, after, {"every-weekday"})
    assert edges(after) == edges(flagship)


def test_in_berlin_time(flagship: Draft) -> None:
    after = refine(flagship, "in Berlin time")

    trigger = node(after, "SCHEDULE")
    assert trigger.parameters == {
        "expression": "cron(0 9 ? * MON-FRI *)",
        "timezone": "Europe/Berlin",
    }
    assert after.timezone == "Europe/Berlin"
    assert not any("No time zone" in s for s in after.suggestions)
    assert_only_changed(flagship, after, {"every-weekday"})
    assert edges(after) == edges(flagship)


def test_a_schedule_replaces_a_manual_trigger() -> None:
    before = plan("Summarise https://example.com/news.json with AI and post it to #news")
    after = refine(before, "run it every day at 7am")

    assert [n.subtype for n in after.nodes if n.type is NodeType.TRIGGER] == ["SCHEDULE"]
    assert node(after, "SCHEDULE").parameters["expression"] == "cron(0 7 ? * * *)"
    trigger_id = node(after, "SCHEDULE").id
    assert {(e.port, e.target) for e in after.edges if e.source == trigger_id} == {
        (e.port, e.target) for e in before.edges if e.source == "start"
    }
    assert_only_changed(before, after, {"start"})
    assert_valid(after)


# -- outputs ---------------------------------------------------------------------------------


def test_change_the_slack_channel(flagship: Draft) -> None:
    after = refine(flagship, "post to #engineering instead")

    assert node(after, "SLACK").parameters["channel"] == "#engineering"
    assert not any("Slack channel" in m for m in after.missing_info)
    assert_only_changed(flagship, after, {"post-to-slack"})
    assert edges(after) == edges(flagship)


def test_change_the_email_recipient(digest: Draft) -> None:
    after = refine(digest, "send the email to cfo@acme.com instead")

    assert node(after, "EMAIL").parameters["to"] == ["cfo@acme.com"]
    changed = {node(digest, "EMAIL").id}
    assert_only_changed(digest, after, changed)
    assert edges(after) == edges(digest)


def test_also_send_an_email(flagship: Draft) -> None:
    after = refine(flagship, "also send an email to lead@acme.com")

    email = node(after, "EMAIL")
    assert email.parameters["to"] == ["lead@acme.com"]
    assert email.parameters["body"] == node(flagship, "SLACK").parameters["text"]
    # After the same step as the Slack post, which is still there as it was.
    assert edges(after) == edges(flagship) | {("summarise-issues", "main", email.id, "main")}
    assert_only_changed(flagship, after, set())
    assert_valid(after)


def test_post_to_slack_instead_of_email(digest: Draft) -> None:
    old = node(digest, "EMAIL")
    after = refine(digest, "post to Slack #sales instead of email")

    assert not [n for n in after.nodes if n.subtype == "EMAIL"]
    slack = node(after, "SLACK")
    assert slack.parameters["channel"] == "#sales"
    assert slack.parameters["text"] == old.parameters["body"]
    renamed = {
        (s if s != old.id else slack.id, p, t if t != old.id else slack.id, k)
        for s, p, t, k in edges(digest)
    }
    assert edges(after) == renamed
    assert_only_changed(digest, after, {old.id})
    assert_valid(after)


# -- removing and adding steps ----------------------------------------------------------------


def test_remove_the_approval(flagship: Draft) -> None:
    after = refine(flagship, "remove the approval")

    assert not [n for n in after.nodes if n.subtype == "APPROVAL"]
    assert ("more-than-10", "true", "summarise-issues", "main") in edges(after)
    assert ("more-than-10", "false", "summarise-issues", "main") in edges(after)
    assert edges(after) - edges(flagship) == {("more-than-10", "true", "summarise-issues", "main")}
    assert_only_changed(flagship, after, {"manager-approves"})
    assert_valid(after)


def test_dont_summarise(flagship: Draft) -> None:
    after = refine(flagship, "don't summarise")

    assert not [n for n in after.nodes if n.subtype == "CHAT"]
    assert ("manager-approves", "approved", "post-to-slack", "main") in edges(after)
    assert ("more-than-10", "false", "post-to-slack", "main") in edges(after)
    text = str(node(after, "SLACK").parameters["text"])
    assert "input.text" not in text
    assert "nodes.`count-issues`.items" in text
    assert_only_changed(flagship, after, {"summarise-issues", "post-to-slack"})
    assert_valid(after)


def test_add_an_approval_before_posting(digest: Draft) -> None:
    after = refine(digest, "ask my manager to approve before sending the email")

    approval = node(after, "APPROVAL")
    email = node(after, "EMAIL")
    assert (approval.id, "approved", email.id, "main") in edges(after)
    into_email_before = {(s, p) for s, p, t, _ in edges(digest) if t == email.id}
    assert {(s, p) for s, p, t, _ in edges(after) if t == approval.id} == into_email_before
    assert_only_changed(digest, after, set())
    assert_valid(after)


def test_add_a_condition(digest: Draft) -> None:
    after = refine(digest, "only send it if the total is more than 1000")

    test = node(after, "IF")
    assert test.parameters["conditions"][0]["op"] == "gt"  # type: ignore[index]
    assert test.parameters["conditions"][0]["right"] == 1000  # type: ignore[index]
    email = node(after, "EMAIL")
    assert (test.id, "true", email.id, "main") in edges(after)
    assert_only_changed(digest, after, set())
    assert_valid(after)


def test_change_the_threshold(flagship: Draft) -> None:
    after = refine(flagship, "make it more than 20 instead")

    assert node(after, "IF").parameters["conditions"][0]["right"] == 20  # type: ignore[index]
    assert_only_changed(flagship, after, {"more-than-10"})
    assert edges(after) == edges(flagship)


# -- AI instructions and names ---------------------------------------------------------------


def test_make_the_summary_shorter(flagship: Draft) -> None:
    after = refine(flagship, "make the summary shorter")

    chat = node(after, "CHAT")
    assert "short" in str(chat.parameters["system_prompt"]).lower()
    assert chat.parameters["max_tokens"] == 300
    assert chat.parameters["prompt"] == node(flagship, "CHAT").parameters["prompt"]
    assert_only_changed(flagship, after, {"summarise-issues"})
    assert edges(after) == edges(flagship)


def test_in_french(flagship: Draft) -> None:
    after = refine(flagship, "write the summary in French")

    assert "French" in str(node(after, "CHAT").parameters["system_prompt"])
    assert_only_changed(flagship, after, {"summarise-issues"})


def test_rename_the_workflow(flagship: Draft) -> None:
    after = refine(flagship, "rename it to Morning issue digest")

    assert after.name == "Morning issue digest"
    assert nodes(after) == nodes(flagship)
    assert edges(after) == edges(flagship)


def test_several_instructions_at_once(flagship: Draft) -> None:
    after, changes = refine_with_changes(flagship, "run it at 8 instead and post to #eng")

    assert node(after, "SCHEDULE").parameters["expression"] == "cron(0 8 ? * MON-FRI *)"
    assert node(after, "SLACK").parameters["channel"] == "#eng"
    assert len(changes) == 2


def test_unknown_feedback_changes_nothing_and_says_so(flagship: Draft) -> None:
    after = refine(flagship, "make it sparkle like a unicorn")

    assert nodes(after) == nodes(flagship)
    assert edges(after) == edges(flagship)
    assert after.name == flagship.name
    assert any("Not understood" in s and "sparkle" in s for s in after.suggestions)


def test_refine_does_not_change_its_input(flagship: Draft) -> None:
    snapshot = flagship.model_dump()
    refine(flagship, "remove the approval and post to #other")
    assert flagship.model_dump() == snapshot
