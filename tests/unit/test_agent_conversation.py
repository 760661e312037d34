"""The conversational turn (`flowlane.agent.conversation`): the offline routing and replies, and
the tool loop against a scripted chat provider (the real SDKs: tests/integration/
test_agent_conversation_sdk.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from flowlane.agent.conversation import (
    MAX_TOOL_RESULT_CHARS,
    TOOL_SPECS,
    HistoryEntry,
    TurnEvent,
    route,
    run_turn,
)
from flowlane.errors import FlowlaneError, NotFound, RateLimited, UpstreamError, ValidationFailed
from flowlane.nodes.base import NodeError, upstream_error
from flowlane.nodes.llm.chat import ChatRequest, ChatResponse, ToolCall, Usage
from flowlane.nodes.llm.offline import OfflineProvider

EXECUTION_ID = "20261121T140359065-255a741c"
WORKFLOW = {"workflow_id": "wf-1", "name": "Weekday GitHub digest", "nodes": []}

DRAFT: dict[str, Any] = {
    "workflow_id": "wf-1",
    "name": "Weekday GitHub digest",
    "nodes": [
        {"id": f"n{i}", "type": "ACTION", "subtype": "X", "name": name}
        for i, name in enumerate(
            [
                "Every weekday at 9",
                "Fetch issues",
                "Filter new",
                "Summarise",
                "Format",
                "Post to Slack",
                "Log",
            ]
        )
    ],
    "missing_info": ["the Slack channel"],
    "suggestions": [],
    "valid": True,
    "errors": [],
}

CANNED: dict[str, dict[str, Any]] = {
    "search_catalogue": {
        "templates": [
            {"id": "EXTERNAL_ACTION.SLACK", "name": "Slack", "description": "Send a Slack message"}
        ]
    },
    "draft_workflow": DRAFT,
    "refine_workflow": {
        "workflow_id": "wf-1",
        "changes": ["Slack channel set to #alerts"],
        "valid": True,
        "errors": [],
    },
    "validate_workflow": {"valid": True, "errors": [], "warnings": []},
    "dry_run_workflow": {
        "status": "SUCCEEDED",
        "output": {"posted": True},
        "error": None,
        "node_runs": [
            {"node_id": f"n{i}", "status": "SUCCEEDED", "port": "main"} for i in range(6)
        ],
    },
    "execute_workflow": {"execution_id": EXECUTION_ID, "status": "running"},
    "list_executions": {
        "executions": [
            {"execution_id": EXECUTION_ID, "status": "FAILED", "started_at": "2026-11-21T14:03Z"},
            {"execution_id": "20261120T090000000-00000000", "status": "SUCCEEDED"},
        ]
    },
    "get_execution": {
        "execution_id": EXECUTION_ID,
        "status": "FAILED",
        "output": None,
        "error": {"code": "UPSTREAM_ERROR", "message": "slack answered 404", "node_id": "post"},
        "node_runs": [{"node_id": "fetch"}, {"node_id": "post"}],
    },
}


class FakeTools:
    """Records every call; answers with a canned dict, or raises `failures[name]`."""

    def __init__(
        self,
        *,
        workflow: dict[str, Any] | None = None,
        results: dict[str, dict[str, Any]] | None = None,
        failures: dict[str, Exception] | None = None,
    ) -> None:
        self.workflow = workflow
        self.results = {**CANNED, **(results or {})}
        self.failures = failures or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, name: str, **arguments: Any) -> dict[str, Any]:
        self.calls.append((name, arguments))
        if name in self.failures:
            raise self.failures[name]
        return self.results[name]

    def search_catalogue(self, query: str) -> dict[str, Any]:
        return self._answer("search_catalogue", query=query)

    def draft_workflow(self, description: str) -> dict[str, Any]:
        return self._answer("draft_workflow", description=description)

    def refine_workflow(self, feedback: str) -> dict[str, Any]:
        return self._answer("refine_workflow", feedback=feedback)

    def validate_workflow(self) -> dict[str, Any]:
        return self._answer("validate_workflow")

    def dry_run_workflow(self, trigger_data: Any) -> dict[str, Any]:
        return self._answer("dry_run_workflow", trigger_data=trigger_data)

    def execute_workflow(self, trigger_data: Any) -> dict[str, Any]:
        return self._answer("execute_workflow", trigger_data=trigger_data)

    def list_executions(self, limit: int) -> dict[str, Any]:
        return self._answer("list_executions", limit=limit)

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return self._answer("get_execution", execution_id=execution_id)

    def current_workflow(self) -> dict[str, Any] | None:
        return self.workflow


def offline(message: str, tools: FakeTools, **kwargs: Any) -> list[TurnEvent]:
    options: dict[str, Any] = {"history": (), "provider": None, "model": None, **kwargs}
    return list(run_turn(message, tools=tools, **options))


def types(events: Sequence[TurnEvent]) -> list[str]:
    return [event.type for event in events]


def text_of(events: Sequence[TurnEvent]) -> str:
    [text] = [e.data["content"] for e in events if e.type == "text"]
    return str(text)


# -- offline routing -----------------------------------------------------------------------------

DESCRIPTION = "Every weekday at 9am, post new GitHub issues to Slack"

ROUTES: list[tuple[str, bool, list[tuple[str, dict[str, Any]]]]] = [
    # run / execute / start / trigger it, trigger data from a JSON object in the message
    ("run it", True, [("execute_workflow", {"trigger_data": {}})]),
    (
        'Run it with {"user": "ada", "n": [1, 2]}',
        True,
        [("execute_workflow", {"trigger_data": {"user": "ada", "n": [1, 2]}})],
    ),
    ("please execute the workflow now", True, [("execute_workflow", {"trigger_data": {}})]),
    ("trigger it", True, [("execute_workflow", {"trigger_data": {}})]),
    ("start", True, [("execute_workflow", {"trigger_data": {}})]),
    # test / try / dry run / simulate
    ("test it", True, [("dry_run_workflow", {"trigger_data": {}})]),
    ("try it out", True, [("dry_run_workflow", {"trigger_data": {}})]),
    (
        'do a dry run with {"issue": 7}',
        True,
        [("dry_run_workflow", {"trigger_data": {"issue": 7}})],
    ),
    ("simulate", True, [("dry_run_workflow", {"trigger_data": {}})]),
    ("Does it work?", True, [("dry_run_workflow", {"trigger_data": {}})]),
    # validate / check / is it valid
    ("validate", True, [("validate_workflow", {})]),
    ("is it valid?", True, [("validate_workflow", {})]),
    ("check it please", True, [("validate_workflow", {})]),
    # status / last run / executions / did it work / history
    ("did it work?", True, [("list_executions", {"limit": 5})]),
    ("show me the last 3 runs", True, [("list_executions", {"limit": 3})]),
    ("run history", True, [("list_executions", {"limit": 5})]),
    ("status", True, [("list_executions", {"limit": 5})]),
    (
        f"what happened in {EXECUTION_ID}?",
        True,
        [("list_executions", {"limit": 5}), ("get_execution", {"execution_id": EXECUTION_ID})],
    ),
    (
        f"details of {EXECUTION_ID.upper()}",
        True,
        [("list_executions", {"limit": 5}), ("get_execution", {"execution_id": EXECUTION_ID})],
    ),
    # what nodes / which integrations / can you / do you support X
    ("Do you support Google Sheets?", False, [("search_catalogue", {"query": "google sheets"})]),
    (
        "Which integrations can send email?",
        False,
        [("search_catalogue", {"query": "send email"})],
    ),
    ("Can you talk to Notion?", False, [("search_catalogue", {"query": "notion"})]),
    ("what can you do with jira?", False, [("search_catalogue", {"query": "jira"})]),
    # a change while the session has a workflow
    (
        "change the channel to #alerts",
        True,
        [("refine_workflow", {"feedback": "change the channel to #alerts"})],
    ),
    ("also send an email", True, [("refine_workflow", {"feedback": "also send an email"})]),
    (
        "make it run every hour instead",
        True,
        [("refine_workflow", {"feedback": "make it run every hour instead"})],
    ),
    (
        "Rename it to Daily digest",
        True,
        [("refine_workflow", {"feedback": "Rename it to Daily digest"})],
    ),
    # a description of an automation
    (DESCRIPTION, False, [("draft_workflow", {"description": DESCRIPTION})]),
    (DESCRIPTION, True, [("draft_workflow", {"description": DESCRIPTION})]),
    (
        "When a Stripe payment fails, email the customer",
        False,
        [("draft_workflow", {"description": "When a Stripe payment fails, email the customer"})],
    ),
    (
        "Create a new workflow that adds a row to Sheets when a form arrives",
        True,
        [
            (
                "draft_workflow",
                {
                    "description": "Create a new workflow that adds a row to Sheets when a form "
                    "arrives"
                },
            )
        ],
    ),
    # hint words inside a description do not win over the description
    (
        "post the status of my PRs to Slack every morning",
        False,
        [("draft_workflow", {"description": "post the status of my PRs to Slack every morning"})],
    ),
    (
        "Run the tests when a PR is opened and post the results to Slack",
        False,
        [
            (
                "draft_workflow",
                {"description": "Run the tests when a PR is opened and post the results to Slack"},
            )
        ],
    ),
    # nothing to do with a tool
    ("hi", False, []),
    ("thanks!", True, []),
    ("what can you do?", False, []),
    ("what nodes are there?", False, []),
    ("how's the weather?", False, []),
    ("change the channel to #alerts", False, []),
]


@pytest.mark.parametrize(("message", "has_workflow", "expected"), ROUTES)
def test_offline_routing(
    message: str, has_workflow: bool, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    tools = FakeTools(workflow=WORKFLOW if has_workflow else None)

    events = offline(message, tools)

    assert tools.calls == expected
    assert [e.data["name"] for e in events if e.type == "tool_call"] == [n for n, _ in expected]
    assert route(message, has_workflow=has_workflow).calls == tuple(expected)


def test_offline_events_come_in_order() -> None:
    tools = FakeTools(workflow=WORKFLOW)

    events = offline("test it", tools)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    call, result, text, complete = (e.data for e in events)
    assert call == {
        "id": "offline-1",
        "name": "dry_run_workflow",
        "arguments": {"trigger_data": {}},
    }
    assert result == {
        "id": "offline-1",
        "name": "dry_run_workflow",
        "result": CANNED["dry_run_workflow"],
        "is_error": False,
    }
    assert text["content"].startswith("The test run SUCCEEDED; 6 steps ran.")
    assert complete == {
        "message": text["content"],
        "tool_calls": 1,
        "provider": "offline",
        "model": "offline",
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def test_an_execution_id_reads_that_execution_after_the_list() -> None:
    tools = FakeTools(workflow=WORKFLOW)

    events = offline(f"did {EXECUTION_ID} work?", tools)

    assert types(events) == [
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "text",
        "complete",
    ]
    assert [e.data["id"] for e in events[:4]] == ["offline-1"] * 2 + ["offline-2"] * 2
    text = text_of(events)
    assert f"Execution {EXECUTION_ID} FAILED; 2 steps ran." in text
    assert "Step post failed: slack answered 404." in text
    assert events[-1].data["tool_calls"] == 2


def test_a_tool_error_is_a_tool_result_and_plain_words() -> None:
    tools = FakeTools(
        failures={"execute_workflow": NotFound("There is no workflow in this session yet")}
    )

    events = offline("run it", tools)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    assert events[1].data == {
        "id": "offline-1",
        "name": "execute_workflow",
        "error": {
            "code": "NOT_FOUND",
            "message": "There is no workflow in this session yet",
            "details": {},
        },
        "is_error": True,
    }
    assert text_of(events) == (
        "I couldn't start the workflow: There is no workflow in this session yet."
    )
    assert events[-1].data["tool_calls"] == 1


def test_a_validation_error_lists_its_problems_and_a_rate_limit_its_wait() -> None:
    invalid = ValidationFailed(
        "the description is too vague", [{"loc": ["description"], "msg": "name a trigger"}]
    )
    tools = FakeTools(
        failures={"draft_workflow": invalid, "dry_run_workflow": RateLimited("slow down", 30)},
        workflow=None,
    )

    drafted = text_of(offline(DESCRIPTION, tools))
    tested = text_of(offline("test it", tools))

    assert (
        drafted == "I couldn't draft the workflow: the description is too vague. (name a trigger)"
    )
    assert tested == "I couldn't test the workflow: slow down. Try again in 30 seconds."


def test_small_talk_calls_no_tool() -> None:
    tools = FakeTools()

    events = offline("Hello there", tools)

    assert types(events) == ["text", "complete"]
    assert tools.calls == []
    text = text_of(events)
    assert text.startswith("Hello! I can draft a workflow")
    assert "No language model is configured" in text
    assert events[-1].data["tool_calls"] == 0
    assert events[-1].data["message"] == text


def test_a_change_without_a_workflow_asks_for_a_description_first() -> None:
    text = text_of(offline("rename the second step to Fetch", FakeTools()))

    assert "There is no workflow in this session yet" in text


def test_the_help_names_the_sessions_workflow() -> None:
    text = text_of(offline("what can you do?", FakeTools(workflow=WORKFLOW)))

    assert text.endswith("This session's workflow is *Weekday GitHub digest*.")


def test_offline_is_deterministic() -> None:
    messages = [DESCRIPTION, "test it", "did it work?", "hi", f"show {EXECUTION_ID}"]

    first = [offline(m, FakeTools(workflow=WORKFLOW)) for m in messages]
    second = [offline(m, FakeTools(workflow=WORKFLOW)) for m in messages]

    assert first == second


def test_the_offline_provider_gives_the_offline_turn() -> None:
    with_none = offline("test it", FakeTools(workflow=WORKFLOW))
    with_offline = offline(
        "test it", FakeTools(workflow=WORKFLOW), provider=OfflineProvider(), model="offline"
    )

    assert with_offline == with_none


def test_a_blank_message_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="message is empty"):
        offline("   ", FakeTools())


def test_an_unexpected_tool_exception_propagates() -> None:
    tools = FakeTools(failures={"validate_workflow": RuntimeError("bug")})

    with pytest.raises(RuntimeError, match="bug"):
        offline("validate", tools)


# -- offline replies -----------------------------------------------------------------------------


def test_draft_reply() -> None:
    text = text_of(offline(DESCRIPTION, FakeTools()))

    assert text.startswith(
        "I drafted *Weekday GitHub digest* with 7 steps: Every weekday at 9, Fetch issues, "
        "Filter new, Summarise, Format, Post to Slack, and 1 more. I still need: the Slack "
        "channel. It passes validation."
    )


def test_draft_reply_with_errors_and_suggestions() -> None:
    draft = {
        **DRAFT,
        "nodes": DRAFT["nodes"][:1],
        "missing_info": [],
        "valid": False,
        "errors": [{"code": "MISSING", "message": "url is required", "node_id": "fetch"}],
        "suggestions": ["add a retry"],
    }

    text = text_of(offline(DESCRIPTION, FakeTools(results={"draft_workflow": draft})))

    assert "with 1 step: Every weekday at 9." in text
    assert "It does not validate yet: fetch: url is required." in text
    assert "Suggestion: add a retry." in text


@pytest.mark.parametrize(
    ("message", "result", "expected"),
    [
        (
            "change it to #alerts",
            CANNED["refine_workflow"],
            "I updated the workflow: Slack channel set to #alerts. It passes validation.",
        ),
        ("validate", CANNED["validate_workflow"], "The workflow is valid."),
        (
            "validate",
            {
                "valid": False,
                "errors": [{"message": "cycle between a and b"}],
                "warnings": [{"message": "node c is unreachable"}],
            },
            "The workflow has 1 problem: cycle between a and b. 1 warning: node c is unreachable.",
        ),
        (
            "run it",
            CANNED["execute_workflow"],
            f"I started the workflow: execution {EXECUTION_ID} is running. Ask me “did it "
            "work?” to see how it went.",
        ),
        (
            "did it work?",
            CANNED["list_executions"],
            f"The latest run, {EXECUTION_ID}, FAILED (started 2026-11-21T14:03Z). Of the last "
            "2: 1 FAILED, 1 SUCCEEDED.",
        ),
        ("did it work?", {"executions": []}, "The workflow has no runs yet."),
        (
            "do you support slack?",
            CANNED["search_catalogue"],
            "I found 1 matching node: Slack (EXTERNAL_ACTION.SLACK): Send a Slack message.",
        ),
        (
            "do you support fax?",
            {"templates": []},
            "I found no node for that; try other words, such as the service's name.",
        ),
        (
            "test it",
            {
                "status": "FAILED",
                "output": None,
                "error": {"code": "EXPRESSION_ERROR", "message": "bad {{x}}", "node_id": "fmt"},
                "node_runs": [{"node_id": "fetch"}, {"node_id": "fmt"}],
            },
            "The test run FAILED; 2 steps ran. Step fmt failed: bad {{x}}.",
        ),
    ],
)
def test_replies_in_plain_words(message: str, result: dict[str, Any], expected: str) -> None:
    [name] = [call[0] for call in route(message, has_workflow=True).calls]
    tools = FakeTools(workflow=WORKFLOW, results={name: result})

    assert text_of(offline(message, tools)) == expected


def test_a_dry_run_reply_summarises_the_output() -> None:
    text = text_of(offline("test it", FakeTools(workflow=WORKFLOW)))

    assert text == "The test run SUCCEEDED; 6 steps ran. Output: 1 field. posted: true"


# -- TOOL_SPECS ----------------------------------------------------------------------------------


def test_tool_specs_cover_every_tool_but_current_workflow() -> None:
    names = [spec.name for spec in TOOL_SPECS]

    assert names == [
        "search_catalogue",
        "draft_workflow",
        "refine_workflow",
        "validate_workflow",
        "dry_run_workflow",
        "execute_workflow",
        "list_executions",
        "get_execution",
    ]
    for spec in TOOL_SPECS:
        assert spec.description
        assert spec.input_schema["type"] == "object"
        assert set(spec.input_schema.get("required", [])) <= set(spec.input_schema["properties"])
    json.dumps([spec.input_schema for spec in TOOL_SPECS])  # JSON-able, as the APIs need


# -- the tool loop, against a scripted provider --------------------------------------------------


class ScriptedProvider:
    """A ChatProvider that answers from a script and records every request."""

    name = "scripted"

    def __init__(self, *responses: ChatResponse | NodeError) -> None:
        self.responses = list(responses)
        self.requests: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, NodeError):
            raise response
        return response

    def close(self) -> None:
        pass


def answer(text: str = "", *calls: ToolCall, usage: Usage = Usage(3, 2)) -> ChatResponse:
    return ChatResponse(text=text, model="model-x", tool_calls=calls, usage=usage)


def llm_turn(
    provider: ScriptedProvider,
    tools: FakeTools,
    message: str = "Draft me a digest",
    **kwargs: Any,
) -> list[TurnEvent]:
    options: dict[str, Any] = {"history": (), "model": "model-x", **kwargs}
    return list(run_turn(message, tools=tools, provider=provider, **options))


def test_tool_loop_runs_tools_and_feeds_results_back() -> None:
    provider = ScriptedProvider(
        answer("", ToolCall("c1", "draft_workflow", {"description": DESCRIPTION})),
        answer("I drafted it."),
    )
    tools = FakeTools()

    events = llm_turn(provider, tools)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    assert tools.calls == [("draft_workflow", {"description": DESCRIPTION})]
    assert events[-1].data == {
        "message": "I drafted it.",
        "tool_calls": 1,
        "provider": "scripted",
        "model": "model-x",
        "usage": {"input_tokens": 6, "output_tokens": 4},
    }
    first, second = provider.requests
    assert first.tools == TOOL_SPECS
    assert "The session has no workflow yet." in (first.system or "")
    fed_back = second.messages[-1]
    assert fed_back.role == "tool"
    [result] = fed_back.tool_results
    assert (result.call_id, result.name, result.is_error) == ("c1", "draft_workflow", False)
    assert json.loads(result.content) == DRAFT
    assert second.messages[-2].tool_calls[0].id == "c1"


def test_history_opens_with_the_user_and_skips_blanks() -> None:
    provider = ScriptedProvider(answer("ok"))
    history = [
        HistoryEntry("assistant", "Welcome!"),
        HistoryEntry("user", "Hi"),
        HistoryEntry("assistant", ""),
        HistoryEntry("assistant", "Hello"),
    ]

    llm_turn(provider, FakeTools(workflow=WORKFLOW), "And now?", history=history)

    [request] = provider.requests
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "Hi"),
        ("assistant", "Hello"),
        ("user", "And now?"),
    ]
    assert '"name":"Weekday GitHub digest"' in (request.system or "")


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (ToolCall("c1", "delete_everything", {}), "VALIDATION_ERROR"),
        (ToolCall("c1", "draft_workflow", {}, invalid_arguments="{not json"), "VALIDATION_ERROR"),
        (ToolCall("c1", "draft_workflow", {"description": "  "}), "VALIDATION_ERROR"),
        (ToolCall("c1", "list_executions", {"limit": 0}), "VALIDATION_ERROR"),
        (ToolCall("c1", "get_execution", {"execution_id": 42}), "VALIDATION_ERROR"),
        (ToolCall("c1", "current_workflow", {}), "VALIDATION_ERROR"),
    ],
)
def test_a_bad_call_is_a_tool_error_not_an_exception(call: ToolCall, code: str) -> None:
    provider = ScriptedProvider(answer("", call), answer("Sorry."))
    tools = FakeTools()

    events = llm_turn(provider, tools)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    assert tools.calls == []
    assert events[1].data["is_error"] is True
    assert events[1].data["error"]["code"] == code
    [result] = provider.requests[1].messages[-1].tool_results
    assert result.is_error
    assert json.loads(result.content)["error"]["code"] == code


def test_invalid_arguments_are_shown_raw_on_the_call_event() -> None:
    call = ToolCall("c1", "draft_workflow", {}, invalid_arguments="{not json")
    events = llm_turn(ScriptedProvider(answer("", call), answer("Sorry.")), FakeTools())

    assert events[0].data == {
        "id": "c1",
        "name": "draft_workflow",
        "arguments": {},
        "invalid_arguments": "{not json",
    }


def test_a_failing_tool_goes_back_to_the_model() -> None:
    provider = ScriptedProvider(
        answer("", ToolCall("c1", "get_execution", {"execution_id": "nope"})),
        answer("That execution does not exist."),
    )
    tools = FakeTools(failures={"get_execution": NotFound("execution nope not found")})

    events = llm_turn(provider, tools)

    assert events[1].data["error"] == {
        "code": "NOT_FOUND",
        "message": "execution nope not found",
        "details": {},
    }
    [result] = provider.requests[1].messages[-1].tool_results
    assert json.loads(result.content) == {"error": events[1].data["error"]}


def test_two_calls_in_one_answer_each_announce_then_report() -> None:
    provider = ScriptedProvider(
        answer(
            "Checking.",
            ToolCall("a", "validate_workflow", {}),
            ToolCall("b", "list_executions", {}),
        ),
        answer("All good."),
    )

    events = llm_turn(provider, FakeTools(workflow=WORKFLOW))

    assert [(e.type, e.data.get("id")) for e in events[:4]] == [
        ("tool_call", "a"),
        ("tool_result", "a"),
        ("tool_call", "b"),
        ("tool_result", "b"),
    ]
    assert [r.call_id for r in provider.requests[1].messages[-1].tool_results] == ["a", "b"]
    assert events[-1].data["tool_calls"] == 2


def test_max_steps_stops_the_loop_without_running_the_last_calls() -> None:
    calls = [ToolCall(f"c{i}", "validate_workflow", {}) for i in range(3)]
    provider = ScriptedProvider(*(answer("", call) for call in calls))
    tools = FakeTools(workflow=WORKFLOW)

    events = llm_turn(provider, tools, max_steps=2)

    assert types(events) == ["tool_call", "tool_result", "text", "complete"]
    assert len(provider.requests) == 2
    assert tools.calls == [("validate_workflow", {})]
    assert text_of(events).startswith("I stopped after 2 model calls without finishing")
    assert "validate_workflow" in text_of(events)
    assert events[-1].data["tool_calls"] == 1
    assert events[-1].data["usage"] == {"input_tokens": 6, "output_tokens": 4}


def test_a_long_tool_result_is_cut_for_the_model_but_not_for_the_person() -> None:
    huge = {"templates": [{"id": f"T{i}", "description": "x" * 100} for i in range(200)]}
    provider = ScriptedProvider(
        answer("", ToolCall("c1", "search_catalogue", {"query": "x"})), answer("Many.")
    )

    events = llm_turn(provider, FakeTools(results={"search_catalogue": huge}))

    [result] = provider.requests[1].messages[-1].tool_results
    assert len(result.content) < MAX_TOOL_RESULT_CHARS + 100
    assert "[truncated:" in result.content
    assert events[1].data["result"] == huge


def test_a_provider_error_is_an_upstream_error() -> None:
    provider = ScriptedProvider(upstream_error("scripted", 500, "scripted answered 500: boom"))

    with pytest.raises(UpstreamError) as caught:
        llm_turn(provider, FakeTools())

    assert caught.value.message == "scripted answered 500: boom"
    assert caught.value.details == {
        "provider": "scripted",
        "code": "UPSTREAM_ERROR",
        "service": "scripted",
        "status": 500,
    }
    assert isinstance(caught.value, FlowlaneError)


def test_an_empty_answer_still_says_something() -> None:
    events = llm_turn(ScriptedProvider(answer("   ")), FakeTools())

    assert text_of(events) == "(The model gave no answer.)"


def test_a_provider_needs_a_model_and_a_step() -> None:
    with pytest.raises(ValueError, match="model"):
        llm_turn(ScriptedProvider(), FakeTools(), model=None)
    with pytest.raises(ValueError, match="max_steps"):
        llm_turn(ScriptedProvider(), FakeTools(), max_steps=0)
