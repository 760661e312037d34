"""Catalogue search (flowlane.agent.catalogue): what the agent finds for plain words, and the
digest of templates it puts in a prompt."""

from __future__ import annotations

import pytest

from flowlane.agent.catalogue import (
    SYNONYMS,
    CatalogueHit,
    catalogue_digest,
    search_catalogue,
    stem,
)
from flowlane.nodes.templates import all_templates

FLAGSHIP = (
    "every weekday at 9 fetch our open GitHub issues, summarise them with AI and post to Slack; "
    "if more than 10 ask my manager to approve"
)


def ids(hits: list[CatalogueHit]) -> list[str]:
    return [h.template.id for h in hits]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("post a message to slack", "EXTERNAL_ACTION.SLACK"),
        ("every weekday at 9", "TRIGGER.SCHEDULE"),
        ("summarise with AI", "AI_AGENT.CHAT"),
        ("Summarize this with an LLM", "AI_AGENT.CHAT"),
        ("ask my manager to approve", "HUMAN_IN_THE_LOOP.APPROVAL"),
        ("for each row", "FLOW.LOOP"),
        ("send an email to the team", "EXTERNAL_ACTION.EMAIL"),
        ("when the signup form is submitted", "TRIGGER.WEBHOOK"),
        ("open a pull request", "EXTERNAL_ACTION.GITHUB"),
        ("wait 5 minutes", "FLOW.WAIT"),
        ("merge both branches", "FLOW.MERGE"),
        ("keep only the orders over 100", "FLOW.FILTER"),
        ("route leads depending on their plan", "FLOW.SWITCH"),
    ],
)
def test_the_node_a_request_means_comes_first(query: str, first: str) -> None:
    assert ids(search_catalogue(query))[0] == first


def test_an_rss_feed_is_fetched_with_an_http_request() -> None:
    assert "ACTION.HTTP_REQUEST" in ids(search_catalogue("fetch an RSS feed"))[:2]


def test_remembering_is_memory() -> None:
    assert search_catalogue("remember the last id")[0].template.type == "MEMORY"


def test_the_flagship_request_finds_every_node_it_needs() -> None:
    found = ids(search_catalogue(FLAGSHIP))
    assert len(found) == 8
    for needed in (
        "EXTERNAL_ACTION.GITHUB",
        "AI_AGENT.CHAT",
        "EXTERNAL_ACTION.SLACK",
        "TRIGGER.SCHEDULE",
        "FLOW.IF",
        "HUMAN_IN_THE_LOOP.APPROVAL",
    ):
        assert needed in found, (needed, found)


def test_hits_say_which_query_words_matched() -> None:
    slack = search_catalogue("Post a message to Slack")[0]
    assert slack.matched == ("post", "message", "slack")  # as written, lower-cased
    assert slack.score > 0
    # A phrase matches as one term, and its words do not also count alone ("request" is a
    # word of the HTTP request's name).
    github = search_catalogue("open a pull request")
    assert "pull request" in github[0].matched
    assert "ACTION.HTTP_REQUEST" not in ids(github)
    # "every item" is a loop, not a schedule.
    assert ids(search_catalogue("for every item"))[0] == "FLOW.LOOP"


def test_node_type_keeps_one_family() -> None:
    hits = search_catalogue("post a message", node_type="EXTERNAL_ACTION")
    assert hits
    assert {h.template.type for h in hits} == {"EXTERNAL_ACTION"}
    assert hits[0].template.id == "EXTERNAL_ACTION.SLACK"
    assert ids(search_catalogue("post a message", node_type="external_action_node")) == ids(hits)
    assert search_catalogue("post a message to slack", node_type="FLOW") == []
    with pytest.raises(ValueError, match="valid types"):
        search_catalogue("slack", node_type="GADGET")


@pytest.mark.parametrize("query", ["", "   ", "the and of to", "!!! ???", "42"])
def test_nothing_to_search_finds_nothing(query: str) -> None:
    assert search_catalogue(query) == []


def test_limit() -> None:
    assert len(search_catalogue(FLAGSHIP, limit=3)) == 3
    assert ids(search_catalogue(FLAGSHIP, limit=3)) == ids(search_catalogue(FLAGSHIP))[:3]
    assert search_catalogue(FLAGSHIP, limit=0) == []
    assert len(search_catalogue(FLAGSHIP, limit=100)) <= len(all_templates())


def test_results_are_deterministic_and_ties_break_by_template_id() -> None:
    for query in (FLAGSHIP, "output", "post a message to slack", "input"):
        first = search_catalogue(query, limit=50)
        assert search_catalogue(query, limit=50) == first
        assert first == sorted(first, key=lambda h: (-h.score, h.template.id))
    scores = [h.score for h in search_catalogue("output", limit=50)]
    assert len(scores) != len(set(scores)), "'output' no longer gives a tie to check"


def test_light_stemming() -> None:
    assert stem("summarize") == stem("summarise") == stem("summary") == stem("summaries")
    assert stem("issues") == stem("issue")
    assert stem("posted") == stem("posting") == stem("posts") == stem("post")
    assert stem("status") == "status"  # not a plural
    assert stem("ses") == "ses"


def test_every_template_has_synonyms() -> None:
    assert {t.id for t in all_templates()} <= set(SYNONYMS)


def test_the_digest_describes_parameters_and_ports() -> None:
    hits = search_catalogue(FLAGSHIP)
    digest = catalogue_digest(hits)
    assert digest == catalogue_digest(search_catalogue(FLAGSHIP))  # deterministic
    for hit in hits:
        assert f"{hit.template.id} ({hit.template.name}): {hit.template.description}" in digest
    assert "- channel: string" in digest
    assert '"create_issue" | "list_issues" | "add_comment" = "create_issue"' in digest
    assert "- owner: string (required)" in digest
    assert "- per_page: integer 1..100 = 30" in digest
    assert "ports: in main; out true, false, error" in digest  # IF
    assert "ports: in none; out main, error" in digest  # a trigger has no input
    assert "notify: {channel: " in digest  # a nested model, resolved from $defs


def test_the_digest_of_nothing_is_empty_and_attachments_are_named() -> None:
    assert catalogue_digest([]) == ""
    tool = search_catalogue("tool", node_type="TOOL")
    assert "attach to an AI agent as: ai_tool" in catalogue_digest(tool)
    switch = search_catalogue("switch", node_type="FLOW")[0]
    assert "(+ one per case name)" in catalogue_digest([switch])
