"""Workflow validation (engine/validation.py): one test per check, naming the node and field."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flowlane.engine.expressions import syntax_errors
from flowlane.engine.validation import expression_errors, validate_document, validate_workflow
from flowlane.errors import ValidationFailed
from flowlane.models.validation import ValidateRequest, ValidationIssue, ValidationReport
from flowlane.models.workflow import WorkflowCreate

NOW = datetime(2026, 6, 1, tzinfo=UTC)
Edge = tuple[str, str, str] | tuple[str, str, str, str]


def node(node_id: str, type_: str, subtype: str, **parameters: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "subtype": subtype, "parameters": parameters}


def manual(node_id: str = "start") -> dict[str, Any]:
    return node(node_id, "TRIGGER", "MANUAL")


def set_node(node_id: str, **values: Any) -> dict[str, Any]:
    return node(node_id, "ACTION", "SET", values=values or {"ok": True})


def document(*nodes: dict[str, Any], edges: tuple[Edge, ...] = (), **extra: Any) -> dict[str, Any]:
    connections: dict[str, Any] = {}
    for edge in edges:
        source, port, target, *kind = edge
        ports = connections.setdefault(source, {"connection_types": {}})["connection_types"]
        ports.setdefault(port, {"connections": []})["connections"].append(
            {"node": target, "type": kind[0] if kind else "main"}
        )
    return {
        "name": "test",
        "nodes": list(nodes),
        "connections": {"connections": connections},
        **extra,
    }


def check(*nodes: dict[str, Any], edges: tuple[Edge, ...] = (), **extra: Any) -> ValidationReport:
    return validate_document(document(*nodes, edges=edges, **extra), now=NOW)


def codes(issues: list[ValidationIssue]) -> list[str]:
    return [issue.code for issue in issues]


def only(issues: list[ValidationIssue], code: str) -> ValidationIssue:
    found = [issue for issue in issues if issue.code == code]
    assert len(found) == 1, issues
    return found[0]


# -- a realistic workflow -----------------------------------------------------------------------


def realistic() -> dict[str, Any]:
    return document(
        node(
            "every_morning",
            "TRIGGER",
            "SCHEDULE",
            expression="cron(0 9 ? * MON-FRI *)",
            timezone="Europe/Paris",
        ),
        node("hook", "TRIGGER", "WEBHOOK", path="issues/new", method="POST"),
        node(
            "fetch",
            "ACTION",
            "HTTP_REQUEST",
            method="GET",
            url="https://api.github.com/repos/{{ trigger.owner }}/issues",
            headers={"Accept": "application/json"},
            timeout_seconds=20,
        ),
        node(
            "has_issues",
            "FLOW",
            "IF",
            conditions=[{"left": "{{ $count(input.body) }}", "op": "gt", "right": 0}],
        ),
        node("each_issue", "FLOW", "LOOP", items="{{ nodes.fetch.body }}", max_concurrency=4),
        node("label", "ACTION", "SET", values={"title": "{{ item.title }}", "n": "{{ index }}"}),
        node(
            "summarise",
            "AI_AGENT",
            "CHAT",
            provider="offline",
            prompt="Summarise: {{ nodes.each_issue }}",
            max_tokens=500,
        ),
        node(
            "search",
            "TOOL",
            "HTTP_TOOL",
            name="search",
            url="https://example.com/?q={{ input.q }}",
            description="Search the docs",
        ),
        node("notes", "MEMORY", "CONVERSATION", conversation_id="digest"),
        node(
            "route",
            "FLOW",
            "SWITCH",
            cases=[
                {
                    "name": "urgent",
                    "conditions": [
                        {"left": "{{ input.text }}", "op": "contains", "right": "urgent"}
                    ],
                },
            ],
        ),
        node("approve", "HUMAN_IN_THE_LOOP", "APPROVAL", message="Post the digest?"),
        node(
            "post",
            "EXTERNAL_ACTION",
            "SLACK",
            operation="post_message",
            channel="#team",
            text="{{ nodes.summarise.text }}",
        ),
        node("quiet", "ACTION", "SET", values={"skipped": True}),
        node("join", "FLOW", "MERGE", mode="append"),
        edges=(
            ("every_morning", "main", "fetch"),
            ("hook", "main", "fetch"),
            ("fetch", "main", "has_issues"),
            ("has_issues", "true", "each_issue"),
            ("has_issues", "false", "quiet"),
            ("each_issue", "each", "label"),
            ("label", "main", "each_issue"),
            ("each_issue", "done", "summarise"),
            ("search", "main", "summarise", "ai_tool"),
            ("notes", "ai_memory", "summarise"),
            ("summarise", "main", "route"),
            ("route", "urgent", "approve"),
            ("route", "default", "post"),
            ("approve", "approved", "post"),
            ("fetch", "error", "quiet"),
            ("post", "main", "join"),
            ("quiet", "main", "join"),
        ),
    )


def test_a_realistic_workflow_is_valid() -> None:
    report = validate_document(realistic(), now=NOW)
    assert report.errors == []
    assert report.warnings == []
    assert report.valid


def test_the_parsed_workflow_and_the_document_give_the_same_report() -> None:
    parsed = WorkflowCreate.model_validate(realistic())
    assert validate_workflow(parsed, now=NOW) == validate_document(realistic(), now=NOW)
    by_parts = validate_workflow(parsed.nodes, parsed.connections, parsed.settings, now=NOW)
    assert by_parts == validate_workflow(parsed, now=NOW)


# -- node types ---------------------------------------------------------------------------------


def test_unknown_subtype_names_the_valid_ones() -> None:
    report = check(manual(), node("x", "ACTION", "TELEPORT"), edges=(("start", "main", "x"),))
    issue = only(report.errors, "UNKNOWN_NODE_TYPE")
    assert (issue.node_id, issue.field) == ("x", "subtype")
    assert issue.loc == ["nodes", "x", "subtype"]
    assert "'TELEPORT'" in issue.message
    assert "SET, TRANSFORM, HTTP_REQUEST" in issue.message
    assert not report.valid


def test_unknown_type_is_reported_on_the_node() -> None:
    report = check(manual(), node("x", "ROBOT", "ARM"))
    issue = only(report.errors, "UNKNOWN_NODE_TYPE")
    assert issue.loc == ["nodes", "x", "type"]
    assert "valid types: TRIGGER, AI_AGENT" in issue.message


def test_missing_subtype() -> None:
    report = check(manual(), {"id": "x", "type": "FLOW"}, edges=(("start", "main", "x"),))
    assert (
        "FLOW has no subtype; valid subtypes: IF, SWITCH"
        in only(report.errors, "UNKNOWN_NODE_TYPE").message
    )


# -- connections --------------------------------------------------------------------------------


def test_connection_to_a_missing_node() -> None:
    report = check(manual(), edges=(("start", "main", "ghost"),))
    issue = only(report.errors, "DANGLING_CONNECTION")
    assert (issue.node_id, issue.field) == ("start", "connections")
    assert issue.loc == ["connections", "start", "main"]
    assert "there is no node 'ghost'" in issue.message


def test_connection_from_a_missing_node() -> None:
    report = check(manual(), set_node("a"), edges=(("start", "main", "a"), ("ghost", "main", "a")))
    issue = only(report.errors, "DANGLING_CONNECTION")
    assert issue.node_id is None
    assert issue.loc == ["connections", "ghost", "main"]


def test_unknown_port_names_the_valid_ones() -> None:
    report = check(
        manual(),
        node("check", "FLOW", "IF", conditions=[{"left": 1, "op": "equals", "right": 1}]),
        set_node("a"),
        edges=(("start", "main", "check"), ("check", "yes", "a")),
    )
    issue = only(report.errors, "UNKNOWN_PORT")
    assert (issue.node_id, issue.field, issue.loc) == (
        "check",
        "connections",
        ["connections", "check", "yes"],
    )
    assert "has no output port 'yes'; its ports: true, false, error" in issue.message


def test_switch_ports_are_its_case_names_and_default() -> None:
    switch = node(
        "route",
        "FLOW",
        "SWITCH",
        cases=[
            {"name": "big", "conditions": [{"left": "{{ input.n }}", "op": "gt", "right": 10}]},
            {"name": "small", "conditions": [{"left": "{{ input.n }}", "op": "lt", "right": 3}]},
        ],
    )
    ok = check(
        manual(),
        switch,
        set_node("a"),
        set_node("b"),
        set_node("c"),
        edges=(
            ("start", "main", "route"),
            ("route", "big", "a"),
            ("route", "small", "b"),
            ("route", "default", "c"),
        ),
    )
    assert ok.errors == []
    bad = check(
        manual(), switch, set_node("a"), edges=(("start", "main", "route"), ("route", "huge", "a"))
    )
    assert "its ports: big, small, default, error" in only(bad.errors, "UNKNOWN_PORT").message


def test_trigger_has_only_main_and_error() -> None:
    report = check(manual(), set_node("a"), edges=(("start", "true", "a"),))
    assert "its ports: main, error" in only(report.errors, "UNKNOWN_PORT").message


def test_every_node_has_an_error_port() -> None:
    report = check(
        manual(),
        node("fetch", "ACTION", "HTTP_REQUEST", url="https://example.com"),
        set_node("a"),
        set_node("handle"),
        edges=(("start", "main", "fetch"), ("fetch", "main", "a"), ("fetch", "error", "handle")),
    )
    assert report.errors == []


def test_unknown_input_kind() -> None:
    report = check(manual(), set_node("a"), edges=(("start", "main", "a", "side"),))
    issue = only(report.errors, "UNKNOWN_INPUT_KIND")
    assert issue.node_id == "start"
    assert "input kind 'side' is not one of main, ai_memory, ai_model, ai_tool" in issue.message


def test_trigger_with_an_input() -> None:
    report = check(
        manual(),
        set_node("a"),
        manual("second"),
        edges=(
            ("start", "main", "a"),
            ("a", "main", "second"),
        ),
    )
    issue = only(report.errors, "TRIGGER_HAS_INPUT")
    assert issue.node_id == "second"
    assert issue.loc == ["connections", "a", "main"]


# -- triggers and reachability ------------------------------------------------------------------


def test_no_trigger() -> None:
    report = check(set_node("a"), set_node("b"), edges=(("a", "main", "b"),))
    issue = only(report.errors, "NO_TRIGGER")
    assert (issue.node_id, issue.field, issue.loc) == (None, "nodes", ["nodes"])
    assert report.warnings == []  # no UNREACHABLE_NODE for every node on top


def test_unreachable_node_is_a_warning() -> None:
    report = check(
        manual(),
        set_node("a"),
        set_node("island"),
        set_node("after_island"),
        edges=(("start", "main", "a"), ("island", "main", "after_island")),
    )
    assert report.valid
    assert codes(report.warnings) == ["UNREACHABLE_NODE", "UNREACHABLE_NODE"]
    assert [w.node_id for w in report.warnings] == ["island", "after_island"]


def test_attached_only_nodes_are_not_unreachable() -> None:
    report = check(
        manual(),
        node("agent", "AI_AGENT", "CHAT", provider="offline", prompt="hi"),
        node("search", "TOOL", "HTTP_TOOL", name="search", url="https://example.com"),
        edges=(("start", "main", "agent"), ("search", "main", "agent", "ai_tool")),
    )
    assert report.errors == []
    assert report.warnings == []


# -- cycles and loops ---------------------------------------------------------------------------


def test_cycle_names_its_nodes() -> None:
    report = check(
        manual(),
        set_node("a"),
        set_node("b"),
        set_node("c"),
        edges=(
            ("start", "main", "a"),
            ("a", "main", "b"),
            ("b", "main", "c"),
            ("c", "main", "a"),
        ),
    )
    issue = only(report.errors, "CYCLE")
    assert issue.node_id == "a"
    assert "a -> b -> c -> a" in issue.message


def test_a_long_cycle_is_shortened_in_the_message() -> None:
    names = [f"n{i}" for i in range(30)]
    edges = [
        ("start", "main", "n0"),
        *((a, "main", b) for a, b in itertools.pairwise(names)),
    ]
    report = check(manual(), *(set_node(n) for n in names), edges=(*edges, ("n29", "main", "n0")))
    message = only(report.errors, "CYCLE").message
    assert (
        "n0 -> n1 -> n2 -> n3 -> n4 -> ... (21 more) -> n26 -> n27 -> n28 -> n29 -> n0" in message
    )


def loop_nodes() -> list[dict[str, Any]]:
    return [
        manual(),
        node("loop", "FLOW", "LOOP", items="{{ input.items }}"),
        set_node("body"),
        set_node("after"),
    ]


def test_a_loop_body_may_lead_back_to_its_loop() -> None:
    report = check(
        *loop_nodes(),
        edges=(
            ("start", "main", "loop"),
            ("loop", "each", "body"),
            ("body", "main", "loop"),
            ("loop", "done", "after"),
        ),
    )
    assert report.errors == []


def test_a_loop_body_may_not_leave_the_body() -> None:
    report = check(
        *loop_nodes(),
        edges=(
            ("start", "main", "loop"),
            ("loop", "each", "body"),
            ("body", "main", "after"),
            ("loop", "done", "after"),
        ),
    )
    issue = only(report.errors, "LOOP_BODY_ESCAPES")
    assert (issue.node_id, issue.loc) == ("body", ["connections", "body", "main"])
    assert "'after', which also runs after the loop" in issue.message
    assert "CYCLE" not in codes(report.errors)  # the same problem, said once


def test_an_inner_loop_body_may_not_jump_to_the_outer_loop() -> None:
    report = check(
        manual(),
        node("outer", "FLOW", "LOOP", items="{{ input.rows }}"),
        node("inner", "FLOW", "LOOP", items="{{ item.cells }}"),
        set_node("cell"),
        edges=(
            ("start", "main", "outer"),
            ("outer", "each", "inner"),
            ("inner", "each", "cell"),
            ("cell", "main", "outer"),
        ),
    )
    issue = only(report.errors, "LOOP_BODY_ESCAPES")
    assert issue.node_id == "cell"
    assert "jumps back to the enclosing LOOP 'outer'" in issue.message


def test_nested_loops_that_return_properly_are_valid() -> None:
    report = check(
        manual(),
        node("outer", "FLOW", "LOOP", items="{{ input.rows }}"),
        node("inner", "FLOW", "LOOP", items="{{ item.cells }}"),
        set_node("cell"),
        set_node("row_done"),
        edges=(
            ("start", "main", "outer"),
            ("outer", "each", "inner"),
            ("inner", "each", "cell"),
            ("cell", "main", "inner"),
            ("inner", "done", "row_done"),
            ("row_done", "main", "outer"),
        ),
    )
    assert report.errors == []
    assert report.warnings == []


def test_a_loop_without_a_body_is_a_warning() -> None:
    report = check(
        *loop_nodes()[:2],
        set_node("after"),
        edges=(
            ("start", "main", "loop"),
            ("loop", "done", "after"),
        ),
    )
    assert report.valid
    assert only(report.warnings, "EMPTY_LOOP").node_id == "loop"


# -- attachments --------------------------------------------------------------------------------


def agent_nodes() -> list[dict[str, Any]]:
    return [
        manual(),
        node("agent", "AI_AGENT", "CHAT", provider="offline", prompt="hi"),
        node("search", "TOOL", "HTTP_TOOL", name="search", url="https://example.com"),
        node("notes", "MEMORY", "CONVERSATION", conversation_id="c"),
        node("facts", "MEMORY", "KEY_VALUE", key="facts"),
        node("fetch", "ACTION", "HTTP_REQUEST", url="https://example.com"),
    ]


def test_attachments_go_to_ai_agents_only() -> None:
    report = check(
        *agent_nodes(),
        edges=(
            ("start", "main", "agent"),
            ("start", "main", "fetch"),
            ("search", "main", "fetch", "ai_tool"),
        ),
    )
    issue = only(report.errors, "INVALID_ATTACHMENT")
    assert (issue.node_id, issue.loc) == ("search", ["connections", "search", "main"])
    assert "ACTION.HTTP_REQUEST 'fetch' takes no attachments (only AI agents do)" in issue.message


def test_only_attachable_nodes_may_be_attached() -> None:
    report = check(
        *agent_nodes(),
        edges=(
            ("start", "main", "agent"),
            ("start", "main", "fetch"),
            ("fetch", "main", "agent", "ai_tool"),
        ),
    )
    issue = only(report.errors, "INVALID_ATTACHMENT")
    assert (
        "ACTION.HTTP_REQUEST cannot be attached as ai_tool; nodes that can: TOOL.HTTP_TOOL"
        in issue.message
    )
    memory_as_tool = check(
        *agent_nodes(),
        edges=(
            ("start", "main", "agent"),
            ("start", "main", "fetch"),
            ("notes", "main", "agent", "ai_tool"),
        ),
    )
    assert (
        "MEMORY.CONVERSATION cannot be attached as ai_tool"
        in only(memory_as_tool.errors, "INVALID_ATTACHMENT").message
    )


def test_port_and_input_kind_must_agree() -> None:
    report = check(
        *agent_nodes(),
        edges=(
            ("start", "main", "agent"),
            ("start", "main", "fetch"),
            ("notes", "ai_tool", "agent", "ai_memory"),
        ),
    )
    assert "disagree" in only(report.errors, "INVALID_ATTACHMENT").message


def test_an_agent_takes_one_memory() -> None:
    report = check(
        *agent_nodes(),
        edges=(
            ("start", "main", "agent"),
            ("start", "main", "fetch"),
            ("notes", "main", "agent", "ai_memory"),
            ("facts", "ai_memory", "agent"),
            ("search", "main", "agent", "ai_tool"),
        ),
    )
    issue = only(report.errors, "TOO_MANY_ATTACHMENTS")
    assert (issue.node_id, issue.loc) == ("agent", ["nodes", "agent", "connections"])
    assert "2 ai_memory attachments (notes, facts)" in issue.message


# -- MERGE --------------------------------------------------------------------------------------


def test_merge_with_one_input_is_a_warning() -> None:
    report = check(
        manual(),
        set_node("a"),
        node("join", "FLOW", "MERGE"),
        edges=(
            ("start", "main", "a"),
            ("a", "main", "join"),
        ),
    )
    assert report.valid
    issue = only(report.warnings, "MERGE_SINGLE_INPUT")
    assert issue.node_id == "join"
    assert "has 1 input" in issue.message


# -- parameters ---------------------------------------------------------------------------------


def test_parameter_errors_name_node_and_field() -> None:
    report = check(
        manual(),
        node("fetch", "ACTION", "HTTP_REQUEST", url="https://example.com", timeout_seconds=9999),
        node("nourl", "ACTION", "HTTP_REQUEST", method="GET"),
        edges=(("start", "main", "fetch"), ("start", "main", "nourl")),
    )
    assert codes(report.errors) == ["INVALID_PARAMETER", "INVALID_PARAMETER"]
    timeout, missing = report.errors
    assert (timeout.node_id, timeout.field) == ("fetch", "parameters.timeout_seconds")
    assert timeout.loc == ["nodes", "fetch", "parameters", "timeout_seconds"]
    assert (
        "node 'fetch': parameter 'timeout_seconds': Input should be less than or equal to"
        in timeout.message
    )
    assert (missing.node_id, missing.field) == ("nourl", "parameters.url")
    assert "Field required" in missing.message


def test_nested_parameter_errors_carry_their_path() -> None:
    report = check(
        manual(),
        node("check", "FLOW", "IF", conditions=[{"left": 1, "op": "bigger", "right": 2}]),
        edges=(("start", "main", "check"),),
    )
    issue = only(report.errors, "INVALID_PARAMETER")
    assert issue.field == "parameters.conditions[0].op"
    assert issue.loc == ["nodes", "check", "parameters", "conditions", 0, "op"]


def test_an_expression_stands_for_a_value_of_any_type() -> None:
    report = check(
        manual(),
        node(
            "fetch",
            "ACTION",
            "HTTP_REQUEST",
            url="https://example.com",
            timeout_seconds="{{ input.timeout }}",
            fail_on_status="{{ input.strict }}",
        ),
        node("check", "FLOW", "IF", conditions="{{ input.rules }}"),
        edges=(("start", "main", "fetch"), ("fetch", "main", "check")),
    )
    assert report.errors == []


def test_lazy_parameters_reach_the_model_as_written() -> None:
    # FILTER evaluates `conditions` itself, per item: an expression in place of the list is
    # not resolved first, so the model's error stands (it would fail the same way at run time).
    report = check(
        manual(),
        node("keep", "FLOW", "FILTER", items="{{ input.rows }}", conditions="{{ input.rules }}"),
        edges=(("start", "main", "keep"),),
    )
    issue = only(report.errors, "INVALID_PARAMETER")
    assert issue.field == "parameters.conditions"


def test_unknown_parameter_is_a_warning() -> None:
    report = check(
        manual(),
        node("fetch", "ACTION", "HTTP_REQUEST", url="https://example.com", retries=3),
        edges=(("start", "main", "fetch"),),
    )
    assert report.valid
    issue = only(report.warnings, "UNKNOWN_PARAMETER")
    assert (issue.node_id, issue.field) == ("fetch", "parameters.retries")
    assert "has no parameter 'retries'" in issue.message
    assert "timeout_seconds, url" in issue.message


def test_expression_syntax_errors_name_the_parameter() -> None:
    report = check(
        manual(),
        node("build", "ACTION", "SET", values={"total": "{{ $sum(input.items.price }}"}),
        node(
            "fetch",
            "ACTION",
            "HTTP_REQUEST",
            url="https://x.example/{{ input.id",
            headers={"X-Id": "{{ }}"},
        ),
        edges=(("start", "main", "build"), ("build", "main", "fetch")),
    )
    assert codes(report.errors) == ["EXPRESSION_SYNTAX"] * 3
    total, url, header = report.errors
    assert (total.node_id, total.field) == ("build", "parameters.values.total")
    assert total.loc == ["nodes", "build", "parameters", "values", "total"]
    assert (url.field, header.field) == ("parameters.url", "parameters.headers.X-Id")
    assert "unclosed '{{'" in url.message
    assert "empty expression" in header.message


def test_a_bad_expression_in_a_lazy_parameter_is_reported_once() -> None:
    # TRANSFORM's model parses its JSONata too; the syntax error is said once, with its code.
    report = check(
        manual(),
        node("shape", "ACTION", "TRANSFORM", expression="{{ input.( }}"),
        edges=(("start", "main", "shape"),),
    )
    assert codes(report.errors) == ["EXPRESSION_SYNTAX"]
    assert report.errors[0].field == "parameters.expression"


def test_disabled_nodes_are_validated_too() -> None:
    disabled = {**node("fetch", "ACTION", "HTTP_REQUEST", timeout_seconds=0), "disabled": True}
    report = check(manual(), disabled, edges=(("start", "main", "fetch"),))
    assert {e.field for e in report.errors} == {"parameters.url", "parameters.timeout_seconds"}


# -- schedules ----------------------------------------------------------------------------------


def schedule(expression: Any, **parameters: Any) -> dict[str, Any]:
    return node("tick", "TRIGGER", "SCHEDULE", expression=expression, **parameters)


def test_bad_schedule_expression_is_reported_once() -> None:
    report = check(schedule("cron(0 9 ? * FOO *)"), set_node("a"), edges=(("tick", "main", "a"),))
    issue = only(report.errors, "INVALID_SCHEDULE")
    assert len(report.errors) == 1  # not again as INVALID_PARAMETER from the trigger's model
    assert (issue.node_id, issue.field) == ("tick", "parameters.expression")
    assert "cron field 'day-of-week': 'FOO' is not a day name or number 1-7" in issue.message


def test_bad_schedule_time_zone() -> None:
    report = check(
        schedule("rate(5 minutes)", timezone="Mars/Olympus"),
        set_node("a"),
        edges=(("tick", "main", "a"),),
    )
    issue = only(report.errors, "INVALID_SCHEDULE")
    assert len(report.errors) == 1
    assert issue.field == "parameters.timezone"
    assert "unknown time zone 'Mars/Olympus'" in issue.message


def test_a_schedule_cannot_hold_an_expression() -> None:
    report = check(schedule("{{ input.cron }}"), set_node("a"), edges=(("tick", "main", "a"),))
    assert len(report.errors) == 1
    assert "cannot hold {{ }} expressions" in only(report.errors, "INVALID_SCHEDULE").message


def test_missing_schedule_expression_is_a_parameter_error() -> None:
    report = check(
        node("tick", "TRIGGER", "SCHEDULE"), set_node("a"), edges=(("tick", "main", "a"),)
    )
    assert only(report.errors, "INVALID_PARAMETER").field == "parameters.expression"


def test_a_schedule_in_the_past_never_fires() -> None:
    report = check(
        schedule("at(2026-01-01T09:00:00)"), set_node("a"), edges=(("tick", "main", "a"),)
    )
    assert report.valid
    issue = only(report.warnings, "SCHEDULE_NEVER_FIRES")
    assert issue.field == "parameters.expression"
    future = check(
        schedule("at(2027-01-01T09:00:00)"), set_node("a"), edges=(("tick", "main", "a"),)
    )
    assert future.warnings == []


def test_a_schedule_without_a_zone_uses_the_workflow_zone() -> None:
    # 2026-06-01 00:30 in Tokyo is still May 31 in UTC: with the workflow's zone it is ahead.
    at_half_past = schedule("at(2026-06-01T00:30:00)")
    tokyo = check(
        at_half_past,
        set_node("a"),
        edges=(("tick", "main", "a"),),
        settings={"timezone": "Asia/Tokyo"},
    )
    assert codes(tokyo.warnings) == ["SCHEDULE_NEVER_FIRES"]
    utc = check(at_half_past, set_node("a"), edges=(("tick", "main", "a"),))
    assert utc.warnings == []


# -- the report ---------------------------------------------------------------------------------


def test_issues_come_in_document_order() -> None:
    report = check(
        set_node("first", total="{{ ( }}"),
        node("second", "ACTION", "NOPE"),
        set_node("third", total="{{ ) }}"),
    )
    assert [(i.code, i.node_id) for i in report.errors] == [
        ("NO_TRIGGER", None),
        ("EXPRESSION_SYNTAX", "first"),
        ("UNKNOWN_NODE_TYPE", "second"),
        ("EXPRESSION_SYNTAX", "third"),
    ]


def test_error_items_for_the_400_envelope() -> None:
    report = check(
        manual(), node("fetch", "ACTION", "HTTP_REQUEST"), edges=(("start", "main", "fetch"),)
    )
    assert report.error_items() == [
        {
            "loc": ["nodes", "fetch", "parameters", "url"],
            "msg": "node 'fetch': parameter 'url': Field required",
        },
    ]
    with pytest.raises(ValidationFailed) as raised:
        report.raise_if_invalid()
    assert raised.value.status == 400
    assert raised.value.details["errors"] == report.error_items()
    validate_document(realistic(), now=NOW).raise_if_invalid()  # valid: nothing raised


def test_issue_loc_defaults_from_node_and_field() -> None:
    issue = ValidationIssue(code="X", message="m", node_id="a", field="parameters.values[2].k")
    assert issue.loc == ["nodes", "a", "parameters", "values", 2, "k"]
    assert ValidationIssue(code="X", message="m").loc == ["workflow"]


# -- documents that do not parse ----------------------------------------------------------------


def test_a_document_that_does_not_parse_gets_a_report() -> None:
    report = validate_document(
        {"name": "x", "nodes": [{"id": "a", "type": "TRIGGER", "retry_policy": {"max_tries": 99}}]}
    )
    assert not report.valid
    issue = only(report.errors, "INVALID_DOCUMENT")
    assert issue.node_id == "a"
    assert issue.loc == ["nodes", "a", "retry_policy", "max_tries"]
    assert issue.message.startswith("nodes.a.retry_policy.max_tries: ")


def test_not_even_an_object() -> None:
    report = validate_document(["not", "a", "workflow"])
    assert codes(report.errors) == ["INVALID_DOCUMENT"]
    assert report.errors[0].loc == ["workflow"]


def test_a_draft_without_a_name_is_still_checked_through() -> None:
    draft = document(manual(), set_node("a"), edges=(("start", "yes", "a"),))
    del draft["name"]
    report = validate_document(draft)
    assert codes(report.errors) == ["INVALID_DOCUMENT", "UNKNOWN_PORT"]
    assert report.errors[0].loc == ["name"]


def test_stored_fields_are_accepted() -> None:
    stored = {**realistic(), "id": "wf-1", "created_at": 1, "updated_at": 2, "revision": 3}
    assert validate_document(stored, now=NOW).valid


def test_validate_request_takes_either_name() -> None:
    body = realistic()
    assert ValidateRequest.model_validate({"workflow": body}).document == body
    assert ValidateRequest.model_validate({"workflow_data": body}).document == body
    with pytest.raises(ValidationError, match="send the workflow"):
        ValidateRequest.model_validate({})
    with pytest.raises(ValidationError, match="not both"):
        ValidateRequest.model_validate({"workflow": body, "workflow_data": body})


# -- the fast expression check agrees with the parser -------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{{ nodes.n12.body.id }}",
        "{{ nodes.`fetch-issues`.body }}",
        "{{ $sum(input.items.price) * 1.5 }}",
        "{{ input.a and input.b or input.c in [1, 2] }}",
        "{{ true ? 'yes' : \"no\" }}",
        "{{ function($a, $b) { $a + $b } }}",
        "{{ 007 }}",
        "{{ input.and }}",
        "{{ input.in.out }}",
        "{{ or }}",
        "{{ function }}",
        "{{ null.x }}",
        "{{ 1e999 }}",
        "{{ 1e5 + 12.5 }}",
        "{{ input.name ~> /^a/i }}",
        "{{ $match(input.s, /[z-a]/) }}",  # regex content decides: not canonicalised
        "{{ $match(input.s, /a{2,1}/) }}",
        "{{ '\\u12' }}",
        "{{ input. }}",
        "{{ (( }}",
        "{{ input.x }} and {{ input.y",
        "{{ a b }}",
        "{{ $ }} {{ $$ }}",
        "https://example.com/{{ input.id }}/items",
        '{{ {"a": {"b": 1}} }}',
    ],
)
def test_the_fast_expression_check_agrees_with_the_parser(text: str) -> None:
    assert expression_errors({"p": text}) == syntax_errors({"p": text})


TOKENS = [
    "a",
    "n12",
    "x_1",
    "and",
    "or",
    "in",
    "true",
    "null",
    "function",
    "$x",
    "$sum",
    "$",
    "$$",
    "0",
    "1",
    "12",
    "007",
    "1.5",
    "1e5",
    "1e999",
    "123456789012",
    ".",
    ",",
    "+",
    "-",
    "*",
    "/",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ";",
    "&",
    "=",
    "!=",
    ">",
    "?",
    "~>",
    "..",
    ":=",
    "|",
    "#",
    "@",
    "%",
    "^",
    "'s'",
    '"t u"',
    "`b c`",
    " ",
    "\\",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12),
    st.sampled_from(["{{ %s }}", "text {{ %s }} more", "{{ %s }}{{ a }}", "%s"]),
)
def test_the_fast_expression_check_agrees_on_random_token_soup(
    tokens: list[str], template: str
) -> None:
    text = template % "".join(tokens)
    assert expression_errors({"v": [text]}) == syntax_errors({"v": [text]})
