"""How the launcher names and configures the state machines it creates: the stage's name prefix
(FLOWLANE_STATE_MACHINE_PREFIX) and the error log group (FLOWLANE_STATE_MACHINE_LOG_GROUP_ARN),
on the embedded runtime where moto creates and executes the machines for real."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from pydantic import ValidationError

from flowlane import config
from flowlane.config import ExecutionSettings
from flowlane.engine.compiler import NAME_LIMIT, compile_workflow
from flowlane.models.workflow import WorkflowCreate, WorkflowData
from flowlane.runtime import launcher as launcher_module
from flowlane.runtime.execution_control import read_execution
from flowlane.runtime.launcher import ExecutionLauncher
from flowlane.runtime.services import Services
from flowlane.store.executions import ExecutionItem
from tests.workflows import connections, manual, set_node

OWNER = "alice"
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}
STAGE_PREFIX = "flowlane-stage1-"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/flowlane/stage1/state-machines:*"
EXPECTED_LOGGING = {
    "level": "ERROR",
    "includeExecutionData": False,
    "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
}


def save(services: Services, steps: int = 2) -> WorkflowData:
    """A manual trigger and a chain of SET nodes, each adding one to `n`."""
    nodes = [manual(), set_node("s1", {"n": "{{ input.n + 1 }}"})]
    edges = [("start", "main", "s1")]
    for i in range(2, steps + 1):
        nodes.append(set_node(f"s{i}", {"n": f"{{{{ nodes.s{i - 1}.n + 1 }}}}"}))
        edges.append((f"s{i - 1}", "main", f"s{i}"))
    document = {"name": "machines", "nodes": nodes, "connections": connections(*edges)}
    created: WorkflowData = services.workflows.create(
        OWNER, WorkflowCreate.model_validate(document)
    )
    return created


def wait_final(services: Services, execution: ExecutionItem) -> Any:
    deadline = time.monotonic() + 60
    while True:
        record = read_execution(services, OWNER, execution.execution_id)
        if record.status.value in FINAL:
            return record
        assert time.monotonic() < deadline, f"execution still {record.status}"
        time.sleep(0.05)


def machine_name(arn: str | None) -> str:
    assert arn is not None, "the execution names no state machine"
    return arn.rsplit(":", 1)[1]


def machine_names(services: Services) -> list[str]:
    listed = services.clients.stepfunctions.list_state_machines()["stateMachines"]
    return [m["name"] for m in listed]


@pytest.fixture
def created_machines(services: Services) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every CreateStateMachine call the embedded client sends."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    events = services.clients.stepfunctions.meta.events
    events.register("provide-client-params.sfn.CreateStateMachine", record)
    yield calls
    events.unregister("provide-client-params.sfn.CreateStateMachine", record)


# -- the prefix --------------------------------------------------------------------------------


def test_a_workflow_runs_on_a_machine_named_with_the_stage_prefix(
    services: Services, created_machines: list[dict[str, Any]]
) -> None:
    workflow = save(services)
    launcher = ExecutionLauncher(services, ExecutionSettings(state_machine_prefix=STAGE_PREFIX))

    execution = launcher.execute(OWNER, workflow.id, {"n": 1})

    record = wait_final(services, execution)
    assert record.status.value == "SUCCEEDED"
    assert record.output == {"n": 3}
    name = machine_name(execution.state_machine_arn)
    assert name.startswith(f"{STAGE_PREFIX}{workflow.id}-")
    assert name in machine_names(services)
    assert [c["name"] for c in created_machines] == [name]
    # Nothing was created under the default prefix for it.
    assert not [n for n in machine_names(services) if n.startswith(f"flowlane-{workflow.id}")]


def test_two_prefixes_for_the_same_workflow_give_two_machines(services: Services) -> None:
    workflow = save(services)
    stage1 = ExecutionLauncher(services, ExecutionSettings(state_machine_prefix="flowlane-a-"))
    stage2 = ExecutionLauncher(services, ExecutionSettings(state_machine_prefix="flowlane-b-"))

    # The process-wide compile cache is keyed with the prefix: the second compile of the same
    # revision must not answer with the first prefix's machine.
    first = stage1.compile(OWNER, workflow)
    second = stage2.compile(OWNER, workflow)
    again = stage1.compile(OWNER, workflow)

    assert first.machine.name.startswith("flowlane-a-")
    assert second.machine.name.startswith("flowlane-b-")
    assert again.machine.name == first.machine.name
    # Same definition, only the prefix differs.
    assert first.machine.text == second.machine.text
    assert first.machine.name.removeprefix("flowlane-a-") == second.machine.name.removeprefix(
        "flowlane-b-"
    )

    # Both run, each on its own machine.
    one = stage1.execute(OWNER, workflow.id, {"n": 0})
    two = stage2.execute(OWNER, workflow.id, {"n": 10})
    assert wait_final(services, one).output == {"n": 2}
    assert wait_final(services, two).output == {"n": 12}
    assert machine_name(one.state_machine_arn) == first.machine.name
    assert machine_name(two.state_machine_arn) == second.machine.name
    assert {first.machine.name, second.machine.name} <= set(machine_names(services))


def test_the_longest_prefix_still_gives_a_valid_machine_name(services: Services) -> None:
    prefix = "p" * 39 + "-"
    workflow = save(services)
    launcher = ExecutionLauncher(services, ExecutionSettings(state_machine_prefix=prefix))

    execution = launcher.execute(OWNER, workflow.id, {"n": 1})

    name = machine_name(execution.state_machine_arn)
    assert name.startswith(prefix)
    assert len(name) <= NAME_LIMIT
    assert wait_final(services, execution).status.value == "SUCCEEDED"


def test_the_prefix_and_the_log_group_come_from_the_environment(
    services: Services, monkeypatch: pytest.MonkeyPatch, created_machines: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("FLOWLANE_STATE_MACHINE_PREFIX", "flowlane-fromenv-")
    monkeypatch.setenv("FLOWLANE_STATE_MACHINE_LOG_GROUP_ARN", LOG_GROUP)
    # The runtime fixture read (and cached) the settings before the variables were set.
    config.execution_settings.cache_clear()
    workflow = save(services)

    execution = ExecutionLauncher(services).execute(OWNER, workflow.id, {"n": 1})

    assert machine_name(execution.state_machine_arn).startswith("flowlane-fromenv-")
    assert created_machines[0]["loggingConfiguration"] == EXPECTED_LOGGING
    assert wait_final(services, execution).status.value == "SUCCEEDED"


@pytest.mark.parametrize(
    "prefix",
    ["bad prefix!", "", "p" * 41, "flowlane/stage1-", "flowlane.stage1-", "flöwlane-"],
)
def test_an_invalid_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ExecutionSettings(state_machine_prefix=prefix)

    assert refused.value.errors()[0]["loc"] == ("state_machine_prefix",)


def test_an_invalid_prefix_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWLANE_STATE_MACHINE_PREFIX", "bad prefix!")

    with pytest.raises(ValidationError):
        ExecutionSettings()


@pytest.mark.parametrize("prefix", ["flowlane-", "flowlane-prod-", "p" * 40, "Stage_2-"])
def test_valid_prefixes_are_kept(prefix: str) -> None:
    assert ExecutionSettings(state_machine_prefix=prefix).state_machine_prefix == prefix


# -- the log group -------------------------------------------------------------------------------


def test_with_a_log_group_new_machines_log_errors_without_execution_data(
    services: Services, created_machines: list[dict[str, Any]]
) -> None:
    workflow = save(services)
    settings = ExecutionSettings(
        state_machine_prefix=STAGE_PREFIX, state_machine_log_group_arn=LOG_GROUP
    )

    execution = ExecutionLauncher(services, settings).execute(OWNER, workflow.id, {"n": 1})

    # What the boto3 call sent...
    [created] = created_machines
    assert created["loggingConfiguration"] == EXPECTED_LOGGING
    assert (created["type"], created["roleArn"]) == (
        "STANDARD",
        launcher_module.EMBEDDED_ROLE,
    )
    # ...and what Step Functions (moto) keeps; the machine still runs.
    described = services.clients.stepfunctions.describe_state_machine(
        stateMachineArn=execution.state_machine_arn
    )
    assert described["loggingConfiguration"] == EXPECTED_LOGGING
    assert wait_final(services, execution).status.value == "SUCCEEDED"


def test_without_a_log_group_no_logging_configuration_is_sent(
    services: Services, created_machines: list[dict[str, Any]]
) -> None:
    workflow = save(services)
    launcher = ExecutionLauncher(services, ExecutionSettings(state_machine_log_group_arn=None))

    execution = launcher.execute(OWNER, workflow.id, {"n": 1})

    [created] = created_machines
    assert "loggingConfiguration" not in created
    described = services.clients.stepfunctions.describe_state_machine(
        stateMachineArn=execution.state_machine_arn
    )
    assert described.get("loggingConfiguration", {}).get("level", "OFF") == "OFF"
    assert wait_final(services, execution).status.value == "SUCCEEDED"


def test_the_parts_of_a_split_workflow_get_the_prefix_and_the_log_group(
    services: Services, monkeypatch: pytest.MonkeyPatch, created_machines: list[dict[str, Any]]
) -> None:
    # Given a compiler that splits past a few kilobytes (the real budget is 900 KB), so a small
    # workflow runs in parts: child machines started by the main one.
    small_budget = partial(compile_workflow, split_bytes=3_000)
    monkeypatch.setattr(launcher_module, "compile_workflow", small_budget)
    workflow = save(services, steps=6)
    settings = ExecutionSettings(
        state_machine_prefix=STAGE_PREFIX, state_machine_log_group_arn=LOG_GROUP
    )

    execution = ExecutionLauncher(services, settings).execute(OWNER, workflow.id, {"n": 0})

    names = [c["name"] for c in created_machines]
    assert len(names) >= 3, names  # at least two parts and the main machine
    assert all(n.startswith(STAGE_PREFIX) for n in names)
    assert all(c["loggingConfiguration"] == EXPECTED_LOGGING for c in created_machines)
    assert names[-1] == machine_name(execution.state_machine_arn)  # children first
    record = wait_final(services, execution)
    assert record.status.value == "SUCCEEDED"
    assert record.output == {"n": 6}
