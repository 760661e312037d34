"""The ASL compiler (DESIGN.md decisions 1-3): structure becomes native states, what has none
runs in layers, every Task is bounded, the output is deterministic JSONPath-mode ASL, and a
workflow past the quotas is split into parts or refused with its figures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowlane.engine.compiler import Target, compile_workflow
from flowlane.engine.compiler.plan import MAX_BRANCHES
from flowlane.errors import WorkflowTooLarge
from tests.workflows import manual, node, set_node, workflow

TARGET = Target(
    node_runner_arn="arn:aws:lambda:us-east-1:123456789012:function:flowlane-node-runner",
    state_machine_arn_prefix="arn:aws:states:us-east-1:123456789012:stateMachine:",
)


def if_node(node_id: str) -> dict[str, Any]:
    condition = {"left": "{{ input.x }}", "op": "gt", "right": 1}
    return node(node_id, "FLOW", "IF", parameters={"conditions": [condition]})


def states_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, nested ones included, by name."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(states_of(branch))
        if "ItemProcessor" in state:
            found.update(states_of(state["ItemProcessor"]))
    return found


def compiled(wf: Any, **kwargs: Any) -> dict[str, Any]:
    return compile_workflow(wf, TARGET, **kwargs).machine.definition


def chain(n: int) -> Any:
    nodes = [manual(), *(set_node(f"n{i}", {"i": i}) for i in range(n))]
    edges = [("start", "main", "n0"), *((f"n{i}", "main", f"n{i + 1}") for i in range(n - 1))]
    return workflow(nodes, *edges)


def test_a_chain_is_one_task_per_node_the_last_recording_the_end() -> None:
    definition = compiled(chain(3))
    assert definition["StartAt"] == "n0"
    states = definition["States"]
    assert [states[n]["Next"] for n in ("n0", "n1")] == ["n1", "n2"]
    last = states["n2"]
    assert last["End"] is True
    assert last["Parameters"]["finish"] is True
    assert last["Parameters"]["node_id"] == "n2"
    # The trigger's run is written when the execution starts: no state for it.
    assert "start" not in states
    assert definition["TimeoutSeconds"] == 3600


def test_every_task_is_bounded_and_retries_lambda_errors() -> None:
    wf = workflow(
        [
            manual(),
            node(
                "fetch",
                "ACTION",
                "HTTP_REQUEST",
                parameters={"url": "https://x.test", "timeout_seconds": 20},
            ),
            set_node("a", {}),
        ],
        ("start", "main", "fetch"),
        ("fetch", "main", "a"),
    )
    states = states_of(compiled(wf))
    tasks = [s for s in states.values() if s["Type"] == "Task"]
    assert tasks
    assert all(0 < s["TimeoutSeconds"] <= 900 for s in tasks)
    assert states["fetch"]["TimeoutSeconds"] < states["a"]["TimeoutSeconds"]
    assert all(
        any("Lambda.ServiceException" in r["ErrorEquals"] for r in s["Retry"]) for s in tasks
    )


def test_an_if_is_a_task_then_a_choice_on_the_port() -> None:
    wf = workflow(
        [manual(), if_node("d"), set_node("t", {}), set_node("f", {}), set_node("j", {})],
        ("start", "main", "d"),
        ("d", "true", "t"),
        ("d", "false", "f"),
        ("t", "main", "j"),
        ("f", "main", "j"),
    )
    states = compiled(wf)["States"]
    assert states["d"]["ResultSelector"] == {"port.$": "$.port"}
    assert states["d"]["ResultPath"] == "$.last"
    route = states[states["d"]["Next"]]
    assert route["Type"] == "Choice"
    rules = {c["StringEquals"]: c["Next"] for c in route["Choices"]}
    assert rules == {"true": "t", "false": "f"}
    assert all(c["Variable"] == "$.last.port" for c in route["Choices"])
    assert route["Default"] == "j"
    assert states["t"]["Next"] == states["f"]["Next"] == "j"


def test_a_branch_that_ends_is_routed_to_the_end_without_visiting_the_rest() -> None:
    wf = workflow(
        [manual(), if_node("d"), set_node("t", {}), set_node("t2", {})],
        ("start", "main", "d"),
        ("d", "true", "t"),
        ("t", "main", "t2"),
    )
    states = compiled(wf)["States"]
    route = states["d/route"]
    assert [c["Next"] for c in route["Choices"]] == ["t"]
    assert states[route["Default"]]["Parameters"]["phase"] == "finish"
    assert states["t2"]["Parameters"]["finish"] is True


def test_independent_branches_run_in_parallel_then_join() -> None:
    wf = workflow(
        [manual(), set_node("a", {}), set_node("b", {}), set_node("j", {})],
        ("start", "main", "a"),
        ("start", "main", "b"),
        ("a", "main", "j"),
        ("b", "main", "j"),
    )
    definition = compiled(wf)
    first = definition["States"][definition["StartAt"]]
    assert first["Type"] == "Parallel"
    assert sorted(b["StartAt"] for b in first["Branches"]) == ["a", "b"]
    assert first["ResultPath"] is None
    assert first["Next"] == "j"


def test_a_wide_fan_out_shares_at_most_forty_branches() -> None:
    leaves = [set_node(f"x{i}", {}) for i in range(100)]
    wf = workflow([manual(), *leaves], *(("start", "main", f"x{i}") for i in range(100)))
    definition = compiled(wf)
    parallel = definition["States"][definition["StartAt"]]
    assert len(parallel["Branches"]) == MAX_BRANCHES
    inside = states_of(definition)
    assert sum(1 for name in inside if name.startswith("x")) == 100


def test_a_graph_that_is_not_series_parallel_runs_in_layers() -> None:
    # The "N": a -> c, a -> d, b -> d, with a and b after a fan-out.
    wf = workflow(
        [manual(), *(set_node(n, {}) for n in "abcd")],
        ("start", "main", "a"),
        ("start", "main", "b"),
        ("a", "main", "c"),
        ("a", "main", "d"),
        ("b", "main", "d"),
    )
    definition = compiled(wf)
    layer1 = definition["States"][definition["StartAt"]]
    assert layer1["Type"] == "Parallel"
    assert sorted(b["StartAt"] for b in layer1["Branches"]) == ["a", "b"]
    layer2 = definition["States"][layer1["Next"]]
    assert sorted(b["StartAt"] for b in layer2["Branches"]) == ["c", "d"]


def test_a_loop_is_a_map_over_iterations_between_two_tasks() -> None:
    wf = workflow(
        [
            manual(),
            node("lp", "FLOW", "LOOP", parameters={"items": "{{ input }}", "max_concurrency": 4}),
            set_node("body", {"v": "{{ item }}"}),
            set_node("after", {}),
        ],
        ("start", "main", "lp"),
        ("lp", "each", "body"),
        ("body", "main", "lp"),
        ("lp", "done", "after"),
    )
    states = compiled(wf)["States"]
    assert states["lp"]["ResultSelector"] == {
        "iterations.$": "$.iterations",
        "max_concurrency.$": "$.max_concurrency",
    }
    each = states[states["lp"]["Next"]]
    assert each["Type"] == "Map"
    assert each["ItemsPath"] == "$.last.iterations"
    assert each["MaxConcurrencyPath"] == "$.last.max_concurrency"
    assert each["ItemSelector"]["iteration.$"] == "$$.Map.Item.Value"
    body = each["ItemProcessor"]["States"]["body"]
    assert body["Parameters"]["iteration.$"] == "$.iteration"
    done = states[each["Next"]]
    assert done["Parameters"]["phase"] == "done"
    assert done["Next"] == "after"


def test_a_wait_is_a_native_wait_state() -> None:
    wf = workflow(
        [manual(), node("w", "FLOW", "WAIT", parameters={"seconds": 5}), set_node("a", {})],
        ("start", "main", "w"),
        ("w", "main", "a"),
    )
    states = compiled(wf)["States"]
    wait = states[states["w"]["Next"]]
    assert wait == {"Type": "Wait", "SecondsPath": "$.last.wait_seconds", "Next": "w/done"}
    assert states["w/done"]["Next"] == "a"


def test_an_approval_waits_for_its_task_token_and_times_out_into_a_port() -> None:
    wf = workflow(
        [
            manual(),
            node("ask", "HUMAN_IN_THE_LOOP", "APPROVAL", parameters={"timeout_seconds": 600}),
            set_node("yes", {}),
            set_node("no", {}),
            set_node("late", {}),
        ],
        ("start", "main", "ask"),
        ("ask", "approved", "yes"),
        ("ask", "rejected", "no"),
        ("ask", "timeout", "late"),
    )
    states = compiled(wf)["States"]
    ask = states["ask"]
    assert ask["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert ask["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert ask["TimeoutSeconds"] == 600
    timeout = ask["Catch"][0]
    assert timeout["ErrorEquals"] == ["States.Timeout"]
    assert states[timeout["Next"]]["Parameters"]["phase"] == "timeout"
    assert states[timeout["Next"]]["Next"] == ask["Next"]
    route = states[ask["Next"]]
    assert {c["StringEquals"] for c in route["Choices"]} == {"approved", "rejected", "timeout"}


def test_retry_policy_is_a_retry_with_backoff_cap_and_jitter() -> None:
    wf = workflow(
        [
            manual(),
            set_node("a", {}, retry_policy={"max_tries": 4, "wait_between_tries": 3}),
        ],
        ("start", "main", "a"),
    )
    retry = compiled(wf)["States"]["a"]["Retry"][0]
    assert retry == {
        "ErrorEquals": ["NodeRetry"],
        "IntervalSeconds": 3,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }


def test_an_error_port_is_a_catch_and_stop_failures_are_recorded() -> None:
    wf = workflow(
        [manual(), set_node("a", {}), set_node("ok", {}), set_node("oops", {})],
        ("start", "main", "a"),
        ("a", "main", "ok"),
        ("a", "error", "oops"),
    )
    states = compiled(wf)["States"]
    a = states["a"]
    assert a["Parameters"]["error_port"] == "raise"
    assert a["Next"] == "ok"  # no Choice: a SET takes `main` unless it fails into `error`
    assert a["Catch"][0] == {"ErrorEquals": ["NodeErrorPort"], "ResultPath": None, "Next": "oops"}
    assert a["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
    record = states[a["Catch"][-1]["Next"]]
    assert record["Parameters"]["phase"] == "fail"
    assert record["Parameters"]["failure.$"] == "$.failure"
    assert states[record["Next"]]["Type"] == "Fail"


def test_the_output_is_deterministic_jsonpath_asl() -> None:
    wf = workflow(
        [manual(), if_node("d"), set_node("t", {}), set_node("f", {})],
        ("start", "main", "d"),
        ("d", "true", "t"),
        ("d", "false", "f"),
    )
    first = compile_workflow(wf, TARGET)
    second = compile_workflow(wf.model_copy(deep=True), TARGET)
    assert first.machine.text == second.machine.text
    assert first.machine.name == second.machine.name
    assert len(first.machine.name) <= 80
    text = first.machine.text
    assert "JSONata" not in text
    assert '"Assign"' not in text
    assert "QueryLanguage" not in text
    assert json.loads(text) == first.machine.definition


def test_stats_count_states_bytes_and_the_costliest_path() -> None:
    result = compile_workflow(chain(5), TARGET)
    assert result.stats["states"] == len(states_of(result.machine.definition))
    assert result.stats["bytes"] == len(result.machine.text.encode())
    assert result.stats["estimated_transitions"] == 5
    assert result.stats["machines"] == 1


def test_a_workflow_past_the_budgets_is_split_into_child_machines() -> None:
    result = compile_workflow(chain(30), TARGET, split_bytes=6_000)
    assert len(result.children) > 1
    parent = result.machine.definition
    parts = [s for s in parent["States"].values() if s["Type"] == "Task"]
    assert all(
        p["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
        for p in parts
        if "Parameters" in p and "StateMachineArn" in p["Parameters"]
    )
    arns = [
        p["Parameters"]["StateMachineArn"]
        for p in parts
        if "StateMachineArn" in p.get("Parameters", {})
    ]
    assert arns == [TARGET.state_machine_arn_prefix + c.name for c in result.children]
    # Every node is in exactly one part, and each part fits its budget.
    seen = [n for c in result.children for n in states_of(c.definition) if n.startswith("n")]
    assert sorted(seen) == sorted(f"n{i}" for i in range(30))
    assert all(c.bytes <= 6_000 for c in result.children)
    # After the last part the parent records the execution's end itself.
    last = parent["States"][f"#part-{len(result.children)}"]
    assert last["Next"] == "#finish"
    assert parent["States"]["#finish"]["Parameters"]["phase"] == "finish"


def test_a_parallel_too_large_for_a_part_runs_as_consecutive_parallels() -> None:
    leaves = [set_node(f"x{i}", {}) for i in range(60)]
    wf = workflow([manual(), *leaves], *(("start", "main", f"x{i}") for i in range(60)))
    result = compile_workflow(wf, TARGET, split_bytes=8_000)
    assert len(result.children) > 1
    parallels = [
        s
        for c in result.children
        for s in c.definition["States"].values()
        if s["Type"] == "Parallel"
    ]
    assert len(parallels) > 1
    seen = [n for c in result.children for n in states_of(c.definition) if n.startswith("x")]
    assert sorted(seen) == sorted(f"x{i}" for i in range(60))


def test_a_step_too_large_for_any_part_is_refused_with_figures() -> None:
    # A route cannot be cut: the branches of one IF, each ten nodes long.
    nodes = [manual(), if_node("d")]
    edges: list[tuple[str, str, str]] = [("start", "main", "d")]
    for port in ("true", "false"):
        previous = "d"
        for i in range(10):
            nodes.append(set_node(f"{port}{i}", {}))
            edges.append((previous, port if previous == "d" else "main", f"{port}{i}"))
            previous = f"{port}{i}"
    with pytest.raises(WorkflowTooLarge) as refused:
        compile_workflow(workflow(nodes, *edges), TARGET, split_bytes=5_000)
    assert refused.value.details["definition_bytes"] > 5_000
    assert refused.value.details["definition_budget"] == 5_000
    assert "history_events" in refused.value.details
