"""The reference interpreter: CONTRACT.md section 4, rule by rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from flowlane.config import EngineSettings, IntegrationSettings
from flowlane.engine.interpreter import Interpreter, dry_run
from flowlane.engine.node_execution import resolve_parameters
from flowlane.models.execution import ExecutionRecord
from flowlane.models.workflow import NodeType
from flowlane.nodes import registry
from flowlane.nodes.base import Node, NodeContext, NodeError, NodeParameters, NodeResult
from flowlane.nodes.flow import FilterParameters, LoopParameters
from tests.workflows import manual, node, set_node, workflow


class PureServices:
    """Pure nodes need only the settings; nothing here reaches the outside world."""

    engine = EngineSettings()
    integrations = IntegrationSettings()


SERVICES: Any = PureServices()


class FlakyParameters(NodeParameters):
    fail_times: int = 0
    code: str = "UPSTREAM_ERROR"


class Flaky(Node[FlakyParameters]):
    """Fails its first `fail_times` runs (per node id) with `code`, then echoes its input."""

    type = NodeType.ACTION
    subtype = "TEST_FLAKY"
    title = "Flaky"
    description = "test node"
    parameters_model = FlakyParameters
    calls: ClassVar[dict[str, int]] = {}

    def run(self, ctx: NodeContext, params: FlakyParameters) -> NodeResult:
        count = self.calls.get(ctx.node.id, 0) + 1
        self.calls[ctx.node.id] = count
        if count <= params.fail_times:
            raise NodeError(params.code, f"failure {count}")
        return NodeResult({"echo": ctx.input, "calls": count})


@pytest.fixture(autouse=True)
def flaky_node() -> Iterator[None]:
    registry.catalogue()
    registry._nodes[(NodeType.ACTION, "TEST_FLAKY")] = Flaky()
    Flaky.calls.clear()
    yield
    registry._nodes.pop((NodeType.ACTION, "TEST_FLAKY"), None)


def flaky(node_id: str, fail_times: int = 0, code: str = "UPSTREAM_ERROR", **fields: Any) -> Any:
    params = {"fail_times": fail_times, "code": code}
    return node(node_id, "ACTION", "TEST_FLAKY", parameters=params, **fields)


def run(wf: Any, data: Any = None, **kwargs: Any) -> ExecutionRecord:
    return dry_run(wf, SERVICES, owner="alice", trigger_data=data, max_retry_wait=0, **kwargs)


def ran(record: ExecutionRecord) -> dict[str, Any]:
    return {r.node_id: r for r in record.node_runs}


def if_node(node_id: str, left: Any, op: str, right: Any = None) -> dict[str, Any]:
    condition = {"left": left, "op": op, "right": right}
    return node(node_id, "FLOW", "IF", parameters={"conditions": [condition]})


def test_a_chain_passes_each_output_on() -> None:
    wf = workflow(
        [
            manual(),
            set_node("a", {"n": "{{ input.x + 1 }}"}),
            set_node("b", {"m": "{{ input.n * 10 }}"}),
        ],
        ("start", "main", "a"),
        ("a", "main", "b"),
    )
    record = run(wf, {"x": 1})
    assert record.status == "SUCCEEDED"
    assert [r.node_id for r in record.node_runs] == ["start", "a", "b"]
    assert ran(record)["b"].input == {"n": 2}
    assert record.output == {"m": 20}
    assert all(r.attempts == 1 and r.started_at and r.ended_at for r in record.node_runs[1:])


def test_a_branch_not_taken_is_absent_and_so_is_what_only_it_reaches() -> None:
    wf = workflow(
        [
            manual(),
            if_node("check", "{{ input.n }}", "gt", 5),
            set_node("big", {"size": "big"}),
            set_node("after_big", {"x": 1}),
            set_node("small", {"size": "small"}),
        ],
        ("start", "main", "check"),
        ("check", "true", "big"),
        ("big", "main", "after_big"),
        ("check", "false", "small"),
    )
    record = run(wf, {"n": 3})
    assert set(ran(record)) == {"start", "check", "small"}
    assert ran(record)["check"].port == "false"
    assert record.output == {"size": "small"}


def test_an_implicit_join_runs_once_with_every_branch_that_ran() -> None:
    wf = workflow(
        [
            manual(),
            set_node("a", {"v": 1}),
            set_node("b", {"v": 2}),
            set_node("join", {"in": "{{ input }}"}),
        ],
        ("start", "main", "a"),
        ("start", "main", "b"),
        ("a", "main", "join"),
        ("b", "main", "join"),
    )
    record = run(wf)
    assert [r.node_id for r in record.node_runs].count("join") == 1
    assert ran(record)["join"].input == {"a": {"v": 1}, "b": {"v": 2}}


def test_a_join_after_a_branch_gets_the_single_output_that_ran() -> None:
    wf = workflow(
        [
            manual(),
            if_node("check", True, "is_true"),
            set_node("yes", {"v": "y"}),
            set_node("no", {"v": "n"}),
            set_node("join", {"got": "{{ input.v }}"}),
        ],
        ("start", "main", "check"),
        ("check", "true", "yes"),
        ("check", "false", "no"),
        ("yes", "main", "join"),
        ("no", "main", "join"),
    )
    record = run(wf)
    assert ran(record)["join"].input == {"v": "y"}
    assert record.output == {"got": "y"}


@pytest.mark.parametrize(
    ("mode", "extra", "expected"),
    [
        ("append", {}, [{"k": 1}, 7, 8]),
        ("merge_objects", {}, None),
        ("choose_branch", {"branch": 1}, [7, 8]),
    ],
)
def test_merge_modes(mode: str, extra: dict[str, Any], expected: Any) -> None:
    second: Any = {"v": [7, 8]} if mode != "merge_objects" else {"j": 2}
    wf = workflow(
        [
            manual(),
            set_node("first", {"k": 1}),
            node("second", "ACTION", "TRANSFORM", parameters={"expression": "input.v"})
            if mode != "merge_objects"
            else set_node("second", second),
            node("merge", "FLOW", "MERGE", parameters={"mode": mode, **extra}),
        ],
        ("start", "main", "first"),
        ("start", "main", "second"),
        ("first", "main", "merge", 0),
        ("second", "main", "merge", 1),
    )
    record = run(wf, {"v": [7, 8]})
    if mode == "merge_objects":
        assert record.output == {"k": 1, "j": 2}
    else:
        assert record.output == expected


def test_a_loop_runs_its_body_per_item_and_collects_results_in_order() -> None:
    wf = workflow(
        [
            manual(),
            node("loop", "FLOW", "LOOP", parameters={"items": "{{ input.names }}"}),
            set_node("greet", {"text": "{{ index }}:{{ item }}"}),
            set_node("after", {"all": "{{ input }}"}),
        ],
        ("start", "main", "loop"),
        ("loop", "each", "greet"),
        ("greet", "main", "loop"),
        ("loop", "done", "after"),
    )
    record = run(wf, {"names": ["ann", "bo", "cy"]})
    greets = [r for r in record.node_runs if r.node_id == "greet"]
    assert [r.iteration for r in greets] == [[0], [1], [2]]
    assert ran(record)["loop"].port == "done"
    assert record.output == {"all": [{"text": "0:ann"}, {"text": "1:bo"}, {"text": "2:cy"}]}


def test_nested_loops_and_branches_inside_a_body() -> None:
    wf = workflow(
        [
            manual(),
            node("rows", "FLOW", "LOOP", parameters={"items": "{{ input }}"}),
            node("cells", "FLOW", "LOOP", parameters={"items": "{{ item }}"}),
            if_node("odd", "{{ item % 2 }}", "equals", 1),
            set_node("keep", {"v": "{{ item }}"}),
        ],
        ("start", "main", "rows"),
        ("rows", "each", "cells"),
        ("cells", "each", "odd"),
        ("odd", "true", "keep"),
    )
    record = run(wf, [[1, 2], [3]])
    assert record.status == "SUCCEEDED"
    # An iteration where nothing terminal ran but the IF gives the IF's output.
    assert record.output == [[{"v": 1}, 2], [{"v": 3}]]
    assert {tuple(r.iteration) for r in record.node_runs if r.node_id == "keep"} == {(0, 0), (1, 0)}


def test_disabled_nodes_pass_their_input_through() -> None:
    wf = workflow(
        [
            manual(),
            set_node("off", {"x": 1}, disabled=True),
            set_node("next", {"saw": "{{ input }}"}),
        ],
        ("start", "main", "off"),
        ("off", "main", "next"),
    )
    record = run(wf, {"orig": True})
    assert ran(record)["off"].disabled
    assert record.output == {"saw": {"orig": True}}


def test_retries_follow_the_policy_and_count_attempts() -> None:
    wf = workflow(
        [
            manual(),
            flaky("f", fail_times=2, retry_policy={"max_tries": 3, "wait_between_tries": 1}),
        ],
        ("start", "main", "f"),
    )
    record = run(wf, {"a": 1})
    assert ran(record)["f"].status == "SUCCEEDED"
    assert ran(record)["f"].attempts == 3


def test_errors_that_fail_the_same_way_are_not_retried() -> None:
    wf = workflow(
        [
            manual(),
            flaky(
                "f",
                fail_times=5,
                code="EGRESS_DENIED",
                retry_policy={"max_tries": 3, "wait_between_tries": 1},
            ),
        ],
        ("start", "main", "f"),
    )
    assert ran(run(wf))["f"].attempts == 1


def test_error_port_receives_the_error() -> None:
    wf = workflow(
        [
            manual(),
            flaky("f", fail_times=1),
            set_node("handler", {"got": "{{ input.error.code }}"}),
            set_node("normal", {"x": 1}),
        ],
        ("start", "main", "f"),
        ("f", "error", "handler"),
        ("f", "main", "normal"),
    )
    record = run(wf)
    assert ran(record)["f"].status == "FAILED"
    assert ran(record)["f"].port == "error"
    assert "normal" not in ran(record)
    assert record.status == "SUCCEEDED"
    assert record.output == {"got": "UPSTREAM_ERROR"}


def test_on_error_continue_goes_on_from_the_normal_port() -> None:
    wf = workflow(
        [
            manual(),
            flaky("f", fail_times=1, on_error="continue"),
            set_node("next", {"saw": "{{ input }}"}),
        ],
        ("start", "main", "f"),
        ("f", "main", "next"),
    )
    record = run(wf)
    assert record.status == "SUCCEEDED"
    assert record.output == {
        "saw": {"error": {"code": "UPSTREAM_ERROR", "message": "failure 1", "node_id": "f"}}
    }


def test_on_error_stop_fails_the_execution() -> None:
    wf = workflow(
        [manual(), flaky("f", fail_times=1, on_error="stop"), set_node("next", {"x": 1})],
        ("start", "main", "f"),
        ("f", "main", "next"),
    )
    record = run(wf)
    assert record.status == "FAILED"
    assert record.error is not None
    assert record.error.node_id == "f"
    assert "next" not in ran(record)


def test_the_workflow_error_policy_applies_where_a_node_sets_none() -> None:
    wf = workflow(
        [manual(), flaky("f", fail_times=1)],
        ("start", "main", "f"),
        settings={"error_policy": "stop"},
    )
    assert run(wf).status == "FAILED"


def test_pinned_nodes_are_not_run() -> None:
    wf = workflow(
        [manual(), flaky("f", fail_times=9), set_node("next", {"saw": "{{ input.fake }}"})],
        ("start", "main", "f"),
        ("f", "main", "next"),
    )
    record = run(wf, pin_data={"f": {"fake": 42}})
    assert ran(record)["f"].pinned
    assert Flaky.calls == {}
    assert record.output == {"saw": 42}


def test_approvals_are_approved_in_a_dry_run_unless_pinned() -> None:
    wf = workflow(
        [
            manual(),
            node("ask", "HUMAN_IN_THE_LOOP", "APPROVAL", parameters={"message": "ok?"}),
            set_node("yes", {"r": "yes"}),
            set_node("no", {"r": "no"}),
        ],
        ("start", "main", "ask"),
        ("ask", "approved", "yes"),
        ("ask", "rejected", "no"),
    )
    assert run(wf).output == {"r": "yes"}
    pinned = run(wf, pin_data={"ask": {"decision": "rejected", "comment": "not now"}})
    assert pinned.output == {"r": "no"}
    assert ran(pinned)["ask"].output["comment"] == "not now"
    # A timeout with no timeout branch takes `rejected`.
    assert run(wf, pin_data={"ask": {"decision": "timeout"}}).output == {"r": "no"}


def test_outputs_of_several_terminals_are_keyed_by_node() -> None:
    wf = workflow(
        [manual(), set_node("a", {"v": 1}), set_node("b", {"v": 2})],
        ("start", "main", "a"),
        ("start", "main", "b"),
    )
    assert run(wf).output == {"a": {"v": 1}, "b": {"v": 2}}


def test_the_run_starts_at_the_chosen_trigger() -> None:
    wf = workflow(
        [
            manual("m"),
            node("hook", "TRIGGER", "WEBHOOK"),
            set_node("from_m", {"x": 1}),
            set_node("from_hook", {"body": "{{ input.body }}"}),
        ],
        ("m", "main", "from_m"),
        ("hook", "main", "from_hook"),
    )
    assert set(ran(run(wf))) == {"m", "from_m"}
    record = run(wf, {"k": 1}, trigger_node="hook")
    assert set(ran(record)) == {"hook", "from_hook"}
    assert record.output == {"body": {"k": 1}}


def test_wait_passes_through_without_waiting_in_a_dry_run() -> None:
    wf = workflow(
        [manual(), node("pause", "FLOW", "WAIT", parameters={"seconds": 3600})],
        ("start", "main", "pause"),
    )
    record = run(wf, {"a": 1})
    assert record.output == {"a": 1}


def test_a_run_past_the_workflow_timeout_is_timed_out() -> None:
    ticks = iter([0.0, 0.0, 10_000.0, 10_000.0])
    wf = workflow(
        [manual(), set_node("a", {}), set_node("b", {})],
        ("start", "main", "a"),
        ("a", "main", "b"),
        settings={"timeout": 60},
    )
    interpreter = Interpreter(wf, SERVICES, owner="alice", clock=lambda: next(ticks, 10_000.0))
    record = interpreter.run({})
    assert record.status == "TIMED_OUT"


def test_a_bad_expression_fails_the_node_naming_the_parameter() -> None:
    wf = workflow([manual(), set_node("a", {"x": "{{ $nope( }}"})], ("start", "main", "a"))
    failed = ran(run(wf))["a"]
    assert failed.status == "FAILED"
    assert failed.error is not None
    assert failed.error.code == "EXPRESSION_ERROR"
    assert "values.x" in failed.error.message


def test_expressions_see_other_nodes_and_the_trigger() -> None:
    wf = workflow(
        [
            manual(),
            set_node("a", {"v": 5}),
            set_node("b", {"w": 6}),
            set_node("c", {"sum": "{{ nodes.a.v + input.w }}", "who": "{{ trigger.name }}"}),
        ],
        ("start", "main", "a"),
        ("a", "main", "b"),
        ("b", "main", "c"),
    )
    assert run(wf, {"name": "ann"}).output == {"sum": 11, "who": "ann"}


@pytest.mark.parametrize("subtype", ["LOOP", "FILTER"])
def test_an_omitted_items_resolves_its_default_expression(subtype: str) -> None:
    definition = registry.lookup(NodeType.FLOW, subtype)
    raw: dict[str, Any] = {}
    if subtype == "FILTER":
        raw["conditions"] = [{"left": "{{ item }}", "op": "gt", "right": 1}]
    params = resolve_parameters(definition, raw, {"input": [1, 2, 3]}, SERVICES)
    assert isinstance(params, LoopParameters | FilterParameters)
    assert params.items == [1, 2, 3]
    assert raw.keys() == ({"conditions"} if subtype == "FILTER" else set())  # left as given
    # A given `items` is still the one used.
    given = resolve_parameters(
        definition, {**raw, "items": "{{ input[0] }}"}, {"input": [1]}, SERVICES
    )
    assert isinstance(given, LoopParameters | FilterParameters)
    assert given.items == 1


def test_a_loop_without_items_iterates_its_input() -> None:
    wf = workflow(
        [manual(), node("loop", "FLOW", "LOOP"), set_node("greet", {"text": "{{ item }}"})],
        ("start", "main", "loop"),
        ("loop", "each", "greet"),
    )
    record = run(wf, ["ann", "bo", "cy"])
    assert record.status == "SUCCEEDED"
    assert [r.iteration for r in record.node_runs if r.node_id == "greet"] == [[0], [1], [2]]
    assert ran(record)["loop"].output == [{"text": "ann"}, {"text": "bo"}, {"text": "cy"}]


def test_a_filter_without_items_filters_its_input() -> None:
    condition = {"left": "{{ item }}", "op": "gt", "right": 1}
    wf = workflow(
        [manual(), node("keep", "FLOW", "FILTER", parameters={"conditions": [condition]})],
        ("start", "main", "keep"),
    )
    record = run(wf, [1, 2, 3])
    assert ran(record)["keep"].error is None
    assert record.output == [2, 3]


class DefaultsParameters(NodeParameters):
    greeting: str = "hello {{ input.name }}"
    later: Any = "{{ item }}"
    plain: str = "no expression"


class Defaults(Node[DefaultsParameters]):
    type = NodeType.ACTION
    subtype = "TEST_DEFAULTS"
    title = "Defaults"
    description = "test node"
    parameters_model = DefaultsParameters
    lazy_parameters = frozenset({"later"})

    def run(self, ctx: NodeContext, params: DefaultsParameters) -> NodeResult:
        return NodeResult(params.model_dump())


def test_expression_defaults_of_any_node_are_resolved_except_lazy_ones() -> None:
    params = resolve_parameters(Defaults(), {}, {"input": {"name": "ann"}}, SERVICES)
    assert params.model_dump() == {
        "greeting": "hello ann",
        "later": "{{ item }}",  # the node evaluates it itself
        "plain": "no expression",
    }
